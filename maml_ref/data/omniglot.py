"""Omniglot: the 1,623 characters x 20 drawers, resized to 28x28 with Lanczos, ink high.

Reads either the two numpy archives ``images_background.npz`` / ``images_evaluation.npz``
(``images`` bool (chars, 20, 105, 105), True = background) or the dataset's original
``images_background.zip`` / ``images_evaluation.zip`` (PNG files ``XXXX_YY.png`` under
alphabet/character folders, XXXX the character id 1..1623, YY the drawer 1..20).
Characters are ordered by id (background first), drawers by number.

Resizing every image takes seconds, so the result is cached as an .npy file keyed by the
sha256 of the source files (directory: argument, else $MAML_CACHE_DIR, else ~/.cache/maml_ref).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 28  # side of the resized images
SOURCES_NPZ = ("images_background.npz", "images_evaluation.npz")
SOURCES_ZIP = ("images_background.zip", "images_evaluation.zip")
CACHE_FORMAT = "omniglot28-lanczos-v1"  # bump when the preprocessing changes
_PNG_NAME = re.compile(r"(\d+)_(\d+)\.png$")

# on_progress(phase, done, total): called while the images of one source file are resized
# (``phase`` names the file), from the calling thread; never on a cache hit.
Progress = Callable[[str, int, int], None]


def find_sources(directory: Path) -> list[Path]:
    """The npz pair if present, else the zip pair; FileNotFoundError naming both otherwise."""
    for names in (SOURCES_NPZ, SOURCES_ZIP):
        paths = [directory / n for n in names]
        if all(p.is_file() for p in paths):
            return paths
    raise FileNotFoundError(
        f"no Omniglot data in {directory}: put images_background.npz and images_evaluation.npz "
        "there, or the original images_background.zip and images_evaluation.zip "
        "(github.com/brendenlake/omniglot, python/)"
    )


def default_cache_dir() -> Path:
    env = os.environ.get("MAML_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "maml_ref"


def _resize(background_is_white: np.ndarray) -> np.ndarray:
    """bool (105, 105) True = background -> uint8 (28, 28), ink high."""
    grey = Image.fromarray(background_is_white.astype(np.uint8) * 255, mode="L")
    small = np.asarray(grey.resize((SIZE, SIZE), Image.Resampling.LANCZOS), dtype=np.uint8)
    return 255 - small


def _from_npz(path: Path, on_progress: Progress | None = None) -> np.ndarray:
    with np.load(path, allow_pickle=False) as f:
        images = f["images"]  # (chars, drawers, 105, 105) bool
    if images.ndim != 4:
        raise ValueError(
            f"{path}: expected images of shape (chars, drawers, H, W), got {images.shape}"
        )
    out = np.empty((*images.shape[:2], SIZE, SIZE), dtype=np.uint8)
    n_chars = images.shape[0]
    for c in range(n_chars):
        for d in range(images.shape[1]):
            out[c, d] = _resize(images[c, d])
        if on_progress is not None:
            on_progress(f"resizing {path.name}", c + 1, n_chars)
    return out


def _from_zip(path: Path, on_progress: Progress | None = None) -> tuple[list[int], np.ndarray]:
    """Character ids and their images (chars, drawers, 28, 28) from an original zip."""
    found: dict[int, dict[int, np.ndarray]] = {}
    with zipfile.ZipFile(path) as z:
        members = [i for i in z.infolist() if not i.is_dir() and _PNG_NAME.search(i.filename)]
        for done, info in enumerate(members, 1):
            m = _PNG_NAME.search(info.filename)
            with Image.open(io.BytesIO(z.read(info))) as im:
                white = np.asarray(im.convert("L")) > 127  # True = background
            found.setdefault(int(m.group(1)), {})[int(m.group(2))] = _resize(white)
            if on_progress is not None and (done % 200 == 0 or done == len(members)):
                on_progress(f"resizing {path.name}", done, len(members))
    if not found:
        raise ValueError(f"{path}: no XXXX_YY.png character images inside")
    ids = sorted(found)
    drawers = {len(found[i]) for i in ids}
    if len(drawers) != 1:
        raise ValueError(
            f"{path}: characters have different numbers of drawings: {sorted(drawers)}"
        )
    images = np.stack([np.stack([found[i][d] for d in sorted(found[i])]) for i in ids])
    return ids, images


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256(CACHE_FORMAT.encode())
    for p in paths:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def load_omniglot(
    directory: Path, cache_dir: Path | None = None, on_progress: Progress | None = None
) -> np.ndarray:
    """All characters as uint8 (chars, 20, 28, 28), ink high, background first, by character id.
    ``on_progress`` follows the resize of each source file (not called on a cache hit)."""
    sources = find_sources(directory)
    cache = (cache_dir or default_cache_dir()) / f"{CACHE_FORMAT}-{_digest(sources)[:20]}.npy"
    if cache.is_file():
        arr = np.load(cache, allow_pickle=False)
        if arr.dtype == np.uint8 and arr.ndim == 4 and arr.shape[2:] == (SIZE, SIZE):
            return arr
    if sources[0].suffix == ".npz":
        arr = np.concatenate([_from_npz(p, on_progress) for p in sources])
    else:
        parts = [_from_zip(p, on_progress) for p in sources]
        ids = [i for part_ids, _ in parts for i in part_ids]
        if len(set(ids)) != len(ids):
            raise ValueError("the two Omniglot zips share character ids")
        order = np.argsort(ids, kind="stable")
        arr = np.concatenate([imgs for _, imgs in parts])[order]
    _write_atomic(cache, arr)
    return arr


def _write_atomic(path: Path, arr: np.ndarray) -> None:
    """Best effort: a read-only or full cache directory only costs the resize next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, arr, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        return
