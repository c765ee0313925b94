"""The hand-written query pass and the threaded task split: the same numbers as autograd."""

import pytest
import torch

from maml_ref import query
from maml_ref.maml import InnerLoop, meta_gradient, meta_gradient_per_task, task_loss
from maml_ref.model import adapted_names, forward, forward_tasks
from maml_ref.protocols import get_protocol
from maml_ref.train import TrainConfig

from .test_meta_gradient import OMNIGLOT, assert_close, image_batch, params64

MINI = get_protocol("miniimagenet-5w1s").arch


def autograd_query(params, x, y, arch, per_class):
    leaves = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    loss = task_loss(forward(leaves, x, arch), y, per_class, True)
    return loss, dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values())), strict=True))


@pytest.mark.parametrize("arch", [OMNIGLOT, MINI], ids=["omniglot-stride", "miniimagenet-pool"])
def test_query_pass_equals_autograd_in_float64(arch):
    params = {k: v.detach() for k, v in params64(arch).items()}
    batch = image_batch(arch, tasks=1, shots=1, queries=3)
    x, y = batch.query_x[0], batch.query_y[0]
    loss, grads = query.query_loss_and_grads(params, x, y, arch, per_class=3)
    ref_loss, ref = autograd_query(params, x, y, arch, per_class=3)
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
    assert_close(grads, ref)
    scale = grads["conv2.weight"].abs().max().item()
    for i in range(1, arch.blocks + 1):  # a bias before batch norm: zero to round-off
        assert grads[f"conv{i}.bias"].abs().max().item() <= 1e-12 * scale


def _relu_sides(monkeypatch, record: list | None = None, replay: list | None = None):
    """Record the ReLU masks of one hand-written pass, or make a pass use recorded ones."""
    real = query._relu_backward

    def relu_backward(g, out, in_place):
        if replay is not None:
            return g * replay.pop(0).to(g.dtype)
        record.append(out > 0)
        return real(g, out, in_place)

    monkeypatch.setattr(query, "_relu_backward", relu_backward)


# Relative float32 error of the hand-written gradients. Its longest sums run over the N = 75 *
# 14 * 14 = 14,700 patch positions of the first block (Q = g^T Pc; S is summed in float64):
# blocked summation leaves about sqrt(N) u = 121 * 2^-24 = 7e-6 relative, compounded through the
# four blocks' backward (each adds about the same). 3e-5 is that, with 4x room; seeds 0-199 gave
# at most 5.1e-6 on 1 thread and 8.0e-6 on 2 (which sum in another order), 2026-12-01.
# The float64 reference is taken on the float32 pass's side of every ReLU kink: a pre-activation
# within round-off of 0 (6.6e-7 on seed 0) can come out on either side, and the gradient jumps
# there by a sizeable part of its largest entry: not round-off but another, equally valid
# subgradient. Unmatched, over the same 200 seeds, such jumps reach 5.2e-2 for this pass and
# 2.1e-2 for plain float32 autograd (which flips on other seeds): a bound relative to autograd's
# error would measure which of the two happened to land on a kink, not the accuracy.
FLOAT32_GRAD_BOUND = 3e-5


