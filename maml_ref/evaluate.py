"""Evaluation of an initialisation on a protocol's fixed test episodes.

The episodes come from ``protocol.eval_seed`` (the first n of the protocol's episodes when fewer
are asked for); each is adapted with the protocol's test-time inner loop, then scored on its query
set: accuracy in percent, or the mean squared error. Batch norm uses batch statistics as in the
official code; ``transductive=False`` classifies each query example in a batch made of the
support set and that one example, so that no query example sees another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .data.episodes import ClassPool, EpisodeIndex, Episodes, build_episodes, sample_indices
from .data.sinusoid import sample_sinusoid
from .maml import InnerLoop, adapt_each
from .model import Params, adapted_names, forward_tasks
from .parallel import default_workers, threaded_map
from .protocols import Protocol

Progress = Callable[[str, int, int], None]
IMAGES_PER_CHUNK = 2000  # images in one evaluation pass; fixed, so results do not depend on memory


@dataclass(frozen=True)
class FixedEpisodes:
    """The test episodes of a protocol: indices (image datasets) or the tensors (sinusoid)."""

    count: int  # episodes
    fingerprint: str  # sha256 of what defines them
    index: EpisodeIndex | None  # image datasets
    tensors: Episodes | None  # sinusoid

    def chunk(self, pool: ClassPool | None, start: int, stop: int, shots: int) -> Episodes:
        if self.tensors is not None:
            return self.tensors.slice(start, stop)
        if pool is None or self.index is None:
            raise ValueError("image episodes need their class pool")
        part = EpisodeIndex(
            *(
                a[start:stop]
                for a in (self.index.classes, self.index.rotations, self.index.examples)
            )
        )
        return build_episodes(pool, part, shots)


def fixed_episodes(
    protocol: Protocol, pool: ClassPool | None, episodes: int | None = None
) -> FixedEpisodes:
    """The first ``episodes`` (default: all) of the protocol's fixed test episodes."""
    n = protocol.test_episodes if episodes is None else episodes
    if n < 1:
        raise ValueError(f"episodes must be at least 1, got {n}")
    total = max(n, protocol.test_episodes)
    rng = np.random.default_rng(protocol.eval_seed)
    if protocol.dataset == "sinusoid":
        eps = sample_sinusoid(rng, total, protocol.shots, protocol.test_queries).slice(0, n)
        h = hashlib.sha256()
        for t in (eps.support_x, eps.support_y, eps.query_x, eps.query_y):
            h.update(t.numpy().tobytes())
        return FixedEpisodes(n, h.hexdigest(), None, eps)
    if pool is None:
        raise ValueError(f"{protocol.name} needs the test class pool")
    idx = sample_indices(
        rng,
        pool.n_classes,
        pool.per_class,
        total,
        protocol.ways,
        protocol.shots,
        protocol.test_queries,
        protocol.rotate,
    )
    idx = EpisodeIndex(idx.classes[:n], idx.rotations[:n], idx.examples[:n])
    return FixedEpisodes(n, idx.fingerprint(), idx, None)


