"""The meta-gradient: task-batched = per-task, fo-MAML = second order minus its Hessian term,
float64 autograd = finite differences (smooth network), zero for conv biases before batch norm."""

import dataclasses

import pytest
import torch

from maml_ref.data.episodes import Episodes
from maml_ref.maml import (
    InnerLoop,
    adapt,
    adapt_each,
    meta_gradient,
    meta_gradient_per_task,
    task_loss,
)
from maml_ref.model import adapted_names, forward, forward_tasks, init_params
from maml_ref.protocols import Arch, get_protocol

OMNIGLOT = get_protocol("omniglot-5w1s").arch
TINY_CONV = Arch(kind="conv", image_size=8, filters=3, blocks=2, out_features=3, activation="tanh")
TINY_MLP = Arch(kind="mlp", in_channels=1, hidden=(6, 5), out_features=1, activation="tanh")
QUERY_MODES = ("grouped", "loop", "manual")


def image_batch(arch: Arch, tasks: int, shots: int, queries: int, seed: int = 0) -> Episodes:
    g = torch.Generator().manual_seed(seed)
    ways, size, c = arch.out_features, arch.image_size, arch.in_channels
    sx = torch.rand(tasks, ways * shots, c, size, size, generator=g, dtype=torch.float64)
    qx = torch.rand(tasks, ways * queries, c, size, size, generator=g, dtype=torch.float64)
    sy = torch.arange(ways).repeat_interleave(shots).repeat(tasks, 1)
    qy = torch.arange(ways).repeat_interleave(queries).repeat(tasks, 1)
    return Episodes(sx, sy, qx, qy)


def regression_batch(tasks: int, shots: int, seed: int = 0) -> Episodes:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(tasks, 2 * shots, 1, generator=g, dtype=torch.float64) * 10 - 5
    y = torch.sin(x + torch.rand(tasks, 1, 1, generator=g, dtype=torch.float64))
    return Episodes(x[:, :shots], y[:, :shots], x[:, shots:], y[:, shots:])


def params64(arch: Arch, seed: int = 0) -> dict[str, torch.Tensor]:
    params = init_params(arch, torch.Generator().manual_seed(seed))
    if arch.kind == "conv":  # non-zero shifts and biases so that every term is exercised
        g = torch.Generator().manual_seed(seed + 1)
        for k in params:
            if k.endswith("bias"):
                params[k] = 0.1 * torch.randn(params[k].shape, generator=g)
    return {k: v.double().requires_grad_() for k, v in params.items()}


def assert_close(a: dict, b: dict, rtol: float = 1e-9) -> None:
    """Each entry within rtol of its own scale, plus float64 round-off of the largest gradient
    (a conv bias before batch norm has true gradient 0 and gets round-off of that size)."""
    assert a.keys() == b.keys()
    overall = max(max(a[k].abs().max().item(), b[k].abs().max().item()) for k in a)
    for k in a:
        scale = max(a[k].abs().max().item(), b[k].abs().max().item(), 1e-12)
        assert (a[k] - b[k]).abs().max().item() <= rtol * scale + 1e-13 * max(overall, 1), k


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("query_mode", QUERY_MODES)
def test_batched_meta_gradient_equals_per_task_on_omniglot_net(first_order, query_mode):
    params = params64(OMNIGLOT)
    batch = image_batch(OMNIGLOT, tasks=3, shots=1, queries=2)
    inner = InnerLoop(steps=2, lr=0.4, first_order=first_order)
    ref, ref_loss = meta_gradient_per_task(params, batch, OMNIGLOT, inner)
    got, loss = meta_gradient(params, batch, OMNIGLOT, inner, query_mode)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_close(got, ref)
    assert any(v.abs().max() > 0 for v in got.values())


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_batched_meta_gradient_equals_per_task_on_sinusoid_mlp(first_order):
    arch = get_protocol("sinusoid-10shot").arch
    params = params64(arch)
    batch = regression_batch(tasks=4, shots=10)
    inner = InnerLoop(steps=3, lr=0.01, first_order=first_order)
    ref, _ = meta_gradient_per_task(params, batch, arch, inner)
    got, _ = meta_gradient(params, batch, arch, inner)
    assert_close(got, ref)


