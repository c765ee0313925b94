"""MAML and first-order MAML as pure functions over parameter dicts.

Losses are the official ones (cbfinn/maml ``utils.py``): classification sums the per-example
cross-entropy and divides by K, the support examples per class (``xent(...) /
FLAGS.update_batch_size``), for the support loss and for the query loss alike: with 15 queries
per class (miniImageNet training) the query loss is the sum over the 75 queries divided by K, not
a mean, which sets the scale the official meta-gradient clipping (+-10) acts on. A step of size
alpha on the support loss equals alpha * ways on its mean cross-entropy. Regression is the mean
squared error. The meta-objective is the mean
over tasks of the query loss after adaptation (official ``total_losses2``).

Two implementations of the same meta-gradient:
- ``meta_gradient_per_task``: a plain loop, one task at a time (the reference the tests use);
- ``meta_gradient``: all tasks at once (``model.forward_tasks``: grouped convolutions), the query
  pass either grouped too or as a loop over tasks, whichever is faster for its batch size.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from . import query
from .data.episodes import Episodes
from .model import Params, adapted_names, forward, forward_tasks, forward_tasks_loop
from .parallel import default_workers, threaded_map
from .protocols import Arch

# Query images per task from which, on the CPU, one task at a time (the hand-written pass, or the
# autograd loop for networks it does not handle) beats grouped convolutions over all tasks.
MANY_QUERIES = 40


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
    """K of the official loss: the examples per class of a support set ``y`` (..., ways * K)."""
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


def adapt_each(params: Params, x: Tensor, y: Tensor, arch: Arch, inner: InnerLoop) -> Params:
    """Adapted parameters of T tasks, computed one task at a time with no autograd tape (the
    hand-written pass of ``query.query_loss_and_grads`` on each support set, for networks it
    handles, on the CPU: in float64 twice as fast there as grouped autograd, 1.0 s against 1.9 s
    per 100 Omniglot 5-way 1-shot episodes; else ``adapt`` over all tasks, the path training
    runs on an accelerator). Nothing is differentiable: for evaluation.
    x (T, B, ...), y (T, B); the result's adapted entries have a leading task dimension T, the
    others are ``params``' own. The same values as ``adapt(..., tasks=True, meta=False)``, to
    round-off (compared in float64 by the tests)."""
    if not query.supports(arch) or x.device.type != "cpu":
        return adapt(params, x, y, arch, inner, tasks=True, meta=False)
    names = adapted_names(arch)
    per_class = _per_class(y, arch.out_features)
    base = {k: v.detach() for k, v in params.items()}
    tasks = []
    for i in range(x.shape[0]):
        fast = base
        for _ in range(inner.steps):
            _, grads = query.query_loss_and_grads(fast, x[i], y[i], arch, per_class)
            fast = {**fast, **{k: fast[k] - inner.lr * grads[k] for k in names}}
        tasks.append(fast)
    return {k: (torch.stack([t[k] for t in tasks]) if k in names else v) for k, v in base.items()}


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
            _per_class(batch.support_y[i], arch.out_features),  # K, whatever the query count
            classification,
        )
        loss = loss / batch.tasks
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        total = [a + (g if g is not None else 0) for a, g in zip(total, grads, strict=True)]
        meta_loss += float(loss.detach())
    return dict(zip(params, total, strict=True)), meta_loss


def meta_gradient(
    params: Params,
    batch: Episodes,
    arch: Arch,
    inner: InnerLoop,
    query_mode: str = "auto",
    workers: int | None = None,
) -> tuple[dict[str, Tensor], float]:
    """Task-batched meta-gradient and meta-loss (the same quantities as the per-task path).

    query_mode: how the query pass runs: "manual" (``query.query_loss_and_grads``, one task at a
    time, no autograd tape), "loop" (autograd, one task at a time), "grouped" (autograd, all tasks
    in one grouped pass) or "auto" (the fastest for the network, batch and device).
    workers: the tasks are split into this many contiguous chunks, computed in parallel threads
    of one intra-op thread each; the chunks' gradients are summed in order. On the CPU this beats
    spreading each (small) kernel over the cores. Default: ``torch.get_num_threads()`` on the
    CPU, 1 on an accelerator. The result depends on it only through float summation order.
    """
    if query_mode == "auto":
        query_mode = _auto_query_mode(arch, batch)
    if query_mode not in ("manual", "loop", "grouped"):
        raise ValueError(f"unknown query_mode {query_mode!r}")
    if query_mode == "manual" and not query.supports(arch):
        raise ValueError(f"query_mode 'manual' does not handle {arch.kind}/{arch.activation}")
    if workers is None:
        workers = default_workers(batch.query_x.device)

    def run(bound: tuple[int, int]) -> tuple[dict[str, Tensor], float]:
        part = batch.slice(*bound)
        return _chunk_meta_gradient(params, part, arch, inner, query_mode, batch.tasks)

    with threaded_map(run, _chunks(batch.tasks, workers), workers) as results:
        parts = list(results)
    grads = dict(parts[0][0])
    for part, _ in parts[1:]:  # in chunk order: the same sum on every run
        grads = {k: grads[k] + part[k] for k in grads}
    return grads, sum(loss for _, loss in parts)


def _auto_query_mode(arch: Arch, batch: Episodes) -> str:
    many = batch.query_x.device.type == "cpu" and batch.query_x.shape[1] >= MANY_QUERIES
    if many and query.supports(arch):
        return "manual"
    return "loop" if many and arch.kind == "conv" else "grouped"


def _chunks(tasks: int, workers: int) -> list[tuple[int, int]]:
    """[start, stop) of min(tasks, workers) contiguous chunks of near-equal size."""
    n = max(1, min(tasks, workers))
    edges = [round(i * tasks / n) for i in range(n + 1)]
    return list(itertools.pairwise(edges))


def _chunk_meta_gradient(
    params: Params, batch: Episodes, arch: Arch, inner: InnerLoop, query_mode: str, total: int
) -> tuple[dict[str, Tensor], float]:
    """This chunk's share of the meta-gradient: its tasks' query losses divided by ``total``."""
    fast = adapt(params, batch.support_x, batch.support_y, arch, inner, tasks=True, meta=True)
    qy = batch.query_y
    per_class = _per_class(batch.support_y, arch.out_features)  # K, whatever the query count
    leaves = list(params.values())
    if query_mode == "manual":
        names = adapted_names(arch)
        losses, per_task = [], []
        for i in range(batch.tasks):
            task = {k: (v[i] if k in names else v).detach() for k, v in fast.items()}
            loss_i, g = query.query_loss_and_grads(task, batch.query_x[i], qy[i], arch, per_class)
            losses.append(float(loss_i))
            per_task.append(g)
        # The query gradients enter as the cotangents of the adapted weights; parameters the
        # inner loop leaves alone (the batch-norm shifts) also get theirs directly.
        outputs = [fast[k] for k in names]
        cotangents = [torch.stack([g[k] for g in per_task]) / total for k in names]
        grads = torch.autograd.grad(outputs, leaves, cotangents, allow_unused=True)
        direct = {k: sum(g[k] for g in per_task) / total for k in params if k not in names}
        grads = [
            (g if g is not None else torch.zeros_like(v)) + direct.get(k, 0)
            for k, g, v in zip(params, grads, leaves, strict=True)
        ]
        return dict(zip(params, grads, strict=True)), sum(losses) / total
    fwd: Callable[..., Tensor] = forward_tasks_loop if query_mode == "loop" else forward_tasks
    out = fwd(fast, batch.query_x, arch)  # (T, Q, O)
    loss = task_loss(out, qy, per_class, qy.dtype == torch.long) / total
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [
        g if g is not None else torch.zeros_like(v) for g, v in zip(grads, leaves, strict=True)
    ]
    return dict(zip(params, grads, strict=True)), float(loss.detach())
