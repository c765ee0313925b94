"""Checks on what a submitter uploads, run before anything is stored or queued.

A checkpoint is read in bounded steps: its size first (from the upload, never by reading it all),
then the 8-byte header length and the JSON header of the safetensors format, then the layout of
the tensors it declares (a truncated file is caught here), then the shapes the protocol expects,
and only then the tensor data itself (finite weights), through ``safetensors`` or maml_ref's own
loader, neither of which ever unpickles. A pickle (``torch.save``) is recognised by its first
bytes and refused with a message that says what to send instead.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from leaderboard.core.json_bounds import JSONBoundError, loads_bounded

from .uploads import (
    CHECKPOINT_SUFFIX,
    UploadTooLarge,
    _user_named,
    human_size,
    max_checkpoint_bytes,
    upload_path,
)

# maml_ref.checkpoint.MAX_HEADER_BYTES, which the worker applies too: one limit for every reader
# (docs/security.md; a test holds them equal). Not imported: that module imports torch, which
# the web processes do not load until a checkpoint is checked.
MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_TENSORS = 1000
# A message lists at most this many tensor names (a header of 60,000 names is not echoed back).
MAX_NAMES_LISTED = 10

# Sizes of the safetensors dtypes; only floating-point weights make an initialisation.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
OTHER_DTYPES = {"I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}

PICKLE_MESSAGE = (
    "This is a pickled file (torch.save or pickle): pickled/torch.save files are refused because "
    "loading them can run code. Save the weights with safetensors "
    "(safetensors.torch.save_file) and upload the .safetensors file."
)


@dataclass(frozen=True)
class CheckpointSummary:
    size: int
    tensors: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    metadata: dict[str, str]

    @property
    def parameter_count(self) -> int:
        return sum(math.prod(shape) for shape in self.tensors.values())


def _read_exactly(fileobj, n: int) -> bytes:
    chunks, left = [], n
    while left > 0:
        chunk = fileobj.read(min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


ZIP_MESSAGE = (
    "This is a zip archive, the format torch.save writes: pickled/torch.save files are "
    "refused because loading them can run code. Save the weights with safetensors "
    "(safetensors.torch.save_file) and upload the .safetensors file."
)


def _framing(first: bytes, size: int) -> int:
    """The header length, by maml_ref's one framing rule (length and ``{`` first, then what a
    failing file looks like); its refusals as this form's messages and codes."""
    from maml_ref.checkpoint import FramingError, read_framing

    not_st = "This is not a safetensors file"
    try:
        return read_framing(first, size, max_header=MAX_HEADER_BYTES)
    except FramingError as exc:
        message, code = {
            "pickle": (PICKLE_MESSAGE, "pickle"),
            "zip": (ZIP_MESSAGE, "pickle"),
            "truncated": (
                "The safetensors file is truncated: it ends inside its header.",
                "truncated",
            ),
            "too_large": (
                f"The safetensors header is over the limit of {human_size(MAX_HEADER_BYTES)}.",
                "header_too_large",
            ),
            "short": (f"{not_st}: it is only {size} bytes long.", "not_safetensors"),
            "text": (f"{not_st}: it is a text file.", "not_safetensors"),
        }.get(
            exc.kind,
            (f"{not_st}: its first bytes are not a safetensors header.", "not_safetensors"),
        )
        raise ValidationError(message, code=code) from None


def _refuse_by_magic(first: bytes, size: int | None = None) -> None:
    """For a file of another name: refuse a pickle or zip by name, whatever its framing."""
    from maml_ref.checkpoint import FramingError, read_framing

    try:
        read_framing(first, len(first) if size is None else size)
    except FramingError as exc:
        if exc.kind == "pickle":
            raise ValidationError(PICKLE_MESSAGE, code="pickle") from None
        if exc.kind == "zip":
            raise ValidationError(ZIP_MESSAGE, code="pickle") from None


