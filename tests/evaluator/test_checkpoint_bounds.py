"""Checkpoint bounds through POST /api/submissions/: a safetensors header of the documented 4 MiB
is accepted (201, its run queued), one over it is a 400 saying the limit (never "pickle"), and
metadata nested 5,000 levels deep is a 400 JSON naming it, nothing stored. The site's bound is
maml_ref's, which the worker applies."""

import struct

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from safetensors.torch import save as st_save

from evaluator.models import Run, Submission
from maml_ref.checkpoint import MAX_HEADER_BYTES
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import tensors_for, upload

URL = "/api/submissions/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def api(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


def with_header_of(size: int, **metadata) -> bytes:
    base = st_save(tensors_for(), metadata={**metadata, "note": ""})
    (n,) = struct.unpack("<Q", base[:8])
    raw = st_save(tensors_for(), metadata={**metadata, "note": "m" * (size - n)})
    assert struct.unpack("<Q", raw[:8])[0] == size
    return raw


def post(api, omniglot, paper, raw: bytes):
    return api.post(
        URL,
        {
            "benchmark": omniglot.slug,
            "metric": "Accuracy",
            "claimed_value": "48.7",
            "model_name": "MAML",
            "paper": paper.slug,
            "checkpoint": upload(raw),
        },
        format="multipart",
    )


def test_the_site_and_maml_ref_share_one_bound():
    from maml_ref.checkpoint import MAX_HEADER_BYTES as MAML_BOUND

    assert MAX_HEADER_BYTES == MAML_BOUND == 4 * 1024 * 1024


def test_a_four_mib_header_is_accepted(api, omniglot, paper, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as dispatched:
        r = post(api, omniglot, paper, with_header_of(MAX_HEADER_BYTES))
    assert r.status_code == 201, r.content[:500]
    submission = Submission.objects.get(pk=r.json()["id"])
    assert submission.checkpoint.size > MAX_HEADER_BYTES
    assert Run.objects.get(submission=submission).status == Run.Status.QUEUED
    assert len(dispatched) == 1


def test_a_header_one_byte_over_is_a_400_saying_the_limit(api, omniglot, paper):
    raw = with_header_of(MAX_HEADER_BYTES)
    (n,) = struct.unpack("<Q", raw[:8])
    over = struct.pack("<Q", n + 1) + raw[8 : 8 + n] + b" " + raw[8 + n :]
    r = post(api, omniglot, paper, over)
    assert r.status_code == 400
    message = r.json()["checkpoint"][0]
    assert "over the limit of 4.0 MB" in message and "pickle" not in message
    assert not Submission.objects.exists()


@pytest.mark.parametrize("metadata", ["[" * 5000 + "]" * 5000, '{"a": ' * 5000 + "1" + "}" * 5000])
def test_deep_maml_ref_metadata_is_a_400_json(api, omniglot, paper, metadata):
    raw = st_save(tensors_for(), metadata={"maml_ref": metadata})
    r = post(api, omniglot, paper, raw)
    assert r.status_code == 400, r.content[:300]
    body = r.json()
    assert "nested deeper than 16 levels" in body["checkpoint"][0]
    assert isinstance(body["detail"], str)
    assert not Submission.objects.exists()
