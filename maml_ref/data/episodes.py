"""Episodes: which classes, rotations and examples (indices, from a seeded numpy generator), and
the tensors built from them.

Indices come from ``numpy.random.Generator(PCG64(seed))`` through ``permutation`` and
``integers`` only, so a seed names the same episodes on every run and machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class ClassPool:
    """Images of one split: ``images[c, i]`` is example i of class c (uint8, ink/intensity high)."""

    images: Tensor  # (classes, per_class, C, H, W) uint8
    class_ids: tuple[int, ...]  # dataset-wide id of each class (for reports and split checks)

    @property
    def n_classes(self) -> int:
        return self.images.shape[0]

    @property
    def per_class(self) -> int:
        return self.images.shape[1]


@dataclass(frozen=True)
class EpisodeIndex:
    """What T episodes are made of: pool class, rotation and example indices."""

    classes: np.ndarray  # (T, ways) int64, rows of the pool; label j is classes[:, j]
    rotations: np.ndarray  # (T, ways) int64 in 0..3, multiples of 90 degrees
    examples: np.ndarray  # (T, ways, shots + queries) int64, the first `shots` are the support

    def fingerprint(self) -> str:
        """sha256 of the indices: equal fingerprints mean identical episodes."""
        h = hashlib.sha256()
        for a in (self.classes, self.rotations, self.examples):
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class Episodes:
    """Tensors of T tasks (regression: ways == 1, x and y real)."""

    support_x: Tensor  # (T, ways*shots, C, H, W) or (T, shots, 1)
    support_y: Tensor  # (T, ways*shots) int64 labels, or (T, shots, 1)
    query_x: Tensor  # (T, ways*queries, C, H, W) or (T, queries, 1)
    query_y: Tensor  # (T, ways*queries) int64 labels, or (T, queries, 1)

    def to(self, device: torch.device | str) -> Episodes:
        return Episodes(
            *(t.to(device) for t in (self.support_x, self.support_y, self.query_x, self.query_y))
        )

    def slice(self, start: int, stop: int) -> Episodes:
        return Episodes(
            *(t[start:stop] for t in (self.support_x, self.support_y, self.query_x, self.query_y))
        )

    @property
    def tasks(self) -> int:
        return self.support_x.shape[0]


def sample_indices(
    rng: np.random.Generator,
    pool_classes: int,
    per_class: int,
    tasks: int,
    ways: int,
    shots: int,
    queries: int,
    rotate: bool,
) -> EpisodeIndex:
    """Draw ``tasks`` episodes: ``ways`` distinct classes, each rotated by a random multiple of 90
    degrees if ``rotate``, with ``shots + queries`` distinct examples per class."""
    if ways > pool_classes:
        raise ValueError(f"{ways}-way episodes need {ways} classes; the split has {pool_classes}")
    if shots + queries > per_class:
        raise ValueError(
            f"{shots}+{queries} examples per class requested; classes have {per_class}"
        )
    classes = np.empty((tasks, ways), dtype=np.int64)
    examples = np.empty((tasks, ways, shots + queries), dtype=np.int64)
    rotations = np.zeros((tasks, ways), dtype=np.int64)
    for t in range(tasks):
        classes[t] = rng.permutation(pool_classes)[:ways]
        if rotate:
            rotations[t] = rng.integers(0, 4, size=ways)
        for j in range(ways):
            examples[t, j] = rng.permutation(per_class)[: shots + queries]
    return EpisodeIndex(classes, rotations, examples)


def build_episodes(pool: ClassPool, index: EpisodeIndex, shots: int) -> Episodes:
    """The image tensors (float32 in [0, 1]) and labels of the indexed episodes."""
    t, ways, m = index.examples.shape
    cls = torch.from_numpy(index.classes)[:, :, None].expand(t, ways, m)  # (T, N, M)
    imgs = pool.images[cls, torch.from_numpy(index.examples)]  # (T, N, M, C, H, W) uint8
    if index.rotations.any():
        rots = torch.from_numpy(index.rotations)  # (T, N)
        out = imgs.clone()
        for k in (1, 2, 3):
            sel = rots == k  # (T, N)
            if sel.any():
                out[sel] = torch.rot90(imgs[sel], k, dims=(-2, -1))
        imgs = out
    x = imgs.to(torch.float32).div_(255.0)  # (T, N, M, C, H, W)
    labels = torch.arange(ways).view(1, ways, 1)  # (1, N, 1)
    sx = x[:, :, :shots].reshape(t, ways * shots, *x.shape[3:])  # (T, N*K, C, H, W)
    qx = x[:, :, shots:].reshape(t, ways * (m - shots), *x.shape[3:])  # (T, N*Q, C, H, W)
    sy = labels.expand(t, ways, shots).reshape(t, -1)  # (T, N*K)
    qy = labels.expand(t, ways, m - shots).reshape(t, -1)  # (T, N*Q)
    return Episodes(sx, sy, qx, qy)
