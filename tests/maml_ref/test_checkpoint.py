"""Checkpoints: safetensors round trip; every bad file refused with a clear CheckpointError."""

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from maml_ref import __version__
from maml_ref.api import run_evaluate
from maml_ref.checkpoint import CheckpointError, load_checkpoint, metadata_for, save_checkpoint
from maml_ref.model import init_params
from maml_ref.protocols import get_protocol

P5W1S = get_protocol("omniglot-5w1s")


@pytest.fixture
def good(tmp_path, omniglot_params):
    path = tmp_path / "good.safetensors"
    save_checkpoint(path, omniglot_params, metadata_for(P5W1S, iterations=7))
    return path


def test_it_round_trips_weights_and_metadata(good, omniglot_params):
    ckpt = load_checkpoint(good, P5W1S)
    assert ckpt.params.keys() == omniglot_params.keys()
    assert all(torch.equal(ckpt.params[k], omniglot_params[k]) for k in omniglot_params)
    meta = ckpt.metadata
    assert meta["protocol"] == "omniglot-5w1s" and meta["ways"] == 5 and meta["shots"] == 1
    assert meta["maml_ref_version"] == __version__ and meta["iterations"] == 7
    assert meta["architecture"]["kind"] == "conv" and meta["architecture"]["filters"] == 64


def test_it_accepts_plain_safetensors_without_metadata(tmp_path, omniglot_params):
    path = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in omniglot_params.items()}, path)
    assert load_checkpoint(path, P5W1S).metadata == {}


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_it_rejects_pickled_checkpoint_without_unpickling(tmp_path):
    marker = tmp_path / "created-by-unpickling"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"conv1.weight": _Payload(marker)}))
    with pytest.raises(CheckpointError, match="pickle or torch.save"):
        load_checkpoint(path, P5W1S)
    with pytest.raises(CheckpointError):
        run_evaluate(path, "omniglot-5w1s")
    assert not marker.exists()


def test_it_rejects_torch_save_files(tmp_path, omniglot_params):
    path = tmp_path / "model.pt"
    torch.save(omniglot_params, path)
    with pytest.raises(CheckpointError, match="safetensors.torch.save_file"):
        load_checkpoint(path, P5W1S)


def test_it_rejects_a_renamed_text_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("these are my weights, trust me\n" * 3)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(path, P5W1S)


@pytest.mark.parametrize("keep", [4, 100, -1000])
def test_it_rejects_a_truncated_file(good, tmp_path, keep):
    raw = good.read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(raw[:keep])
    with pytest.raises(CheckpointError, match="truncated|not a safetensors"):
        load_checkpoint(path, P5W1S)


def test_it_rejects_weights_of_another_architecture(tmp_path):
    p20 = get_protocol("omniglot-20w1s")
    path = tmp_path / "20way.safetensors"
    save_checkpoint(
        path, init_params(p20.arch, torch.Generator().manual_seed(0)), metadata_for(p20)
    )
    load_checkpoint(path)  # fine for its own protocol, read from its metadata
    with pytest.raises(
        CheckpointError, match=r"wrong shape head.weight \(20, 64\) \(expected \(5, 64\)\)"
    ):
        load_checkpoint(path, P5W1S)


def test_it_names_missing_and_unexpected_tensors(tmp_path, omniglot_params):
    params = dict(omniglot_params)
    params["extra.weight"] = params.pop("bn2.bias")
    path = tmp_path / "renamed.safetensors"
    save_checkpoint(path, params, {})
    with pytest.raises(CheckpointError, match="missing bn2.bias; unexpected extra.weight"):
        load_checkpoint(path, P5W1S)


def test_it_rejects_non_finite_weights(tmp_path, omniglot_params):
    params = dict(omniglot_params)
    params["conv3.weight"] = params["conv3.weight"].clone()
    params["conv3.weight"][0, 0, 0, 0] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_checkpoint(path, params, metadata_for(P5W1S))
    with pytest.raises(CheckpointError, match="non-finite.*conv3.weight"):
        load_checkpoint(path, P5W1S)


def test_it_rejects_integer_tensors_and_bad_metadata(tmp_path, omniglot_params):
    path = tmp_path / "ints.safetensors"
    save_file({"conv1.weight": torch.zeros(64, 1, 3, 3, dtype=torch.int64)}, path)
    with pytest.raises(CheckpointError, match="dtype 'I64'"):
        load_checkpoint(path, P5W1S)
    path = tmp_path / "meta.safetensors"
    save_file(
        {k: v.contiguous() for k, v in omniglot_params.items()},
        path,
        metadata={"maml_ref": "{oops"},
    )
    with pytest.raises(CheckpointError, match="metadata is not JSON"):
        load_checkpoint(path, P5W1S)


def test_it_rejects_a_huge_header_claim(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 40) + json.dumps({}).encode())
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(path, P5W1S)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def entry(dtype="F32", shape=(1,), offsets=(0, 4)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize(
    ("header", "data", "reason"),
    [
        ({"w": {"dtype": "F32"}}, 4, "the header entry for 'w' is malformed"),
        ({"w": entry(dtype="X9")}, 4, "unknown dtype 'X9'"),
        ({"w": entry(dtype=["F32"])}, 4, "unknown dtype"),
        ({"w": entry(shape=(-1,))}, 4, "the shape or data offsets of 'w' are malformed"),
        ({"w": entry(shape=(True,))}, 4, "the shape or data offsets of 'w' are malformed"),
        ({"w": entry(offsets=(4, 0))}, 4, "the shape or data offsets of 'w' are malformed"),
        ({"w": entry(shape=(2,))}, 4, "the byte span of 'w' does not match its shape and dtype"),
        ({"w": entry(shape=[2**62] * 3)}, 4, "the byte span of 'w' does not match"),
        ({"a": entry(), "b": entry(offsets=(8, 12))}, 12, "its tensors overlap or leave gaps"),
        ({"a": entry(), "b": entry()}, 8, "its tensors overlap or leave gaps"),
        ({"w": entry()}, 8, "4 bytes follow the last tensor"),
    ],
)
def test_it_checks_the_layout_the_header_declares(tmp_path, header, data, reason):
    raw = json.dumps(header).encode()
    path = tmp_path / "layout.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data)
    with pytest.raises(CheckpointError, match="not a safetensors file") as info:
        load_checkpoint(path, P5W1S)
    assert info.value.kind == "layout"
    assert reason in info.value.details["reason"]


def test_it_reads_a_protocol_of_another_type_in_the_metadata_as_none(tmp_path, omniglot_params):
    path = tmp_path / "odd-protocol.safetensors"
    save_checkpoint(path, omniglot_params, {"protocol": ["omniglot-5w1s"]})
    assert load_checkpoint(path).metadata["protocol"] == ["omniglot-5w1s"]
