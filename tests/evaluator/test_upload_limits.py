"""Checkpoint header limits with one clear message each, and the upload folder's start-up sweep.

(A header that claims 100,000 tensors was called "a pickled file" when its length's low byte
was 0x80; a 60,000-tensor one was answered with every name.)"""

import json
import os
import struct
import time

import pytest
from django.core.exceptions import ValidationError

from evaluator.validation import check_checkpoint
from evaluator.validation.uploads import sweep_stale_uploads
from maml_ref.checkpoint import MAX_HEADER_BYTES, MAX_TENSORS
from tests.evaluator.web_helpers import upload


def safetensors_with(n_tensors: int, pad_to_low_byte_0x80: bool = False) -> bytes:
    header = {
        f"layer{i}.weight": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
        for i in range(n_tensors)
    }
    raw = json.dumps(header).encode()
    if pad_to_low_byte_0x80:
        raw += b" " * ((0x80 - len(raw)) % 256)
        assert len(raw) & 0xFF == 0x80
    return struct.pack("<Q", len(raw)) + raw + b"\0" * (4 * n_tensors)


def test_a_header_whose_length_starts_with_0x80_is_not_called_a_pickle():
    with pytest.raises(ValidationError) as exc:
        check_checkpoint(upload(safetensors_with(2000, pad_to_low_byte_0x80=True)))
    message = " ".join(exc.value.messages)
    assert "pickle" not in message
    assert f"declares 2000 tensors, over the limit of {MAX_TENSORS}" in message


def test_an_over_large_header_says_the_limit():
    too_big = MAX_HEADER_BYTES + 1
    content = struct.pack("<Q", too_big) + b"{" + b" " * 64
    with pytest.raises(ValidationError) as exc:
        check_checkpoint(upload(content))
    message = exc.value.messages[0]
    assert "over the limit of 4.0 MB" in message
    assert exc.value.code == "header_too_large"


def test_a_refusal_does_not_list_thousands_of_tensor_names():
    with pytest.raises(ValidationError) as exc:
        check_checkpoint(upload(safetensors_with(900)), "omniglot-5w1s")
    message = " ".join(exc.value.messages)
    assert "and 890 more" in message
    assert len(message) < 2000


def test_the_start_up_sweep_removes_stale_upload_files_only(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_STALE_SECONDS = 600
    stale = tmp_path / "tmpabc.upload.safetensors"
    fresh = tmp_path / "tmpdef.upload.safetensors"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert sweep_stale_uploads() == [stale.name]
    assert not stale.exists() and fresh.exists()


def test_the_app_sweeps_at_start_up(settings, tmp_path):
    from django.apps import apps

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    left = tmp_path / "tmpkilled.upload.safetensors"
    left.write_bytes(b"z" * 100)
    os.utime(left, (0, 0))
    apps.get_app_config("evaluator").ready()
    assert not left.exists()
