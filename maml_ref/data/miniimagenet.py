"""miniImageNet in its two common formats (no data ships with maml_ref).

1. Ravi & Larochelle: ``train.csv`` / ``val.csv`` / ``test.csv`` (header ``filename,label``) with
   the image files in ``images/``; images are resized to 84x84 with Lanczos if needed (as the
   official ``proc_images.py`` does).
2. The pickle cache ``mini-imagenet-cache-{train,val|validation,test}.pkl``: a dict with
   ``image_data`` (N, 84, 84, 3) uint8 and ``class_dict`` {class name: [row indices]}. It is read
   with an unpickler that only builds dicts, lists, strings, numbers and numpy arrays: any other
   object in the file is refused, so a crafted file cannot run code.
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 84  # side of the images
SPLIT_NAMES = {"train": ("train",), "val": ("val", "validation"), "test": ("test",)}
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "bytearray"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def find_split(directory: Path, split: str) -> Path:
    """The file holding ``split`` in either format; FileNotFoundError naming what to put there."""
    for name in SPLIT_NAMES[split]:
        for path in (directory / f"mini-imagenet-cache-{name}.pkl", directory / f"{name}.csv"):
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"no miniImageNet {split} split in {directory}: put {split}.csv (filename,label) and an "
        f"images/ folder there (Ravi & Larochelle), or mini-imagenet-cache-{split}.pkl"
    )


def _group(labels: list[str], images: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(N, 84, 84, 3) rows with class names -> (classes, per_class, 3, 84, 84), sorted by name."""
    names = sorted(set(labels))
    rows = {n: [i for i, lab in enumerate(labels) if lab == n] for n in names}
    per_class = min(len(r) for r in rows.values())
    grouped = np.stack([images[rows[n][:per_class]] for n in names])  # (C, M, 84, 84, 3)
    return np.ascontiguousarray(grouped.transpose(0, 1, 4, 2, 3)), names


def _from_csv(path: Path) -> tuple[np.ndarray, list[str]]:
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    if not rows or not {"filename", "label"} <= set(rows[0]):
        raise ValueError(f"{path}: expected a header 'filename,label' and at least one row")
    images = np.empty((len(rows), SIZE, SIZE, 3), dtype=np.uint8)
    for i, r in enumerate(rows):
        with Image.open(path.parent / "images" / r["filename"]) as im:
            im = im.convert("RGB")
            if im.size != (SIZE, SIZE):
                im = im.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
            images[i] = np.asarray(im)
    return _group([r["label"] for r in rows], images)


def _from_pickle(path: Path) -> tuple[np.ndarray, list[str]]:
    with open(path, "rb") as f:
        data = _ArrayUnpickler(f).load()
    if not isinstance(data, dict) or not {"image_data", "class_dict"} <= set(data):
        raise ValueError(f"{path}: expected a dict with image_data and class_dict")
    images, class_dict = data["image_data"], data["class_dict"]
    if not isinstance(images, np.ndarray) or images.shape[1:] != (SIZE, SIZE, 3):
        raise ValueError(f"{path}: image_data must be (N, {SIZE}, {SIZE}, 3) uint8")
    labels = [""] * images.shape[0]
    for name, idx in class_dict.items():
        for i in idx:
            labels[int(i)] = str(name)
    if "" in labels:
        raise ValueError(f"{path}: some rows of image_data belong to no class")
    return _group(labels, images.astype(np.uint8, copy=False))


def load_miniimagenet(directory: Path, split: str) -> tuple[np.ndarray, list[str]]:
    """uint8 (classes, per_class, 3, 84, 84) and the class names of ``split``."""
    path = find_split(directory, split)
    return _from_pickle(path) if path.suffix == ".pkl" else _from_csv(path)
