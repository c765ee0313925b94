"""Upload and claim checks of evaluator.validation, each unit alone (no request, no database)."""

import math
import struct

import pytest
import torch
from django.core.exceptions import ValidationError

from evaluator.validation import (
    UploadTooLarge,
    check_checkpoint,
    check_claimed_value,
    normalise_arxiv_id,
    parse_config,
    split_authors,
)
from leaderboard.models import Metric
from tests.evaluator.web_helpers import (
    checkpoint_bytes,
    pickle_bytes,
    torch_save_bytes,
    upload,
)

ACCURACY = Metric(name="Accuracy", unit="%", higher_is_better=True)
MSE = Metric(name="MSE", unit="", higher_is_better=False)


def refused(content: bytes, name="model.safetensors", protocol="omniglot-5w1s") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        check_checkpoint(upload(content, name), protocol)
    return info.value


def test_it_accepts_a_valid_checkpoint():
    summary = check_checkpoint(upload(checkpoint_bytes()), "omniglot-5w1s")
    assert summary.tensors["conv1.weight"] == (64, 1, 3, 3)
    assert summary.tensors["head.weight"] == (5, 64)
    assert summary.parameter_count > 100_000


def test_it_accepts_a_checkpoint_of_a_benchmark_without_protocol():
    summary = check_checkpoint(upload(checkpoint_bytes()), None)
    assert len(summary.tensors) == 14


def test_it_rejects_pickled_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    error = refused(pickle_bytes(marker))
    assert error.code == "pickle"
    assert "pickled/torch.save files are refused" in error.messages[0]
    assert not marker.exists()


def test_it_rejects_pickled_checkpoint_named_pt(tmp_path):
    marker = tmp_path / "pwned"
    error = refused(pickle_bytes(marker), name="model.pt")
    assert error.code == "pickle"
    assert not marker.exists()


def test_it_rejects_torch_save_zip():
    error = refused(torch_save_bytes())
    assert error.code == "pickle"
    assert "safetensors" in error.messages[0]


def test_it_rejects_renamed_text_file():
    error = refused(b"conv1.weight = [0.1, 0.2, 0.3]\n" * 20)
    assert error.code == "not_safetensors"
    assert "not a safetensors file" in error.messages[0]


def test_it_rejects_a_tiny_file():
    assert refused(b"{}").code == "not_safetensors"


def test_it_rejects_another_file_type():
    error = refused(checkpoint_bytes(), name="model.bin")
    assert error.code == "file_type"


def test_it_rejects_truncated_file():
    content = checkpoint_bytes()
    error = refused(content[: len(content) - 1000])
    assert error.code == "truncated"
    assert "truncated" in error.messages[0]


def test_it_rejects_a_file_cut_inside_its_header():
    content = checkpoint_bytes()
    (header_len,) = struct.unpack("<Q", content[:8])
    assert refused(content[: 8 + header_len // 2]).code == "truncated"


def test_it_rejects_trailing_bytes():
    assert refused(checkpoint_bytes() + b"\0" * 16).code == "not_safetensors"


def test_it_rejects_a_header_that_is_not_json():
    body = b"not json at all!"
    assert refused(struct.pack("<Q", len(body)) + body).code == "not_safetensors"


def test_it_rejects_wrong_shapes():
    error = refused(checkpoint_bytes(head__weight=torch.zeros(20, 64)))
    assert error.code == "shape"
    assert "head.weight has shape [20, 64], expected [5, 64]" in error.messages[0]


def test_it_rejects_missing_tensors():
    error = refused(checkpoint_bytes(bn4__bias=None))
    assert error.code == "shape"
    assert "missing tensors bn4.bias" in error.messages[0]


def test_it_rejects_a_5_way_checkpoint_for_a_20_way_protocol():
    assert refused(checkpoint_bytes(), protocol="omniglot-20w1s").code == "shape"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_it_rejects_non_finite_weights(bad):
    weights = torch.zeros(5)
    weights[2] = bad
    error = refused(checkpoint_bytes(head__bias=weights))
    assert error.code in {"non_finite", "checkpoint"}
    assert "head.bias" in error.messages[0] or "finite" in error.messages[0].lower()


def test_it_rejects_integer_weights():
    error = refused(checkpoint_bytes(head__bias=torch.zeros(5, dtype=torch.int64)))
    assert error.code == "dtype"


def test_it_rejects_oversized_upload(settings):
    settings.MAX_CHECKPOINT_BYTES = 1000
    with pytest.raises(UploadTooLarge) as info:
        check_checkpoint(upload(checkpoint_bytes()), "omniglot-5w1s")
    assert "too large" in info.value.messages[0]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (math.nan, "non_finite"),
        (math.inf, "non_finite"),
        (-math.inf, "non_finite"),
        (-0.5, "negative"),
        (100.01, "over_100"),
        ("abc", "invalid"),
    ],
)
def test_it_rejects_bad_accuracy_values(value, code):
    with pytest.raises(ValidationError) as info:
        check_claimed_value(value, ACCURACY)
    assert info.value.code == code


@pytest.mark.parametrize("value", [0, 48.7, 100])
def test_it_accepts_accuracy_values_in_range(value):
    assert check_claimed_value(value, ACCURACY) == value


def test_mse_may_exceed_100_but_not_be_negative():
    assert check_claimed_value(150.0, MSE) == 150.0
    with pytest.raises(ValidationError):
        check_claimed_value(-0.01, MSE)
    with pytest.raises(ValidationError):
        check_claimed_value(math.nan, MSE)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("1703.03400", "1703.03400"),
        ("arXiv:1703.03400v3", "1703.03400v3"),
        ("https://arxiv.org/abs/1703.03400", "1703.03400"),
        ("https://arxiv.org/pdf/1703.03400v2.pdf", "1703.03400v2"),
        ("cs/0112017", "cs/0112017"),
        ("", ""),
    ],
)
def test_it_normalises_arxiv_ids(raw, clean):
    assert normalise_arxiv_id(raw) == clean


def test_it_rejects_a_bad_arxiv_id():
    with pytest.raises(ValidationError):
        normalise_arxiv_id("not an id")


def test_it_parses_a_config_object():
    assert parse_config('{"meta_iterations": 10}') == {"meta_iterations": 10}


@pytest.mark.parametrize("text", ["[1, 2]", "{oops", '"text"'])
def test_it_rejects_a_config_that_is_not_a_json_object(text):
    with pytest.raises(ValidationError):
        parse_config(text)


def test_it_rejects_an_oversized_config():
    with pytest.raises(ValidationError) as info:
        parse_config('{"a": "' + "x" * 300_000 + '"}')
    assert info.value.code == "too_large"


def test_it_splits_authors():
    assert split_authors("Chelsea Finn, Pieter Abbeel\nSergey Levine") == [
        "Chelsea Finn",
        "Pieter Abbeel",
        "Sergey Levine",
    ]
    assert split_authors([" A ", ""]) == ["A"]
