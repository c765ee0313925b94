"""Fixtures of the maml_ref tests: a synthetic class pool, the real Omniglot data when present."""

from pathlib import Path

import pytest
import torch

from maml_ref import datadir
from maml_ref.data.episodes import ClassPool
from maml_ref.model import init_params
from maml_ref.protocols import get_protocol


def omniglot_dir() -> Path | None:
    """The Omniglot folder by maml_ref's rule ($MAML_DATA_DIR, else ../shared/data/omniglot)."""
    return datadir.omniglot_dir(datadir.data_dir())


@pytest.fixture(scope="session")
def maml_cache(tmp_path_factory) -> Path:
    """A cache directory of this test session (the resized Omniglot array is built once)."""
    return tmp_path_factory.mktemp("maml-cache")


@pytest.fixture
def omniglot(maml_cache, monkeypatch) -> Path:
    path = omniglot_dir()
    if path is None:
        pytest.skip(f"no Omniglot data in {datadir.data_dir()}: set MAML_DATA_DIR")
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
