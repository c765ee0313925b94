"""MAML and first-order MAML as pure functions over parameter dicts.

Losses are the official ones (cbfinn/maml ``utils.py``): classification sums the per-example
cross-entropy and divides by the examples per class (so a step of size alpha equals alpha * ways
on the mean cross-entropy); regression is the mean squared error. The meta-objective is the mean
over tasks of the query loss after adaptation (official ``total_losses2``).

Two implementations of the same meta-gradient:
- ``meta_gradient_per_task``: a plain loop, one task at a time (the reference the tests use);
- ``meta_gradient``: all tasks at once (``model.forward_tasks``: grouped convolutions), the query
  pass either grouped too or as a loop over tasks, whichever is faster for its batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .data.episodes import Episodes
from .model import Params, adapted_names, forward, forward_tasks, forward_tasks_loop
from .protocols import Arch

LOOP_QUERY_MIN = 40  # query images per task from which the loop beats grouped convs on CPU


@dataclass(frozen=True)
class InnerLoop:
    """How a task adapts: steps of plain gradient descent on its support loss."""

    steps: int  # gradient steps
    lr: float  # step size, on the official loss
    first_order: bool = False  # treat the inner gradients as constants (fo-MAML)


def task_loss(out: Tensor, y: Tensor, per_class: int, classification: bool) -> Tensor:
    """Official loss, summed over tasks when a leading task dimension is present.
    out (..., B, O); y (..., B) labels or (..., B, 1) targets."""
    if classification:
        ce = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="sum")
        return ce / per_class
    return (out - y).square().mean(dim=(-2, -1)).sum()


def _per_class(y: Tensor, ways: int) -> int:
    return max(1, y.shape[-1] // ways) if y.dtype == torch.long else 1


def adapt(
    params: Params,
    x: Tensor,
    y: Tensor,
    arch: Arch,
    inner: InnerLoop,
    *,
    tasks: bool,
    meta: bool,
    bn_groups: int = 1,
) -> Params:
    """Adapted parameters after ``inner.steps`` steps on (x, y).

    tasks: x has a leading task dimension T (the result's adapted entries then have one too).
    meta: keep the graph to ``params`` (for a meta-gradient); else everything is detached.
    """
    classification = y.dtype == torch.long
    per_class = _per_class(y, arch.out_features)
    names = adapted_names(arch)
    base = params if meta else {k: v.detach().requires_grad_() for k, v in params.items()}
    if tasks:
        t = x.shape[0]
        fast = {k: (v.expand(t, *v.shape) if k in names else v) for k, v in base.items()}
        fwd = forward_tasks
    else:
        fast = dict(base)
        fwd = forward
    second_order = meta and not inner.first_order
    with torch.enable_grad():
        for _ in range(inner.steps):
            loss = task_loss(fwd(fast, x, arch, bn_groups), y, per_class, classification)
            grads = torch.autograd.grad(loss, [fast[k] for k in names], create_graph=second_order)
            fast = {
                **fast,
                **{k: fast[k] - inner.lr * g for k, g in zip(names, grads, strict=True)},
            }
    if not meta:
        fast = {k: v.detach() for k, v in fast.items()}
    return fast


def meta_gradient_per_task(
    params: Params, batch: Episodes, arch: Arch, inner: InnerLoop
) -> tuple[dict[str, Tensor], float]:
    """Reference: meta-gradient and meta-loss, one task at a time."""
    leaves = list(params.values())
    total = [torch.zeros_like(v) for v in leaves]
    meta_loss = 0.0
    classification = batch.query_y.dtype == torch.long
    for i in range(batch.tasks):
        fast = adapt(
            params, batch.support_x[i], batch.support_y[i], arch, inner, tasks=False, meta=True
        )
        qy = batch.query_y[i]
        loss = task_loss(
            forward(fast, batch.query_x[i], arch),
            qy,
            _per_class(qy, arch.out_features),
            classification,
        )
        loss = loss / batch.tasks
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        total = [a + (g if g is not None else 0) for a, g in zip(total, grads, strict=True)]
        meta_loss += float(loss.detach())
    return dict(zip(params, total, strict=True)), meta_loss


def meta_gradient(
    params: Params, batch: Episodes, arch: Arch, inner: InnerLoop, query_mode: str = "auto"
) -> tuple[dict[str, Tensor], float]:
    """Task-batched meta-gradient and meta-loss (the same quantities as the per-task path).

    query_mode: "grouped", "loop" or "auto" (loop when a task has >= LOOP_QUERY_MIN query images).
    """
    fast = adapt(params, batch.support_x, batch.support_y, arch, inner, tasks=True, meta=True)
    q = batch.query_x.shape[1]
    if query_mode == "auto":
        query_mode = "loop" if arch.kind == "conv" and q >= LOOP_QUERY_MIN else "grouped"
    fwd: Callable[..., Tensor] = forward_tasks_loop if query_mode == "loop" else forward_tasks
    qy = batch.query_y
    classification = qy.dtype == torch.long
    out = fwd(fast, batch.query_x, arch)  # (T, Q, O)
    loss = task_loss(out, qy, _per_class(qy, arch.out_features), classification) / batch.tasks
    leaves = list(params.values())
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [
        g if g is not None else torch.zeros_like(v) for g, v in zip(grads, leaves, strict=True)
    ]
    return dict(zip(params, grads, strict=True)), float(loss.detach())
