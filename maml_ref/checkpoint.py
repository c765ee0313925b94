"""Checkpoints: safetensors weights with JSON metadata in the safetensors header.

Reading never unpickles: the header is parsed and checked by hand (size, JSON, dtypes, offsets)
before ``safetensors`` reads the tensors, and the tensors are checked against the protocol's
architecture (names, shapes) and for non-finite values. Every refusal is a ``CheckpointError``
with a message meant for the person who uploaded the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor

from . import __version__
from .model import param_shapes
from .protocols import PROTOCOLS, Protocol

MAX_HEADER_BYTES = 4 << 20  # the documented bound (4 MiB), the site's upload check's too
MAX_METADATA_DEPTH = 16  # nesting of the JSON metadata (ours is 2 deep); the header's is 3
MAX_FILE_BYTES = 512 << 20  # the largest checkpoint read (miniImageNet's is ~0.5 MB)
FLOAT_DTYPES = {
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
}
METADATA_KEY = "maml_ref"  # key of the JSON metadata in the safetensors __metadata__ map


class CheckpointError(ValueError):
    """A file that is not an acceptable maml_ref checkpoint; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    params: dict[str, Tensor]  # float32 tensors, named as in ``model.param_shapes``
    metadata: dict[str, Any]  # architecture, ways, shots, protocol, maml_ref_version, ...


def metadata_for(protocol: Protocol, **extra: Any) -> dict[str, Any]:
    """The standard metadata of a checkpoint for ``protocol``."""
    return {
        "protocol": protocol.name,
        "architecture": dataclasses.asdict(protocol.arch),
        "ways": protocol.ways,
        "shots": protocol.shots,
        "maml_ref_version": __version__,
        **extra,
    }