def test_first_order_is_second_order_without_the_second_derivative_term():
    """One inner step: d L_q(theta - a grad L_s(theta)) / d theta
    = v - a * H_s v with v = grad L_q at the adapted weights; fo-MAML keeps v only."""
    arch, lr = TINY_CONV, 0.3
    params = params64(arch)
    batch = image_batch(arch, tasks=1, shots=2, queries=2)
    sx, sy, qx, qy = batch.support_x[0], batch.support_y[0], batch.query_x[0], batch.query_y[0]
    names = adapted_names(arch)

    # v: the query gradient at the adapted weights, those taken as constants.
    adapted = adapt(params, sx, sy, arch, InnerLoop(1, lr), tasks=False, meta=False)
    leaves = {k: v.clone().requires_grad_() for k, v in adapted.items()}
    v = dict(
        zip(
            leaves,
            torch.autograd.grad(
                task_loss(forward(leaves, qx, arch), qy, 2, True), list(leaves.values())
            ),
            strict=True,
        )
    )

    # The second-derivative term: a * grad_theta <grad_adapted L_s(theta), v>.
    support_grads = torch.autograd.grad(
        task_loss(forward(params, sx, arch), sy, 2, True),
        [params[k] for k in names],
        create_graph=True,
    )
    dot = sum((g * v[k]).sum() for g, k in zip(support_grads, names, strict=True))
    hvp = dict(zip(params, torch.autograd.grad(dot, list(params.values())), strict=True))

    fo, _ = meta_gradient_per_task(params, batch, arch, InnerLoop(1, lr, first_order=True))
    so, _ = meta_gradient_per_task(params, batch, arch, InnerLoop(1, lr, first_order=False))
    assert_close(fo, v)
    assert_close(so, {k: v[k] - lr * hvp[k] for k in params})
    assert max((so[k] - fo[k]).abs().max() for k in names) > 1e-6  # the term is not negligible


def _meta_loss(params, batch, arch, inner) -> float:
    total = 0.0
    for i in range(batch.tasks):
        fast = adapt(
            params, batch.support_x[i], batch.support_y[i], arch, inner, tasks=False, meta=True
        )
        qy = batch.query_y[i]
        per_class = qy.shape[-1] // arch.out_features if qy.dtype == torch.long else 1
        loss = task_loss(
            forward(fast, batch.query_x[i], arch), qy, per_class, qy.dtype == torch.long
        )
        total += loss.detach().item()
    return total / batch.tasks


@pytest.mark.parametrize("arch", [TINY_CONV, TINY_MLP], ids=["conv-bn-tanh", "mlp-tanh"])
def test_second_order_meta_gradient_matches_finite_differences(arch):
    params = params64(arch)
    if arch.kind == "conv":
        batch = image_batch(arch, tasks=2, shots=2, queries=2)
    else:
        batch = regression_batch(tasks=2, shots=5)
    inner = InnerLoop(steps=2, lr=0.2 if arch.kind == "conv" else 0.05)
    grads, _ = meta_gradient(params, batch, arch, inner)
    eps = 1e-6
    g = torch.Generator().manual_seed(3)
    for k, p in params.items():
        for flat in torch.randperm(p.numel(), generator=g)[:4].tolist():
            shifted = {n: v.detach().clone().requires_grad_() for n, v in params.items()}
            with torch.no_grad():
                shifted[k].view(-1)[flat] += eps
            up = _meta_loss(shifted, batch, arch, inner)
            with torch.no_grad():
                shifted[k].view(-1)[flat] -= 2 * eps
            down = _meta_loss(shifted, batch, arch, inner)
            numeric = (up - down) / (2 * eps)
            assert grads[k].view(-1)[flat].item() == pytest.approx(numeric, rel=1e-5, abs=1e-8), (
                k,
                flat,
            )