def _chunk_size(protocol: Protocol, transductive: bool) -> int:
    s = protocol.ways * protocol.shots
    q = protocol.ways * protocol.test_queries
    per_episode = s + q if transductive else s + q * (s + 1)
    return max(1, min(100, IMAGES_PER_CHUNK // per_episode))


def _query_outputs(fast: Params, batch: Episodes, protocol: Protocol, transductive: bool) -> Tensor:
    arch = protocol.arch
    if transductive or arch.kind != "conv":
        return forward_tasks(fast, batch.query_x, arch)  # (T, Q, O)
    # Non-transductive: each query example gets its own batch [support set, that example], run
    # as its own "task" with its episode's adapted weights (native per-task batch norm).
    t, qn = batch.query_x.shape[:2]
    s = batch.support_x.shape[1]
    sx = batch.support_x.unsqueeze(1).expand(
        t, qn, *batch.support_x.shape[1:]
    )  # (T, Qn, S, C, H, W)
    x = torch.cat([sx, batch.query_x.unsqueeze(2)], dim=2)  # (T, Qn, S+1, C, H, W)
    names = set(adapted_names(arch))
    rep = {k: (v.repeat_interleave(qn, 0) if k in names else v) for k, v in fast.items()}
    out = forward_tasks(rep, x.reshape(t * qn, s + 1, *x.shape[3:]), arch)  # (T*Qn, S+1, O)
    return out[:, -1].reshape(t, qn, -1)  # (T, Qn, O): each query example's own output


def episode_outputs(
    params: Params, batch: Episodes, protocol: Protocol, inner: InnerLoop, transductive: bool
) -> Tensor:
    """Query outputs of a chunk of episodes as the evaluation computes them: each episode adapted
    in float64 from the float32 initialisation (``maml.adapt_each``), the adapted weights
    rounded to float32, and the query forward in float32. params: float32, as stored.
    Returns (T, Q, O) float32.

    Why float64 for the adaptation: its steps amplify round-off, and a step that puts a
    pre-activation within round-off of a ReLU kink lets float32 take the other side, so that the
    adapted weights, and the logits, jump (by up to 0.6 seen for plain float32 autograd, which
    then changed a prediction; which float32 implementation draws such an episode is chance). In
    float64 neither shows at float32's scale; what is left is the one float32 forward pass of
    the query set, whose round-off is not amplified and at whose kinks the output is continuous
    (docs/maml_ref.md: the per-episode logit error of the whole evaluation is below plain float32
    autograd's median)."""
    p64 = {k: v.double() for k, v in params.items()}
    fast = adapt_each(p64, batch.support_x.double(), batch.support_y, protocol.arch, inner)
    fast = {k: v.to(torch.float32) for k, v in fast.items()}
    with torch.no_grad():
        return _query_outputs(fast, batch, protocol, transductive)


def scores_of(out: Tensor, y: Tensor, classification: bool) -> Tensor:
    """Per-episode accuracy in percent, or mean squared error. out (T, Q, O)."""
    if classification:
        return (out.argmax(-1) == y).to(torch.float64).mean(-1) * 100.0  # (T,)
    return (out - y).square().to(torch.float64).mean(dim=(-2, -1))  # (T,)


def evaluate_params(
    params: Params,
    protocol: Protocol,
    pool: ClassPool | None,
    *,
    transductive: bool = True,
    episodes: int | None = None,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    inner_steps: int | None = None,
    workers: int | None = None,
) -> tuple[list[float], FixedEpisodes]:
    """Per-episode scores of ``params`` adapted on each fixed test episode, and the episodes.

    workers: threads of one intra-op thread each that take the fixed chunks of episodes in turn
    (default: ``torch.get_num_threads()`` on the CPU, 1 on an accelerator). With more than one,
    every chunk runs on one intra-op thread whichever worker takes it, so the scores are the same
    for any count above 1; ``progress`` is called from the calling thread, in episode order.
    """
    fixed = fixed_episodes(protocol, pool, episodes)
    inner = InnerLoop(
        protocol.inner_steps_test if inner_steps is None else inner_steps, protocol.inner_lr_test
    )
    params = {k: v.detach().to(device=device, dtype=torch.float32) for k, v in params.items()}
    size = _chunk_size(protocol, transductive)
    bounds = [(a, min(fixed.count, a + size)) for a in range(0, fixed.count, size)]
    if workers is None:
        workers = default_workers(device)

    def run(bound: tuple[int, int]) -> list[float]:
        batch = fixed.chunk(pool, *bound, protocol.shots).to(device)
        out = episode_outputs(params, batch, protocol, inner, transductive)
        return scores_of(out, batch.query_y, protocol.is_classification).cpu().tolist()

    scores: list[float] = []
    if progress:
        progress("evaluating", 0, fixed.count)
    with threaded_map(run, bounds, workers) as parts:
        for bound, part in zip(bounds, parts, strict=True):
            scores.extend(part)
            if progress:  # may raise (a cancelled run): the chunks not started are dropped
                progress("evaluating", bound[1], fixed.count)
    return scores, fixed
