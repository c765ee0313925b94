"""Every kind of maml_ref's CheckpointError has the site's message: a crafted bad file per kind is
refused by ``maml_ref.checkpoint.load_checkpoint`` with that kind, and by the upload check, the
form (a field error) and ``POST /api/submissions/`` (a 400) with the message and code that
``evaluator.validation.checkpoints.MESSAGES`` gives it; nothing is stored."""

import json
import math
import pickle
import struct

import pytest
import torch
from django.core.exceptions import ValidationError
from django.utils.html import escape
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from safetensors.torch import save as st_save

from evaluator.models import Run, Submission
from evaluator.validation import check_checkpoint
from evaluator.validation.checkpoints import MESSAGES
from maml_ref import checkpoint as maml_checkpoint
from maml_ref.checkpoint import KINDS, MAX_HEADER_BYTES, CheckpointError, load_checkpoint
from maml_ref.protocols import get_protocol
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, tensors_for, torch_save_bytes, upload

PROTOCOL = "omniglot-5w1s"


def framed(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


def nan_bias() -> torch.Tensor:
    bias = torch.zeros(5)
    bias[3] = math.nan
    return bias


def with_extra() -> bytes:
    tensors = tensors_for(PROTOCOL)
    tensors["extra.weight"] = torch.zeros(3)
    return st_save(tensors)


def many_tensors(n: int) -> bytes:
    header = {
        f"layer{i}.weight": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
        for i in range(n)
    }
    return framed(json.dumps(header).encode(), b"\0" * (4 * n))


def deep_header() -> bytes:
    shape = "[" * 5000 + "]" * 5000
    return framed(f'{{"w": {{"dtype": "F32", "shape": {shape}, "data_offsets": [0, 4]}}}}'.encode())


def metadata_not_text() -> bytes:
    """A header safetensors refuses and maml_ref's own checks let through: a metadata value
    that is not a string."""
    entry = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    return framed(json.dumps({"__metadata__": {"note": 1}, "w": entry}).encode(), b"\0" * 4)


def small_file_limit(monkeypatch):
    """maml_ref's own file bound (512 MiB) under the site's upload limit, for the test."""
    monkeypatch.setattr(maml_checkpoint, "MAX_FILE_BYTES", 100_000)


# (id, the file, maml_ref's kind, the site's code, a part of the site's message, set-up)
CASES = [
    ("pickle", lambda: pickle.dumps({"conv1.weight": [0.0]}), "pickle", "pickle",
     "pickled/torch.save files are refused", None),
    ("zip", torch_save_bytes, "zip", "pickle", "This is a zip archive", None),
    ("short", lambda: b"{}", "short", "not_safetensors", "it is only 2 bytes long", None),
    ("text", lambda: b"just some notes about my model\n" * 10, "text", "not_safetensors",
     "This is not a safetensors file: it is a text file.", None),
    ("other", lambda: framed(b"not json at all!"), "other", "not_safetensors",
     "its first bytes are not a safetensors header", None),
    ("truncated-header", lambda: checkpoint_bytes()[:100], "truncated", "truncated",
     "truncated: it ends inside its header", None),
    ("truncated-data", lambda: checkpoint_bytes()[:-4096], "truncated", "truncated",
     "bytes of tensor data but only", None),
    ("header_too_large", lambda: struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{" + b" " * 64,
     "header_too_large", "header_too_large", "over the limit of 4.0 MB", None),
    ("too_large", checkpoint_bytes, "too_large", "too_large",
     "checkpoints are limited to 97.7 KB", small_file_limit),
    ("unreadable", metadata_not_text, "unreadable", "not_safetensors",
     "The safetensors file could not be read: Error while deserializing", None),
    ("header_json", lambda: framed(b"{oops}"), "header_json", "not_safetensors",
     "This is not a safetensors file: its header is not valid JSON.", None),
    ("too_deep-header", deep_header, "too_deep", "not_safetensors",
     "its header is nested deeper than 3 levels", None),
    ("too_deep-metadata", lambda: st_save(tensors_for(PROTOCOL), {"maml_ref": "[" * 40 + "]" * 40}),
     "too_deep", "not_safetensors", "metadata is nested deeper than 16 levels", None),
    ("empty", lambda: framed(b'{"__metadata__": {}}'), "empty", "empty",
     "The checkpoint holds no tensors.", None),
    ("too_many_tensors", lambda: many_tensors(1001), "too_many_tensors", "too_many_tensors",
     "declares 1001 tensors, over the limit of 1000", None),
    ("layout", lambda: checkpoint_bytes() + b"\0" * 16, "layout", "not_safetensors",
     "16 bytes follow the last tensor", None),
    ("dtype", lambda: checkpoint_bytes(head__bias=torch.zeros(5, dtype=torch.int64)), "dtype",
     "dtype", "Tensor 'head.bias' has dtype I64", None),
    ("metadata", lambda: st_save(tensors_for(PROTOCOL), {"maml_ref": "{oops"}), "metadata",
     "metadata", "its maml_ref metadata is not JSON", None),
    ("missing_tensor", lambda: checkpoint_bytes(bn4__bias=None), "missing_tensor", "shape",
     "does not fit the network of protocol omniglot-5w1s: missing tensors bn4.bias", None),
    ("extra_tensor", with_extra, "extra_tensor", "shape", "unexpected tensors extra.weight", None),
    ("shape", lambda: checkpoint_bytes(head__weight=torch.zeros(20, 64)), "shape", "shape",
     "tensor head.weight has shape [20, 64], expected [5, 64]", None),
    ("non_finite", lambda: checkpoint_bytes(head__bias=nan_bias()), "non_finite", "non_finite",
     "Tensor 'head.bias' holds NaN or infinite weights.", None),
]  # fmt: skip

IDS = [case[0] for case in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def case(request, monkeypatch):
    name, make, kind, code, message, setup = request.param
    if setup is not None:
        setup(monkeypatch)
    return name, make(), kind, code, message


def test_every_kind_has_a_message_and_a_crafted_file():
    assert set(MESSAGES) == set(KINDS)
    assert {case[2] for case in CASES} == set(KINDS)


def test_maml_ref_refuses_the_file_with_its_kind(case, tmp_path):
    name, raw, kind, _, _ = case
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(raw)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, get_protocol(PROTOCOL))
    assert info.value.kind == kind, str(info.value)


def test_the_upload_check_says_the_kinds_message(case):
    name, raw, kind, code, message = case
    with pytest.raises(ValidationError) as info:
        check_checkpoint(upload(raw, f"{name}.safetensors"), PROTOCOL)
    assert info.value.code == code
    assert message in info.value.messages[0]
    assert "tmp" not in info.value.messages[0]  # the user's file named, not the server's


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def assert_nothing_stored(settings):
    assert not Submission.objects.exists() and not Run.objects.exists()
    media = settings.MEDIA_ROOT
    assert not (media.exists() and any(media.rglob("*")))


def test_the_api_answers_400_with_the_kinds_message(case, owner, omniglot, paper, settings):
    name, raw, _, _, message = case
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    data = {
        "benchmark": omniglot.slug,
        "metric": "Accuracy",
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.slug,
        "checkpoint": upload(raw, f"{name}.safetensors"),
    }
    r = api.post("/api/submissions/", data, format="multipart")
    assert r.status_code == 400, r.content[:300]
    assert message in r.json()["checkpoint"][0]
    assert_nothing_stored(settings)


def test_the_form_shows_the_kinds_message(case, client, owner, omniglot, accuracy, paper, settings):
    name, raw, _, _, message = case
    client.force_login(owner)
    data = {
        "benchmark": omniglot.pk,
        "metric": accuracy.pk,
        "claimed_value": "48.7",
        "model_name": "MAML",
        "evaluation_mode": "transductive",
        "paper": paper.pk,
        "kind": "evaluate",
        "checkpoint": upload(raw, f"{name}.safetensors"),
    }
    r = client.post("/submit/", data)
    assert r.status_code == 400
    assert escape(message) in r.content.decode()
    assert_nothing_stored(settings)
