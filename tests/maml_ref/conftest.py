"""Fixtures of the maml_ref tests: a synthetic class pool, the real Omniglot data when present."""

import os
from pathlib import Path

import pytest
import torch

from maml_ref.data.episodes import ClassPool
from maml_ref.model import init_params
from maml_ref.protocols import get_protocol

SHARED_OMNIGLOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "omniglot"


def omniglot_dir() -> Path | None:
    """$MAML_DATA_DIR if it holds Omniglot, else ../shared/data/omniglot, else None."""
    for candidate in (os.environ.get("MAML_DATA_DIR"), SHARED_OMNIGLOT):
        if candidate and (Path(candidate) / "images_background.npz").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def maml_cache(tmp_path_factory) -> Path:
    """A cache directory of this test session (the resized Omniglot array is built once)."""
    return tmp_path_factory.mktemp("maml-cache")


@pytest.fixture
def omniglot(maml_cache, monkeypatch) -> Path:
    path = omniglot_dir()
    if path is None:
        pytest.skip("Omniglot data not found: set MAML_DATA_DIR")
    monkeypatch.setenv("MAML_DATA_DIR", str(path))
    monkeypatch.setenv("MAML_CACHE_DIR", str(maml_cache))
    return path


@pytest.fixture
def synthetic_pool() -> ClassPool:
    """30 classes x 20 random 28x28 images: fast stand-in for Omniglot's test split."""
    g = torch.Generator().manual_seed(7)
    images = (torch.rand(30, 20, 1, 28, 28, generator=g) < 0.1).to(torch.uint8) * 255
    return ClassPool(images, tuple(range(30)))


@pytest.fixture
def omniglot_params() -> dict[str, torch.Tensor]:
    return init_params(get_protocol("omniglot-5w1s").arch, torch.Generator().manual_seed(0))
