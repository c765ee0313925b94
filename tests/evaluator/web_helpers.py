"""Helpers of the evaluator's web and API tests: catalogue rows and checkpoint files in memory."""

import io
import pickle

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save as save_safetensors

from maml_ref.model import param_shapes
from maml_ref.protocols import get_protocol
from tests.evaluator import catalogue

# The fixtures, for ``from tests.evaluator.web_helpers import *`` in a test module.
__all__ = ["omniglot", "accuracy", "mini_imagenet", "sinusoid", "mse", "paper"]

OMNIGLOT_5W1S = "OMNIGLOT - 1-Shot, 5-way"
MINI_5W1S = "Mini-Imagenet 5-way (1-shot)"
SINUSOID = "Sinusoid Regression (10-shot)"


def tensors_for(protocol: str = "omniglot-5w1s", seed: int = 0) -> dict[str, torch.Tensor]:
    """Weights of the protocol's network, in the names and shapes maml_ref expects."""
    g = torch.Generator().manual_seed(seed)
    shapes = param_shapes(get_protocol(protocol).arch)
    return {name: torch.randn(shape, generator=g) * 0.05 for name, shape in shapes.items()}


def checkpoint_bytes(protocol: str = "omniglot-5w1s", seed: int = 0, **overrides) -> bytes:
    """A safetensors file (its weights drawn from ``seed``: another seed, another file and
    SHA-256); ``overrides`` replace (or, given None, remove) named tensors."""
    tensors = tensors_for(protocol, seed)
    for name, value in overrides.items():
        name = name.replace("__", ".")
        if value is None:
            tensors.pop(name)
        else:
            tensors[name] = value
    return save_safetensors(tensors, metadata={"format": "pt"})


def upload(content: bytes, name: str = "model.safetensors") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


class CreatesFile:
    """Unpickling this creates ``path``: a pickled payload the site must never load."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def pickle_bytes(marker_path) -> bytes:
    return pickle.dumps({"conv1.weight": CreatesFile(marker_path)})


def torch_save_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save(tensors_for(), buf)
    return buf.getvalue()


@pytest.fixture
def omniglot(db):
    return catalogue.benchmark(OMNIGLOT_5W1S)


@pytest.fixture
def accuracy(omniglot):
    return catalogue.metric("Accuracy")


@pytest.fixture
def mini_imagenet(db):
    return catalogue.benchmark(MINI_5W1S, dataset="Mini-ImageNet")


@pytest.fixture
def sinusoid(db):
    catalogue.metric("MSE", higher_is_better=False, unit="")
    return catalogue.benchmark(SINUSOID, dataset="Sinusoid", metric_name="MSE", ways=None, shots=10)


@pytest.fixture
def mse(sinusoid):
    return catalogue.metric("MSE", higher_is_better=False, unit="")


@pytest.fixture
def paper(db):
    return catalogue.maml_paper()