def save_checkpoint(path: str | Path, params: dict[str, Tensor], metadata: dict[str, Any]) -> None:
    """Write ``params`` (as float32) and ``metadata`` (JSON-able) to a safetensors file."""
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in params.items()}
    meta = {"maml_ref_version": __version__, **metadata}
    data = st_save(tensors, metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})
    tmp = Path(f"{path}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class FramingError(CheckpointError):
    """A file whose first bytes are not a safetensors framing; ``kind`` says what it looks like:
    ``pickle``, ``zip``, ``truncated``, ``short``, ``text`` or ``other``."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


FRAMING_BYTES = 9  # the 8-byte header length and the header's first byte


def _looks_like_text(prefix: bytes) -> bool:
    try:
        text = prefix.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def read_framing(
    prefix: bytes, size: int, name: str = "checkpoint", max_header: int = MAX_HEADER_BYTES
) -> int:
    """The header length of a safetensors file from its first ``FRAMING_BYTES`` bytes.

    The framing is tried first: an 8-byte little-endian length ``n`` followed by a JSON header
    that begins with ``{``; ``n`` at most ``max_header`` and within the file. A framed file over
    the bound is refused as such. Only a file that fails the framing is classified (a pickle, a
    zip, text, a truncated file) for the message, so that a valid file whose length happens to
    begin with a pickle opcode (0x80) or with "PK" is never refused, nor told it is a pickle.
    Used by ``load_checkpoint`` and by the site's upload check alike.
    """
    if len(prefix) >= FRAMING_BYTES and prefix[8:9] == b"{":
        (n,) = struct.unpack("<Q", prefix[:8])
        if 2 <= n <= max_header:
            if 8 + n <= size:
                return n
            raise FramingError(f"{name} is truncated: its header is cut off", "truncated")
        if n > max_header and n <= size:
            raise FramingError(
                f"{name} has a safetensors header of {n} bytes, over the limit of {max_header} "
                f"bytes ({max_header >> 20} MiB)",
                "too_large",
            )
    # A pickle begins with the PROTO opcode and a protocol number (2 to 5: torch.save's own
    # format is a zip, below).
    if prefix[:1] == b"\x80" and prefix[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise FramingError(
            f"{name} is a pickle or torch.save file; maml_ref never unpickles uploads. Save the "
            "weights with safetensors.torch.save_file(state_dict, 'model.safetensors')",
            "pickle",
        )
    if prefix[:2] == b"PK":
        raise FramingError(
            f"{name} is a zip archive, the format torch.save writes (a pickle or torch.save "
            "file); maml_ref never unpickles uploads. Save the weights with "
            "safetensors.torch.save_file(state_dict, 'model.safetensors')",
            "zip",
        )
    if size < FRAMING_BYTES:
        raise FramingError(f"{name} is not a safetensors file ({size} bytes)", "short")
    if _looks_like_text(prefix):
        raise FramingError(f"{name} is not a safetensors file (it is text)", "text")
    raise FramingError(f"{name} is not a safetensors file (no valid header at its start)", "other")


def _depth(value) -> int:
    """The nesting depth of parsed JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def loads_bounded(text: str, max_depth: int, what: str) -> Any:
    """``json.loads`` refusing a document nested deeper than ``max_depth`` (CheckpointError):
    Python's parser has no bound of its own and raises RecursionError a few thousand levels
    down. ``ValueError`` for text that is not JSON."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise CheckpointError(f"{what} is nested deeper than {max_depth} levels") from None
    if _depth(value) > max_depth:
        raise CheckpointError(f"{what} is nested deeper than {max_depth} levels")
    return value


def _header(raw: bytes, name: str) -> tuple[dict[str, Any], int]:
    n = read_framing(raw[:FRAMING_BYTES], len(raw), name)
    try:
        header = loads_bounded(raw[8 : 8 + n].decode("utf-8"), 3, f"{name}: its header")
    except CheckpointError:
        raise
    except ValueError:  # not UTF-8, not JSON, or an integer of over 4,300 digits
        raise CheckpointError(
            f"{name} is not a safetensors file (its header is not JSON)"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{name} is not a safetensors file (its header is not a JSON object)")
    return header, 8 + n


def _check_entries(header: dict[str, Any], data_len: int, name: str) -> None:
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in FLOAT_DTYPES:
            dtype = entry.get("dtype") if isinstance(entry, dict) else None
            raise CheckpointError(
                f"{name}: tensor {key!r} has dtype {dtype!r}; weights must be floats"
            )
        offsets = entry.get("data_offsets")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
        ):
            raise CheckpointError(f"{name}: tensor {key!r} has no valid data offsets")
        end = max(end, offsets[1])
    if end > data_len:
        raise CheckpointError(
            f"{name} is truncated: {data_len} bytes of tensor data, {end} expected"
        )


def _metadata(header: dict[str, Any], name: str) -> dict[str, Any]:
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{name}: its safetensors metadata is not a JSON object")
    raw = metadata.get(METADATA_KEY)
    if raw is None:
        return {}
    if not isinstance(raw, str):
        raise CheckpointError(f"{name}: its maml_ref metadata is not JSON text")
    try:
        meta = loads_bounded(raw, MAX_METADATA_DEPTH, f"{name}: its maml_ref metadata")
    except CheckpointError:
        raise
    except ValueError:  # not JSON, or an integer of over 4,300 digits
        raise CheckpointError(f"{name}: its maml_ref metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: its maml_ref metadata is not a JSON object")
    return meta


def check_architecture(
    params: dict[str, Tensor], protocol: Protocol, name: str = "checkpoint"
) -> None:
    """CheckpointError unless ``params`` has exactly the protocol network's names and shapes."""
    expected = param_shapes(protocol.arch)
    missing = [k for k in expected if k not in params]
    extra = [k for k in params if k not in expected]
    wrong = [
        f"{k} {tuple(params[k].shape)} (expected {expected[k]})"
        for k in expected
        if k in params and tuple(params[k].shape) != expected[k]
    ]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if extra:
        problems.append("unexpected " + ", ".join(extra))
    if wrong:
        problems.append("wrong shape " + "; ".join(wrong))
    if problems:
        raise CheckpointError(
            f"{name} does not match the {protocol.name} network ({protocol.arch.kind}, "
            f"{protocol.ways} ways): " + "; ".join(problems)
        )


def load_checkpoint(path: str | Path, protocol: Protocol | None = None) -> Checkpoint:
    """Read and validate a checkpoint. Without ``protocol``, the one named in its metadata (if
    known) is used for the architecture check."""
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(
                f"{name} is {size} bytes; checkpoints are at most {MAX_FILE_BYTES}"
            )
        raw = p.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {name}: {e.strerror or e}") from None
    header, start = _header(raw, name)
    _check_entries(header, len(raw) - start, name)
    metadata = _metadata(header, name)
    try:
        loaded = st_load(raw)
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"{name} is not a valid safetensors file: {e}") from None
    params = {k: v.to(torch.float32) for k, v in loaded.items()}
    if protocol is None and metadata.get("protocol") in PROTOCOLS:
        protocol = PROTOCOLS[metadata["protocol"]]
    if protocol is not None:
        check_architecture(params, protocol, name)
    bad = [k for k, v in params.items() if not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{name} has non-finite values (NaN or infinity) in {', '.join(bad)}")
    return Checkpoint(params, metadata)
