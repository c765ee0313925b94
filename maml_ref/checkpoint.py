"""Checkpoints: safetensors weights with JSON metadata in the safetensors header.

The one check of a checkpoint: the command line, the worker and the site's upload check (form
and API) all call ``load_checkpoint``. Reading never unpickles: the header is parsed and checked
by hand (framing, size, JSON, the number of tensors, dtypes, shapes and byte layout) before
``safetensors`` reads the tensors, and the tensors are checked against the protocol's
architecture (names, shapes) and for non-finite values. Every refusal is a ``CheckpointError``
with a message meant for the person who sent the file, a ``kind`` (a key of ``KINDS``) and
``details`` (the figures and names the message holds), so that a caller can say it in its own
words (the site does: ``evaluator.validation.checkpoints``).
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

MAX_HEADER_BYTES = 4 << 20  # the documented bound (4 MiB) of the JSON header
MAX_TENSORS = 1000  # tensors a header may declare (the reference networks have a few dozen)
MAX_METADATA_DEPTH = 16  # nesting of the JSON metadata (ours is 2 deep); the header's is 3
MAX_HEADER_DEPTH = 3
MAX_HEADER_INT_DIGITS = 20  # a dimension or an offset is under 2**63 (19 digits)
MAX_FILE_BYTES = 512 << 20  # the largest checkpoint read (miniImageNet's is ~0.5 MB)
MAX_NAMES_LISTED = 10  # a message names at most this many tensors ("and N more")
FLOAT_DTYPES = {
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
}
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
OTHER_DTYPES = {"I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}
METADATA_KEY = "maml_ref"  # key of the JSON metadata in the safetensors __metadata__ map

# Every kind of refusal, with the ``details`` each carries.
KINDS = {
    # read_framing (FramingError): the file's first bytes
    "pickle": "a pickle (protocol 2 to 5)",
    "zip": "a zip archive, torch.save's format",
    "short": "shorter than a safetensors framing (details: size)",
    "text": "a text file",
    "other": "no safetensors framing at its start",
    "truncated": "cut inside its header (part='header') or its tensor data (part='data', "
    "declared, available)",
    "header_too_large": "a header over MAX_HEADER_BYTES (length, limit)",
    # the file and its header
    "too_large": "a file over MAX_FILE_BYTES (size, limit)",
    "unreadable": "the file cannot be read, or safetensors refuses it (reason)",
    "header_json": "a header that is not a JSON object (reason)",
    "too_deep": "JSON nested over its bound (part='header' or 'metadata', max_depth)",
    "empty": "a header declaring no tensors",
    "too_many_tensors": "over MAX_TENSORS tensors (count, limit)",
    "layout": "a malformed entry, an unknown dtype, gaps, overlaps or trailing bytes (reason)",
    "dtype": "a tensor whose dtype is not floating point (tensor, dtype)",
    "metadata": "metadata that is not a JSON object (reason)",
    # the tensors against the protocol's network (protocol, missing, extra, wrong: all three
    # in each; the kind is the first that applies), and their values
    "missing_tensor": "a tensor of the network absent",
    "extra_tensor": "a tensor the network does not have",
    "shape": "a tensor of another shape than the network's",
    "non_finite": "NaN or infinite weights (tensors)",
}


class CheckpointError(ValueError):
    """A file that is not an acceptable maml_ref checkpoint: the message says why, ``kind`` (a
    key of ``KINDS``) what sort of refusal it is, ``details`` its figures and names."""

    def __init__(self, message: str, kind: str, **details: Any):
        super().__init__(message)
        self.kind = kind
        self.details = details


class FramingError(CheckpointError):
    """A file whose first bytes are not a safetensors framing (``read_framing``); ``kind`` says
    what it looks like: ``pickle``, ``zip``, ``truncated``, ``header_too_large``, ``short``,
    ``text`` or ``other``."""


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


def listed(names: list[str], most: int = MAX_NAMES_LISTED) -> str:
    """Tensor names for a message: at most ``most`` of them, each cut to 100 characters."""
    shown = ", ".join(name[:100] for name in names[:most])
    more = len(names) - most
    return f"{shown} and {more} more" if more > 0 else shown


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
    """
    framed = len(prefix) >= FRAMING_BYTES and prefix[8:9] == b"{"
    n = struct.unpack("<Q", prefix[:8])[0] if framed else 0
    if framed:
        if 2 <= n <= max_header:
            if 8 + n <= size:
                return n
            raise FramingError(
                f"{name} is truncated: its header is cut off", "truncated", part="header"
            )
        if n > max_header and n <= size:
            raise FramingError(
                f"{name} has a safetensors header of {n} bytes, over the limit of {max_header} "
                f"bytes ({max_header >> 20} MiB)",
                "header_too_large",
                length=n,
                limit=max_header,
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
    if framed and n > max_header:  # and past the file's end: no header of any size fits
        raise FramingError(
            f"{name} is not a safetensors file: its header length, {n} bytes, is over the limit "
            f"of {max_header} bytes ({max_header >> 20} MiB) and past the file's end",
            "header_too_large",
            length=n,
            limit=max_header,
        )
    if size < FRAMING_BYTES:
        raise FramingError(f"{name} is not a safetensors file ({size} bytes)", "short", size=size)
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


def loads_bounded(
    text: str,
    max_depth: int,
    what: str,
    part: str = "metadata",
    max_int_digits: int | None = None,
) -> Any:
    """``json.loads`` refusing a document nested deeper than ``max_depth`` (CheckpointError of
    kind ``too_deep``): Python's parser has no bound of its own and raises RecursionError a few
    thousand levels down. With ``max_int_digits``, an integer of more digits is refused before
    it is converted (kind ``header_json``). ``ValueError`` for text that is not JSON."""
    too_deep = CheckpointError(
        f"{what} is nested deeper than {max_depth} levels",
        "too_deep",
        part=part,
        max_depth=max_depth,
    )

    def parse_int(digits: str) -> int:
        if max_int_digits is not None and len(digits.lstrip("-")) > max_int_digits:
            reason = f"{part} holds an integer of over {max_int_digits} digits"
            raise CheckpointError(
                f"{what} holds an integer of over {max_int_digits} digits",
                "header_json" if part == "header" else "metadata",
                reason=f"its {reason}",
            )
        return int(digits)

    try:
        value = json.loads(text, parse_int=parse_int)
    except RecursionError:
        raise too_deep from None
    if _depth(value) > max_depth:
        raise too_deep
    return value


def _not_safetensors(name: str, kind: str, reason: str, **details: Any) -> CheckpointError:
    return CheckpointError(
        f"{name} is not a safetensors file ({reason})", kind, reason=reason, **details
    )


def _header(raw: bytes, name: str) -> tuple[dict[str, Any], int]:
    n = read_framing(raw[:FRAMING_BYTES], len(raw), name)
    try:
        text = raw[8 : 8 + n].decode("utf-8")
        header = loads_bounded(
            text, MAX_HEADER_DEPTH, f"{name}: its header", "header", MAX_HEADER_INT_DIGITS
        )
    except CheckpointError:
        raise
    except ValueError:  # not UTF-8, not JSON, or an integer of over 4,300 digits
        raise _not_safetensors(name, "header_json", "its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _not_safetensors(name, "header_json", "its header is not a JSON object")
    return header, 8 + n


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63


def _span_fits(shape: list[int], itemsize: int, span: int) -> bool:
    """Whether ``span`` bytes hold a tensor of ``shape``: the product is stopped once past
    ``span`` (a header of 4 MiB can hold a shape whose product has millions of digits)."""
    if 0 in shape:
        return span == 0
    total = itemsize
    for d in shape:
        total *= d
        if total > span:
            return False
    return total == span


def _check_entries(header: dict[str, Any], data_len: int, name: str) -> None:
    """The tensors the header declares: how many, their dtypes, shapes and byte spans, which
    must tile the ``data_len`` bytes after the header exactly."""
    entries = {key: entry for key, entry in header.items() if key != "__metadata__"}
    if not entries:
        raise CheckpointError(f"{name} holds no tensors", "empty")
    if len(entries) > MAX_TENSORS:
        raise CheckpointError(
            f"{name} declares {len(entries)} tensors, over the limit of {MAX_TENSORS}",
            "too_many_tensors",
            count=len(entries),
            limit=MAX_TENSORS,
        )
    spans = []
    for key, entry in entries.items():
        shown = repr(key[:100])
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise _not_safetensors(name, "layout", f"the header entry for {shown} is malformed")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if isinstance(dtype, str) and dtype in OTHER_DTYPES:
            raise CheckpointError(
                f"{name}: tensor {shown} has dtype {dtype!r}; weights must be floats "
                "(F32, F64, F16 or BF16)",
                "dtype",
                tensor=key,
                dtype=dtype,
            )
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            raise _not_safetensors(name, "layout", f"unknown dtype {str(dtype)[:20]!r}")
        if not (
            isinstance(shape, list)
            and all(_is_count(d) for d in shape)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(_is_count(o) for o in offsets)
            and offsets[0] <= offsets[1]
        ):
            raise _not_safetensors(
                name, "layout", f"the shape or data offsets of {shown} are malformed"
            )
        if not _span_fits(shape, DTYPE_BYTES[dtype], offsets[1] - offsets[0]):
            raise _not_safetensors(
                name, "layout", f"the byte span of {shown} does not match its shape and dtype"
            )
        spans.append((offsets[0], offsets[1]))
    spans.sort()
    end = 0
    for begin, stop in spans:
        if begin != end:
            raise _not_safetensors(name, "layout", "its tensors overlap or leave gaps")
        end = stop
    if end > data_len:
        raise CheckpointError(
            f"{name} is truncated: {data_len} bytes of tensor data, {end} expected",
            "truncated",
            part="data",
            declared=end,
            available=data_len,
        )
    if end < data_len:
        raise _not_safetensors(name, "layout", f"{data_len - end} bytes follow the last tensor")


def _metadata(header: dict[str, Any], name: str) -> dict[str, Any]:
    def refuse(reason: str) -> CheckpointError:
        return CheckpointError(f"{name}: {reason}", "metadata", reason=reason)

    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise refuse("its safetensors metadata is not a JSON object")
    raw = metadata.get(METADATA_KEY)
    if raw is None:
        return {}
    if not isinstance(raw, str):
        raise refuse("its maml_ref metadata is not JSON text")
    try:
        meta = loads_bounded(raw, MAX_METADATA_DEPTH, f"{name}: its maml_ref metadata")
    except CheckpointError:
        raise
    except ValueError:  # not JSON, or an integer of over 4,300 digits
        raise refuse("its maml_ref metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise refuse("its maml_ref metadata is not a JSON object")
    return meta


def check_architecture(
    params: dict[str, Tensor], protocol: Protocol, name: str = "checkpoint"
) -> None:
    """CheckpointError unless ``params`` has exactly the protocol network's names and shapes;
    its kind is ``missing_tensor``, ``extra_tensor`` or ``shape`` (the first that applies) and
    its details name them all (``missing``, ``extra``, ``wrong``: (name, shape, expected))."""
    expected = param_shapes(protocol.arch)
    missing = [k for k in expected if k not in params]
    extra = [k for k in params if k not in expected]
    wrong = [
        (k, tuple(params[k].shape), tuple(expected[k]))
        for k in expected
        if k in params and tuple(params[k].shape) != tuple(expected[k])
    ]
    problems = []
    if missing:
        problems.append("missing " + listed(missing))
    if extra:
        problems.append("unexpected " + listed(extra))
    if wrong:
        problems.append(
            "wrong shape "
            + "; ".join(f"{k} {got} (expected {want})" for k, got, want in wrong[:MAX_NAMES_LISTED])
        )
    if problems:
        kind = "missing_tensor" if missing else "extra_tensor" if extra else "shape"
        raise CheckpointError(
            f"{name} does not match the {protocol.name} network ({protocol.arch.kind}, "
            f"{protocol.ways} ways): " + "; ".join(problems),
            kind,
            protocol=protocol.name,
            missing=missing,
            extra=extra,
            wrong=wrong,
        )


def load_checkpoint(
    path: str | Path, protocol: Protocol | None = None, *, protocol_from_metadata: bool = True
) -> Checkpoint:
    """Read and validate a checkpoint. Without ``protocol``, the one named in its metadata (if
    known, and unless ``protocol_from_metadata`` is false) is used for the architecture check."""
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(
                f"{name} is {size} bytes; checkpoints are at most {MAX_FILE_BYTES}",
                "too_large",
                size=size,
                limit=MAX_FILE_BYTES,
            )
        raw = p.read_bytes()
    except OSError as e:  # kept as the error's __context__: the worker tells it apart
        reason = str(e.strerror or e)
        raise CheckpointError(
            f"cannot read {name}: {reason}", "unreadable", reason=reason
        ) from None
    header, start = _header(raw, name)
    _check_entries(header, len(raw) - start, name)
    metadata = _metadata(header, name)
    try:
        loaded = st_load(raw)
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(
            f"{name} is not a valid safetensors file: {e}", "unreadable", reason=str(e)
        ) from None
    params = {k: v.to(torch.float32) for k, v in loaded.items()}
    named = metadata.get("protocol") if protocol_from_metadata else None
    if protocol is None and isinstance(named, str) and named in PROTOCOLS:
        protocol = PROTOCOLS[named]
    if protocol is not None:
        check_architecture(params, protocol, name)
    bad = [k for k, v in params.items() if not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(
            f"{name} has non-finite values (NaN or infinity) in {listed(bad)}",
            "non_finite",
            tensors=bad,
        )
    return Checkpoint(params, metadata)
