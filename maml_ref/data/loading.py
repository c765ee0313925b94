"""Where the data lives, and the class pool of a protocol's split (cached per process)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from .. import datadir
from ..protocols import Protocol
from . import miniimagenet, omniglot
from .episodes import ClassPool

SPLITS = ("train", "val", "test")


def resolve_data_dir(protocol: Protocol, data_dir: str | Path | None = None) -> Path:
    """The folder holding the protocol's dataset: ``data_dir`` (``--data-dir``), else
    $MAML_DATA_DIR, else ``../shared/data/omniglot`` (``maml_ref.datadir``, the rule the workers
    use too); the dataset may sit in it or in a subfolder named after it (``omniglot/``,
    ``miniimagenet/``). FileNotFoundError naming the flag, the variable and the fetch command."""
    root = datadir.data_dir(data_dir)
    how = datadir.where_from(data_dir)
    if protocol.dataset == "omniglot":
        found = datadir.omniglot_dir(root)
        if found is None:
            raise FileNotFoundError(datadir.missing_omniglot_message(root, how))
        return found
    for candidate in (root, root / protocol.dataset, root.parent / protocol.dataset):
        if protocol.dataset == "miniimagenet" and _has_any(
            candidate, ("test.csv", "mini-imagenet-cache-test.pkl", "mini-imagenet-cache-train.pkl")
        ):
            return candidate
    raise FileNotFoundError(
        f"no {protocol.dataset} data in {root} (chosen by {how}): put "
        "train/val/test.csv + images/ or mini-imagenet-cache-{train,val,test}.pkl there or in "
        f"its miniimagenet/ subfolder, or point {datadir.FLAG} / ${datadir.ENV} at them"
    )


def _has_any(directory: Path, names: tuple[str, ...]) -> bool:
    return any((directory / n).is_file() for n in names)


def split_classes(n_classes: int, protocol: Protocol) -> dict[str, np.ndarray]:
    """Omniglot's class split: a seeded shuffle, then meta-train / meta-val / meta-test counts."""
    n_train, n_val = protocol.split
    if n_train + n_val >= n_classes:
        raise ValueError(f"{n_classes} classes cannot be split {n_train}/{n_val}/rest")
    perm = np.random.default_rng(protocol.split_seed).permutation(n_classes)
    return {
        "train": perm[:n_train],
        "val": perm[n_train : n_train + n_val],
        "test": perm[n_train + n_val :],
    }


_OMNIGLOT_ARRAYS: dict[tuple[Path, Path | None], torch.Tensor] = {}  # per process, by folder


def _omniglot_array(
    directory: Path, cache_dir: Path | None, on_progress: omniglot.Progress | None = None
) -> torch.Tensor:
    key = (directory, cache_dir)
    if key not in _OMNIGLOT_ARRAYS:
        if len(_OMNIGLOT_ARRAYS) >= 4:
            _OMNIGLOT_ARRAYS.pop(next(iter(_OMNIGLOT_ARRAYS)))
        arr = omniglot.load_omniglot(directory, cache_dir, on_progress)  # (chars, 20, 28, 28)
        _OMNIGLOT_ARRAYS[key] = torch.from_numpy(arr).unsqueeze(2)  # (chars, 20, 1, 28, 28)
    return _OMNIGLOT_ARRAYS[key]


@functools.lru_cache(maxsize=3)
def _miniimagenet_split(directory: Path, split: str) -> tuple[torch.Tensor, tuple[str, ...]]:
    arr, names = miniimagenet.load_miniimagenet(directory, split)
    return torch.from_numpy(arr), tuple(names)


def load_pool(
    protocol: Protocol,
    split: str,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    on_progress: omniglot.Progress | None = None,
) -> ClassPool:
    """The classes of ``split`` ("train", "val" or "test") of the protocol's dataset.
    ``on_progress(phase, done, total)`` follows a first, uncached read of Omniglot's files."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    directory = resolve_data_dir(protocol, data_dir).resolve()
    if protocol.dataset == "omniglot":
        images = _omniglot_array(directory, Path(cache_dir) if cache_dir else None, on_progress)
        ids = split_classes(images.shape[0], protocol)[split]
        return ClassPool(images[torch.from_numpy(ids)], tuple(int(i) for i in ids))
    if protocol.dataset == "miniimagenet":
        images, _names = _miniimagenet_split(directory, split)
        offset = {"train": 0, "val": 10_000, "test": 20_000}[split]
        return ClassPool(images, tuple(offset + i for i in range(images.shape[0])))
    raise ValueError(f"{protocol.dataset} has no class pool (sinusoid tasks are generated)")
