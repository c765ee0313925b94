"""Datasets and the seeded episode sampler."""

from .episodes import ClassPool, EpisodeIndex, Episodes, build_episodes, sample_indices
from .loading import load_pool, resolve_data_dir

__all__ = [
    "ClassPool",
    "EpisodeIndex",
    "Episodes",
    "build_episodes",
    "load_pool",
    "resolve_data_dir",
    "sample_indices",
]