def read_safetensors_header(fileobj, size: int) -> CheckpointSummary:
    """Parse and check the header and layout of a safetensors file, reading the header only."""
    from maml_ref.checkpoint import FRAMING_BYTES

    not_st = "This is not a safetensors file"
    fileobj.seek(0)
    first = _read_exactly(fileobj, FRAMING_BYTES)
    if len(first) == FRAMING_BYTES and first[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", first[:8])
        if header_len > MAX_HEADER_BYTES:
            raise ValidationError(
                f"The safetensors header is {human_size(header_len)}, over the limit of "
                f"{human_size(MAX_HEADER_BYTES)} (at most {MAX_TENSORS} tensors): the reference "
                "network has a few dozen.",
                code="header_too_large",
            )
    header_len = _framing(first, size)
    fileobj.seek(8)
    raw = _read_exactly(fileobj, header_len)
    try:
        header = loads_bounded(raw, max_bytes=MAX_HEADER_BYTES, max_depth=3, what="Its header")
    except JSONBoundError as exc:
        raise ValidationError(f"{not_st}: {exc}", code="not_safetensors") from None
    except ValueError:
        raise ValidationError(
            f"{not_st}: its header is not valid JSON.", code="not_safetensors"
        ) from None
    if not isinstance(header, dict):
        raise ValidationError(f"{not_st}: its header is not a JSON object.", code="not_safetensors")

    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise ValidationError(f"{not_st}: its metadata is not an object.", code="not_safetensors")
    if not header:
        raise ValidationError("The checkpoint holds no tensors.", code="empty")
    if len(header) > MAX_TENSORS:
        raise ValidationError(
            f"The checkpoint declares {len(header)} tensors, over the limit of {MAX_TENSORS}: "
            "the reference network has a few dozen.",
            code="too_many_tensors",
        )

    buffer_len = size - 8 - header_len
    tensors: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, str] = {}
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise ValidationError(
                f"{not_st}: the header entry for {name[:100]!r} is malformed.",
                code="not_safetensors",
            )
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype in OTHER_DTYPES:
            raise ValidationError(
                f"Tensor {name[:100]!r} has dtype {dtype}: a checkpoint's weights must be floating "
                "point (F32, F64, F16 or BF16).",
                code="dtype",
            )
        if dtype not in DTYPE_BYTES:
            raise ValidationError(f"{not_st}: unknown dtype {dtype!r}.", code="not_safetensors")
        valid_shape = isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        )
        valid_offsets = (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
            and offsets[0] <= offsets[1]
        )
        if not (valid_shape and valid_offsets):
            raise ValidationError(
                f"{not_st}: the shape or offsets of {name[:100]!r} are malformed.",
                code="not_safetensors",
            )
        if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise ValidationError(
                f"{not_st}: the byte span of {name[:100]!r} does not match its shape and dtype.",
                code="not_safetensors",
            )
        tensors[name] = tuple(shape)
        dtypes[name] = dtype
        spans.append(tuple(offsets))

    spans.sort()
    expected_start = 0
    for begin, end in spans:
        if begin != expected_start:
            raise ValidationError(
                f"{not_st}: its tensors overlap or leave gaps.", code="not_safetensors"
            )
        expected_start = end
    if expected_start > buffer_len:
        raise ValidationError(
            f"The safetensors file is truncated: its header declares {expected_start} bytes of "
            f"tensor data but only {buffer_len} follow.",
            code="truncated",
        )
    if expected_start < buffer_len:
        raise ValidationError(
            f"{not_st}: {buffer_len - expected_start} bytes follow the last tensor.",
            code="not_safetensors",
        )
    return CheckpointSummary(
        size=size,
        tensors=tensors,
        dtypes=dtypes,
        metadata={str(k): str(v) for k, v in metadata.items()},
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(name[:100] for name in names[:MAX_NAMES_LISTED])
    more = len(names) - MAX_NAMES_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def check_shapes(summary: CheckpointSummary, expected: dict[str, tuple[int, ...]], label: str):
    """Every tensor the protocol's network needs, of its shape, and nothing else."""
    problems = []
    missing = sorted(set(expected) - set(summary.tensors))
    extra = sorted(set(summary.tensors) - set(expected))
    if missing:
        problems.append(f"missing tensors {_names(missing)}")
    if extra:
        problems.append(f"unexpected tensors {_names(extra)}")
    for name in sorted(set(expected) & set(summary.tensors)):
        got, want = tuple(summary.tensors[name]), tuple(expected[name])
        if got != want:
            problems.append(f"tensor {name} has shape {list(got)}, expected {list(want)}")
    if problems:
        raise ValidationError(
            f"The checkpoint does not fit the network of {label}: " + "; ".join(problems) + ".",
            code="shape",
        )


def check_finite(path: str) -> None:
    """Every weight finite, read tensor by tensor through safetensors (no pickle involved)."""
    import torch
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as f:
            for name in f.keys():
                if not torch.isfinite(f.get_tensor(name)).all():
                    raise ValidationError(
                        f"Tensor {name!r} holds NaN or infinite weights.", code="non_finite"
                    )
    except ValidationError:
        raise
    except Exception as exc:  # safetensors' own errors on a corrupt body
        raise ValidationError(
            f"The safetensors file could not be read: {exc}", code="not_safetensors"
        ) from None


def _maml_ref_checks(path: str, maml_protocol_name: str) -> None:
    """maml_ref's own loader: the check the worker will make, done before queueing."""
    try:
        from maml_ref import checkpoint, protocols
    except ImportError:
        return
    try:
        checkpoint.load_checkpoint(path, protocol=protocols.get_protocol(maml_protocol_name))
    except checkpoint.CheckpointError as exc:
        raise ValidationError(str(exc), code="checkpoint") from None


def expected_shapes(maml_protocol_name: str) -> dict[str, tuple[int, ...]] | None:
    """The tensor shapes of the protocol's network, from maml_ref (None if it cannot say)."""
    try:
        from maml_ref.model import param_shapes
        from maml_ref.protocols import get_protocol
    except ImportError:
        return None
    try:
        arch = get_protocol(maml_protocol_name).arch
    except (KeyError, ValueError):
        return None
    return {name: tuple(shape) for name, shape in param_shapes(arch).items()}


def check_checkpoint(uploaded, maml_protocol_name: str | None = None) -> CheckpointSummary:
    """All the checks on an uploaded checkpoint; raises ValidationError with a clear message."""
    limit = max_checkpoint_bytes()
    if uploaded.size > limit:
        raise UploadTooLarge(limit, uploaded.size)
    if not (uploaded.name or "").lower().endswith(CHECKPOINT_SUFFIX):
        uploaded.seek(0)
        _refuse_by_magic(_read_exactly(uploaded, 9), uploaded.size)
        raise ValidationError(
            f"Upload a {CHECKPOINT_SUFFIX} file (got {os.path.basename(uploaded.name or '')!r}).",
            code="file_type",
        )
    summary = read_safetensors_header(uploaded, uploaded.size)
    if maml_protocol_name:
        shapes = expected_shapes(maml_protocol_name)
        if shapes is not None:
            check_shapes(summary, shapes, f"protocol {maml_protocol_name}")
    with upload_path(uploaded) as path:
        try:
            check_finite(path)
            if maml_protocol_name:
                _maml_ref_checks(path, maml_protocol_name)
        except ValidationError as exc:
            message = _user_named(" ".join(exc.messages), path, uploaded)
            raise ValidationError(message, code=getattr(exc, "code", None)) from None
    uploaded.seek(0)
    return summary