@pytest.mark.parametrize("query_mode", ["per_task", *QUERY_MODES])
def test_conv_biases_before_batch_norm_get_zero_meta_gradient(query_mode):
    params = params64(OMNIGLOT)
    batch = image_batch(OMNIGLOT, tasks=3, shots=1, queries=3)
    inner = InnerLoop(steps=2, lr=0.4)
    if query_mode == "per_task":
        grads, _ = meta_gradient_per_task(params, batch, OMNIGLOT, inner)
    else:
        grads, _ = meta_gradient(params, batch, OMNIGLOT, inner, query_mode)
    scale = max(grads[f"conv{i}.weight"].abs().max().item() for i in range(1, 5))
    assert scale > 1e-3
    for i in range(1, 5):
        # Mathematically zero (batch norm removes any per-channel shift); float64 round-off only.
        assert grads[f"conv{i}.bias"].abs().max().item() <= 1e-12 * scale
        assert grads[f"bn{i}.bias"].abs().max().item() > 1e-6 * scale  # the shift does learn


def test_batch_norm_uses_each_tasks_own_statistics():
    """Scaling one task's images must not change another task's outputs (no cross-task stats)."""
    params = {k: v.detach() for k, v in params64(OMNIGLOT).items()}
    batch = image_batch(OMNIGLOT, tasks=2, shots=1, queries=1)
    expanded = {
        k: (v.expand(2, *v.shape) if k in adapted_names(OMNIGLOT) else v) for k, v in params.items()
    }
    a = forward_tasks(expanded, batch.support_x, OMNIGLOT)
    x2 = batch.support_x.clone()
    x2[1] *= 3.0
    b = forward_tasks(expanded, x2, OMNIGLOT)
    assert torch.equal(a[0], b[0])
    assert not torch.allclose(a[1], b[1])
    assert torch.allclose(a[0], forward(params, batch.support_x[0], OMNIGLOT), atol=1e-12)


def test_batch_norm_groups_equal_separate_batches():
    params = {k: v.detach() for k, v in params64(OMNIGLOT).items()}
    x = image_batch(OMNIGLOT, tasks=1, shots=3, queries=1).support_x[0]  # (15, 1, 28, 28)
    grouped = forward(params, x, OMNIGLOT, bn_groups=3)
    separate = torch.cat([forward(params, x[i : i + 5], OMNIGLOT) for i in (0, 5, 10)])
    assert torch.allclose(grouped, separate, atol=1e-12)
    assert not torch.allclose(grouped, forward(params, x, OMNIGLOT))


def test_arch_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        forward(
            params64(TINY_MLP),
            torch.zeros(2, 1, dtype=torch.float64),
            dataclasses.replace(TINY_MLP, activation="gelu"),
        )


MINI_POOL = get_protocol("miniimagenet-5w1s").arch


@pytest.mark.parametrize(
    "arch, shots", [(OMNIGLOT, 1), (OMNIGLOT, 3), (MINI_POOL, 2), (TINY_CONV, 2)],
    ids=["omniglot-1shot", "omniglot-3shot", "miniimagenet-pool", "tanh-autograd"],
)  # fmt: skip
def test_adapt_each_equals_batched_adaptation_in_float64(arch, shots):
    params = {k: v.detach() for k, v in params64(arch).items()}
    batch = image_batch(arch, tasks=3, shots=shots, queries=1, seed=3)
    inner = InnerLoop(3, 0.4)
    got = adapt_each(params, batch.support_x, batch.support_y, arch, inner)
    ref = adapt(params, batch.support_x, batch.support_y, arch, inner, tasks=True, meta=False)
    assert set(got) == set(ref)
    assert_close(got, ref, rtol=1e-10)
    assert all(not v.requires_grad for v in got.values())
    moved = got["conv1.weight"] - params["conv1.weight"]
    assert moved.abs().min() > 0 and not torch.equal(moved[0], moved[1])  # each task its own


def test_adapt_each_falls_back_to_autograd_for_the_mlp():
    params = {k: v.detach() for k, v in params64(TINY_MLP).items()}
    batch = regression_batch(tasks=2, shots=4)
    inner = InnerLoop(2, 0.01)
    got = adapt_each(params, batch.support_x, batch.support_y, TINY_MLP, inner)
    ref = adapt(params, batch.support_x, batch.support_y, TINY_MLP, inner, tasks=True, meta=False)
    assert_close(got, ref, rtol=1e-12)
