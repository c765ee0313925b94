"""The checkpoint reader's bounds: a header of the documented 4 MiB is read, one byte more is
refused as too large (never called a pickle, whatever its length's low byte), and JSON nested
thousands of levels deep or holding a 5,000-digit integer, in the header or in the maml_ref
metadata, is a CheckpointError naming it (Python's parser raised RecursionError or ValueError)."""

import json
import struct

import pytest
from safetensors.torch import save as st_save

from maml_ref.checkpoint import (
    MAX_HEADER_BYTES,
    CheckpointError,
    load_checkpoint,
    read_framing,
)
from maml_ref.protocols import get_protocol

P5W1S = get_protocol("omniglot-5w1s")


def tensors(params) -> dict:
    return {k: v.contiguous() for k, v in params.items()}


def with_header_of(params, size: int, **metadata) -> bytes:
    """The weights with a padding note in their metadata making the header ``size`` bytes."""
    base = st_save(tensors(params), metadata={**metadata, "note": ""})
    (n,) = struct.unpack("<Q", base[:8])
    raw = st_save(tensors(params), metadata={**metadata, "note": "m" * (size - n)})
    assert struct.unpack("<Q", raw[:8])[0] == size
    return raw


def unpadded(raw: bytes, extra_spaces: int = 0) -> bytes:
    """The same file with its header's padding spaces replaced by ``extra_spaces`` of them."""
    (n,) = struct.unpack("<Q", raw[:8])
    header = raw[8 : 8 + n].rstrip(b" ") + b" " * extra_spaces
    return struct.pack("<Q", len(header)) + header + raw[8 + n :]


def test_the_bound_is_the_documented_four_mib():
    assert MAX_HEADER_BYTES == 4 * 1024 * 1024


def test_a_header_of_exactly_four_mib_is_read(tmp_path, omniglot_params):
    path = tmp_path / "big-header.safetensors"
    path.write_bytes(with_header_of(omniglot_params, MAX_HEADER_BYTES))
    ckpt = load_checkpoint(path, P5W1S)
    assert set(ckpt.params) == set(omniglot_params)


def test_a_header_over_the_bound_is_refused_as_too_large_not_as_a_pickle(tmp_path, omniglot_params):
    raw = with_header_of(omniglot_params, MAX_HEADER_BYTES)
    # One to a few hundred bytes over, so that the length's low byte takes the value 0x80.
    for extra in range(1, 400):
        over = unpadded(raw, extra_spaces=0)
        (n,) = struct.unpack("<Q", over[:8])
        over = unpadded(raw, extra_spaces=MAX_HEADER_BYTES + extra - n)
        if struct.unpack("<Q", over[:8])[0] & 0xFF == 0x80:
            break
    assert over[0] == 0x80 and struct.unpack("<Q", over[:8])[0] > MAX_HEADER_BYTES
    path = tmp_path / "over.safetensors"
    path.write_bytes(over)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, P5W1S)
    message = str(info.value)
    assert "over the limit of 4194304 bytes (4 MiB)" in message
    assert "pickle" not in message


def test_a_real_pickle_is_still_called_one():
    import pickle

    raw = pickle.dumps({"conv1.weight": [0.0] * 4})
    with pytest.raises(CheckpointError, match="pickle"):
        read_framing(raw[:9], len(raw))


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    "metadata",
    [
        deep(5000),
        '{"a": ' * 5000 + "1" + "}" * 5000,
        json.dumps({"protocol": "omniglot-5w1s", "x": json.loads(deep(40))}),
    ],
    ids=["list-5000", "object-5000", "object-41"],
)
def test_deep_metadata_is_a_checkpoint_error(tmp_path, omniglot_params, metadata):
    path = tmp_path / "deep.safetensors"
    path.write_bytes(st_save(tensors(omniglot_params), metadata={"maml_ref": metadata}))
    with pytest.raises(CheckpointError, match="metadata is nested deeper than 16 levels"):
        load_checkpoint(path, P5W1S)


def test_a_five_thousand_digit_integer_in_the_metadata_is_a_checkpoint_error(
    tmp_path, omniglot_params
):
    path = tmp_path / "digits.safetensors"
    metadata = '{"iterations": ' + "9" * 5000 + "}"
    path.write_bytes(st_save(tensors(omniglot_params), metadata={"maml_ref": metadata}))
    with pytest.raises(CheckpointError, match="metadata is not JSON"):
        load_checkpoint(path, P5W1S)


def test_a_deep_header_is_a_checkpoint_error(tmp_path):
    header = (
        '{"w": {"dtype": "F32", "shape": ' + deep(5000) + ', "data_offsets": [0, 4]}}'
    ).encode()
    path = tmp_path / "deep-header.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    with pytest.raises(CheckpointError, match="header is nested deeper than 3 levels"):
        load_checkpoint(path, P5W1S)


@pytest.mark.parametrize("digits", [21, 5000])
def test_a_long_integer_in_the_header_is_refused_unconverted(tmp_path, digits):
    header = '{"w": {"dtype": "F32", "shape": [' + "9" * digits + '], "data_offsets": [0, 4]}}'
    path = tmp_path / "digits-header.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 4)
    with pytest.raises(CheckpointError, match="header holds an integer of over 20 digits") as info:
        load_checkpoint(path, P5W1S)
    assert info.value.kind == "header_json"