def float32_query_pass_error(seed, monkeypatch) -> dict[str, float]:
    params = {k: v.detach() for k, v in params64(OMNIGLOT).items()}
    p32 = {k: v.float() for k, v in params.items()}
    batch = image_batch(OMNIGLOT, tasks=1, shots=1, queries=15, seed=seed)
    x, y = batch.query_x[0].float(), batch.query_y[0]
    masks: list = []
    with monkeypatch.context() as m:
        _relu_sides(m, record=masks)
        _, got = query.query_loss_and_grads(p32, x, y, OMNIGLOT, per_class=15)
    with monkeypatch.context() as m:
        _relu_sides(m, replay=masks)
        p64 = {k: v.double() for k, v in p32.items()}  # the float32 inputs, exactly
        _, truth = query.query_loss_and_grads(p64, x.double(), y, OMNIGLOT, per_class=15)
    assert masks == []  # every ReLU of the float64 pass took the float32 pass's side
    return {
        k: ((got[k].double() - truth[k]).abs().max() / truth[k].abs().max()).item()
        for k in ("conv1.weight", "conv2.weight", "conv4.weight", "bn1.bias", "head.weight")
    }


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("seed", [0, 4, 5])  # 0 and 4 put a ReLU input within round-off of 0
def test_query_pass_in_float32_is_within_round_off_of_float64(seed, threads, monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        errors = float32_query_pass_error(seed, monkeypatch)
    finally:
        torch.set_num_threads(before)
    assert max(errors.values()) < FLOAT32_GRAD_BOUND, errors


def test_batched_first_block_keeps_each_tasks_statistics():
    params = {k: v.detach() for k, v in params64(OMNIGLOT).items()}
    batch = image_batch(OMNIGLOT, tasks=3, shots=2, queries=1)
    names = adapted_names(OMNIGLOT)
    g = torch.Generator().manual_seed(9)
    per_task = {  # different weights per task, so that a mix-up would show
        k: (v + 0.05 * torch.randn(3, *v.shape, generator=g, dtype=v.dtype) if k in names else v)
        for k, v in params.items()
    }
    out = forward_tasks(per_task, batch.support_x, OMNIGLOT)
    for i in range(3):
        one = {k: (v[i] if k in names else v) for k, v in per_task.items()}
        assert torch.allclose(out[i], forward(one, batch.support_x[i], OMNIGLOT), atol=1e-10)


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_threaded_task_split_gives_the_per_task_meta_gradient(workers, first_order):
    params = params64(OMNIGLOT)
    batch = image_batch(OMNIGLOT, tasks=5, shots=1, queries=2, seed=2)
    inner = InnerLoop(steps=1, lr=0.4, first_order=first_order)
    ref, ref_loss = meta_gradient_per_task(params, batch, OMNIGLOT, inner)
    threads = torch.get_num_threads()
    got, loss = meta_gradient(params, batch, OMNIGLOT, inner, "manual", workers=workers)
    assert torch.get_num_threads() == threads  # the caller's setting is left as it was
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_close(got, ref)


def test_threaded_split_is_repeatable_bit_for_bit():
    params = {k: v.float().detach().requires_grad_() for k, v in params64(OMNIGLOT).items()}
    batch = image_batch(OMNIGLOT, tasks=6, shots=1, queries=8, seed=5)
    batch = type(batch)(
        batch.support_x.float(), batch.support_y, batch.query_x.float(), batch.query_y
    )
    a, _ = meta_gradient(params, batch, OMNIGLOT, InnerLoop(1, 0.4), workers=2)
    b, _ = meta_gradient(params, batch, OMNIGLOT, InnerLoop(1, 0.4), workers=2)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_auto_mode_uses_the_hand_written_pass_for_many_queries_on_the_cpu(monkeypatch):
    calls = []
    real = query.query_loss_and_grads
    monkeypatch.setattr(
        query, "query_loss_and_grads", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    params = params64(OMNIGLOT)
    meta_gradient(params, image_batch(OMNIGLOT, 2, 1, 1), OMNIGLOT, InnerLoop(1, 0.4))
    assert calls == []  # 5 query images: the batched autograd pass
    meta_gradient(params, image_batch(OMNIGLOT, 2, 1, 8), OMNIGLOT, InnerLoop(1, 0.4))
    assert len(calls) == 2  # 40 query images per task: by hand, one call per task


def test_it_refuses_what_the_hand_written_pass_does_not_handle():
    mlp = get_protocol("sinusoid-10shot")
    with pytest.raises(ValueError, match="conv"):
        TrainConfig.from_protocol(mlp, query_mode="manual")
    with pytest.raises(ValueError, match="does not handle"):
        query.query_loss_and_grads({}, torch.zeros(1, 1), torch.zeros(1), mlp.arch, 1)
    params = params64(OMNIGLOT)
    with pytest.raises(ValueError, match="workers"):
        meta_gradient(
            params, image_batch(OMNIGLOT, 2, 1, 1), OMNIGLOT, InnerLoop(1, 0.4), workers=0
        )
    with pytest.raises(ValueError, match="query_mode"):
        meta_gradient(params, image_batch(OMNIGLOT, 2, 1, 1), OMNIGLOT, InnerLoop(1, 0.4), "fast")


def test_batched_first_block_in_float32_is_within_round_off_of_float64():
    params = {k: v.detach() for k, v in params64(OMNIGLOT).items()}
    batch = image_batch(OMNIGLOT, tasks=2, shots=3, queries=1, seed=4)
    names = adapted_names(OMNIGLOT)
    expand = {k: (v.expand(2, *v.shape) if k in names else v) for k, v in params.items()}
    truth = forward_tasks(expand, batch.support_x, OMNIGLOT)
    got = forward_tasks(
        {k: v.float() for k, v in expand.items()}, batch.support_x.float(), OMNIGLOT
    )
    assert ((got.double() - truth).abs().max() / truth.abs().max()).item() < 1e-5
