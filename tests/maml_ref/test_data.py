"""Data formats, read from tiny files the tests write: Omniglot's original zips (and its npz),
miniImageNet's CSV + images layout and its pickle cache (read without running code)."""

import csv
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maml_ref.api import run_evaluate
from maml_ref.checkpoint import metadata_for, save_checkpoint
from maml_ref.data.miniimagenet import load_miniimagenet
from maml_ref.data.omniglot import load_omniglot
from maml_ref.model import init_params
from maml_ref.protocols import get_protocol

# (zip, alphabet, character id, drawers): ids as in the real dataset, background 1..964.
CHARACTERS = [
    ("images_background", "Alpha", 2, 3),
    ("images_background", "Alpha", 1, 3),
    ("images_background", "Beta", 3, 3),
    ("images_evaluation", "Gamma", 966, 3),
    ("images_evaluation", "Gamma", 965, 3),
]


def drawing(char_id: int, drawer: int) -> np.ndarray:
    """bool (105, 105), True = background, with an ink block placed by character and drawer."""
    img = np.ones((105, 105), dtype=bool)
    r, c = 10 + (char_id % 7) * 10, 10 + drawer * 20
    img[r : r + 20, c : c + 20] = False
    return img


def write_omniglot_zips(directory: Path) -> None:
    for part in ("images_background", "images_evaluation"):
        with zipfile.ZipFile(directory / f"{part}.zip", "w") as z:
            for zip_name, alphabet, cid, drawers in CHARACTERS:
                if zip_name != part:
                    continue
                for d in range(1, drawers + 1):
                    buf = io.BytesIO()
                    Image.fromarray(drawing(cid, d)).convert("1").save(buf, format="PNG")
                    z.writestr(
                        f"{part}/{alphabet}/character{cid:02d}/{cid:04d}_{d:02d}.png",
                        buf.getvalue(),
                    )


def test_it_reads_the_original_omniglot_zips(tmp_path):
    write_omniglot_zips(tmp_path)
    images = load_omniglot(tmp_path, tmp_path / "cache")
    assert images.shape == (5, 3, 28, 28) and images.dtype == np.uint8
    ordered = sorted((cid, d) for _, _, cid, d in CHARACTERS)
    for c, (cid, _) in enumerate(ordered):  # characters by id, background first
        for d in range(3):
            ink = images[c, d] > 127
            rows, cols = np.nonzero(ink)
            assert abs(rows.mean() * 105 / 28 - (20 + (cid % 7) * 10)) < 3
            assert abs(cols.mean() * 105 / 28 - (20 + (d + 1) * 20)) < 3
            assert images[c, d, 0, 0] < 10  # background is 0
    assert list((tmp_path / "cache").glob("omniglot28-*.npy"))


def test_zip_and_npz_give_the_same_images(tmp_path):
    (tmp_path / "zips").mkdir()
    write_omniglot_zips(tmp_path / "zips")
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    for part, ids in (("images_background", [1, 2, 3]), ("images_evaluation", [965, 966])):
        arr = np.stack([np.stack([drawing(i, d) for d in range(1, 4)]) for i in ids])
        np.savez_compressed(
            npz_dir / f"{part}.npz", images=arr, labels=np.zeros(arr.shape[:2], np.int64)
        )
    from_zip = load_omniglot(tmp_path / "zips", tmp_path / "cache")
    from_npz = load_omniglot(npz_dir, tmp_path / "cache")
    assert np.array_equal(from_zip, from_npz)


def test_it_reports_the_resize_of_each_file_then_reads_the_cache_silently(tmp_path):
    write_omniglot_zips(tmp_path)
    seen: list[tuple[str, int, int]] = []
    first = load_omniglot(tmp_path, tmp_path / "cache", lambda *report: seen.append(report))
    # 9 drawings in the background zip, 6 in the evaluation zip; each file ends at its total.
    assert seen[-1] == ("resizing images_evaluation.zip", 6, 6)
    assert ("resizing images_background.zip", 9, 9) in seen
    assert all(0 < done <= total for _, done, total in seen)
    seen.clear()
    again = load_omniglot(tmp_path, tmp_path / "cache", lambda *report: seen.append(report))
    assert seen == [] and np.array_equal(first, again)


def mini_image(label: int, size: tuple[int, int] = (84, 84)) -> Image.Image:
    colour = (40 * label, 255 - 40 * label, 128)
    return Image.new("RGB", size, colour)


def write_miniimagenet_csv(directory: Path, classes: int = 6, per_class: int = 16) -> None:
    (directory / "images").mkdir(parents=True)
    for split in ("train", "val", "test"):
        with open(directory / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["filename", "label"])
            for c in range(classes):
                for i in range(per_class):
                    name = f"{split}_{c}_{i}.png"
                    mini_image(c, (96, 90) if i % 2 else (84, 84)).save(directory / "images" / name)
                    w.writerow([name, f"n0{split}{c}"])


def test_it_reads_miniimagenet_csv_layout(tmp_path):
    write_miniimagenet_csv(tmp_path, classes=3, per_class=4)
    images, names = load_miniimagenet(tmp_path, "val")
    assert images.shape == (3, 4, 3, 84, 84) and images.dtype == np.uint8
    assert names == ["n0val0", "n0val1", "n0val2"]
    assert images[1, 3, :, 40, 40].tolist() == [40, 215, 128]  # resized from 96x90, same colour


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_it_reads_the_miniimagenet_pickle_cache(tmp_path, protocol):
    data = np.stack([np.asarray(mini_image(i // 4)) for i in range(12)])  # (12, 84, 84, 3)
    class_dict = {"n02": list(range(8, 12)), "n00": list(range(0, 4)), "n01": list(range(4, 8))}
    with open(tmp_path / "mini-imagenet-cache-validation.pkl", "wb") as f:
        pickle.dump({"image_data": data, "class_dict": class_dict}, f, protocol=protocol)
    images, names = load_miniimagenet(tmp_path, "val")
    assert names == ["n00", "n01", "n02"] and images.shape == (3, 4, 3, 84, 84)
    assert images[2, 0, :, 0, 0].tolist() == [80, 175, 128]


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_it_refuses_a_pickle_cache_that_would_run_code(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "mini-imagenet-cache-test.pkl", "wb") as f:
        pickle.dump({"image_data": _Payload(marker), "class_dict": {}}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load io.open"):
        load_miniimagenet(tmp_path, "test")
    assert not marker.exists()


def test_miniimagenet_evaluation_runs_end_to_end(tmp_path):
    write_miniimagenet_csv(tmp_path / "miniimagenet", classes=5, per_class=16)
    protocol = get_protocol("miniimagenet-5w1s")
    ckpt = tmp_path / "mini.safetensors"
    save_checkpoint(
        ckpt, init_params(protocol.arch, torch.Generator().manual_seed(0)), metadata_for(protocol)
    )
    result = run_evaluate(ckpt, protocol.name, data_dir=tmp_path, episodes=2)
    assert result.episodes == 2 and result.queries == 1 and len(result.scores) == 2
    assert all(0 <= s <= 100 for s in result.scores)
