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


@pytest.mark.parametrize("seed", [4, 5])  # seed 4 once exposed an uncentred variance
def test_query_pass_in_float32_is_within_round_off_of_float64(seed):
    params = {k: v.detach() for k, v in params64(OMNIGLOT).items()}
    batch = image_batch(OMNIGLOT, tasks=1, shots=1, queries=15, seed=seed)
    x, y = batch.query_x[0], batch.query_y[0]
    _, truth = query.query_loss_and_grads(params, x, y, OMNIGLOT, per_class=15)
    p32 = {k: v.float() for k, v in params.items()}
    _, got = query.query_loss_and_grads(p32, x.float(), y, OMNIGLOT, per_class=15)
    for k in ("conv1.weight", "conv2.weight", "bn1.bias", "head.weight"):
        err = (got[k].double() - truth[k]).abs().max() / truth[k].abs().max()
        assert err < 1e-4, k


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
