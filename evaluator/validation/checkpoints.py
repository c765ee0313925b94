"""The upload check of a checkpoint: maml_ref's own (``maml_ref.checkpoint.load_checkpoint``, the
check the worker makes), its refusals told in the form's and the API's words.

The upload's size comes first, from the upload, never by reading it (``UploadTooLarge``: the
API's 413); a file not named ``.safetensors`` is refused, as a pickle or a zip where its first
bytes are one. The rest is maml_ref's, on the upload's temporary file: the framing, the header
(JSON, at most ``MAX_TENSORS`` tensors, floating-point dtypes, shapes, byte layout), the
metadata, the protocol network's names and shapes, finite weights; nothing is unpickled.
``MESSAGES`` gives each kind of ``CheckpointError`` (``maml_ref.checkpoint.KINDS``) its code and
the message of the form's field error and the API's 400. maml_ref, and torch with it, is imported
when a checkpoint is checked, not when a web process starts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from .uploads import (
    CHECKPOINT_SUFFIX,
    UploadTooLarge,
    _read_exactly,
    _user_named,
    human_size,
    max_checkpoint_bytes,
    upload_path,
)

NOT_SAFETENSORS = "This is not a safetensors file"
PICKLE_MESSAGE = (
    "This is a pickled file (torch.save or pickle): pickled/torch.save files are refused because "
    "loading them can run code. Save the weights with safetensors "
    "(safetensors.torch.save_file) and upload the .safetensors file."
)
ZIP_MESSAGE = (
    "This is a zip archive, the format torch.save writes: pickled/torch.save files are "
    "refused because loading them can run code. Save the weights with safetensors "
    "(safetensors.torch.save_file) and upload the .safetensors file."
)


@dataclass(frozen=True)
class CheckpointSummary:
    size: int
    tensors: dict[str, tuple[int, ...]]
    metadata: dict[str, Any]  # maml_ref's metadata (protocol, architecture, ...); {} if none

    @property
    def parameter_count(self) -> int:
        return sum(math.prod(shape) for shape in self.tensors.values())


def _listed(names: list[str]) -> str:
    from maml_ref.checkpoint import listed

    return listed(names)


def _truncated(d: dict, name: str) -> str:
    if d.get("part") == "data":
        return (
            f"The safetensors file is truncated: its header declares {d['declared']} bytes of "
            f"tensor data but only {d['available']} follow."
        )
    return "The safetensors file is truncated: it ends inside its header."


def _header_too_large(d: dict, name: str) -> str:
    from maml_ref.checkpoint import MAX_TENSORS

    return (
        f"The safetensors header is {human_size(d['length'])}, over the limit of "
        f"{human_size(d['limit'])} (at most {MAX_TENSORS} tensors): the reference network has "
        "a few dozen."
    )


def _too_deep(d: dict, name: str) -> str:
    if d.get("part") == "header":
        return f"{NOT_SAFETENSORS}: its header is nested deeper than {d['max_depth']} levels."
    return f"{name}: its maml_ref metadata is nested deeper than {d['max_depth']} levels."


def _not_fitting(d: dict, name: str) -> str:
    problems = []
    if d["missing"]:
        problems.append(f"missing tensors {_listed(sorted(d['missing']))}")
    if d["extra"]:
        problems.append(f"unexpected tensors {_listed(sorted(d['extra']))}")
    for tensor, got, want in sorted(d["wrong"]):
        problems.append(f"tensor {tensor} has shape {list(got)}, expected {list(want)}")
    return (
        f"The checkpoint does not fit the network of protocol {d['protocol']}: "
        + "; ".join(problems)
        + "."
    )


def _non_finite(d: dict, name: str) -> str:
    names = [repr(t[:100]) for t in d["tensors"]]
    if len(names) == 1:
        return f"Tensor {names[0]} holds NaN or infinite weights."
    return f"Tensors {_listed(names)} hold NaN or infinite weights."


# Each kind of maml_ref's CheckpointError: (the ValidationError's code, its message from the
# error's details and the user's file name).
MESSAGES: dict[str, tuple[str, Callable[[dict, str], str]]] = {
    "pickle": ("pickle", lambda d, name: PICKLE_MESSAGE),
    "zip": ("pickle", lambda d, name: ZIP_MESSAGE),
    "short": (
        "not_safetensors",
        lambda d, name: f"{NOT_SAFETENSORS}: it is only {d['size']} bytes long.",
    ),
    "text": ("not_safetensors", lambda d, name: f"{NOT_SAFETENSORS}: it is a text file."),
    "other": (
        "not_safetensors",
        lambda d, name: f"{NOT_SAFETENSORS}: its first bytes are not a safetensors header.",
    ),
    "truncated": ("truncated", _truncated),
    "header_too_large": ("header_too_large", _header_too_large),
    "too_large": (
        "too_large",
        lambda d, name: (
            f"The file is too large ({human_size(d['size'])}): checkpoints are limited to "
            f"{human_size(d['limit'])}."
        ),
    ),
    "unreadable": (
        "not_safetensors",
        lambda d, name: f"The safetensors file could not be read: {d['reason']}",
    ),
    "header_json": ("not_safetensors", lambda d, name: f"{NOT_SAFETENSORS}: {d['reason']}."),
    "too_deep": ("not_safetensors", _too_deep),
    "empty": ("empty", lambda d, name: "The checkpoint holds no tensors."),
    "too_many_tensors": (
        "too_many_tensors",
        lambda d, name: (
            f"The checkpoint declares {d['count']} tensors, over the limit of {d['limit']}: "
            "the reference network has a few dozen."
        ),
    ),
    "layout": ("not_safetensors", lambda d, name: f"{NOT_SAFETENSORS}: {d['reason']}."),
    "dtype": (
        "dtype",
        lambda d, name: (
            f"Tensor {d['tensor'][:100]!r} has dtype {d['dtype']}: a checkpoint's weights must "
            "be floating point (F32, F64, F16 or BF16)."
        ),
    ),
    "metadata": ("metadata", lambda d, name: f"{name}: {d['reason']}."),
    "missing_tensor": ("shape", _not_fitting),
    "extra_tensor": ("shape", _not_fitting),
    "shape": ("shape", _not_fitting),
    "non_finite": ("non_finite", _non_finite),
}


def refusal(exc, uploaded, path: str | None = None) -> ValidationError:
    """The form's and the API's ValidationError for maml_ref's ``CheckpointError`` ``exc`` on
    ``uploaded`` (read at ``path``): the message of its kind, naming the user's file only."""
    name = os.path.basename(getattr(uploaded, "name", "") or "") or "the checkpoint"
    code, say = MESSAGES.get(exc.kind, ("checkpoint", None))
    message = say(exc.details, name) if say else str(exc)
    if path:
        message = _user_named(message, path, uploaded)
    return ValidationError(message, code=code)


def _refuse_by_magic(uploaded) -> None:
    """For a file of another name: refuse a pickle or zip by name, whatever its framing."""
    from maml_ref.checkpoint import FRAMING_BYTES, FramingError, read_framing

    uploaded.seek(0)
    try:
        read_framing(_read_exactly(uploaded, FRAMING_BYTES), uploaded.size)
    except FramingError as exc:
        if exc.kind in ("pickle", "zip"):
            raise refusal(exc, uploaded) from None


def check_checkpoint(uploaded, maml_protocol_name: str | None = None) -> CheckpointSummary:
    """The upload check: its size, its name, then maml_ref's ``load_checkpoint`` against the
    network of ``maml_protocol_name`` (none if None or unknown to maml_ref); raises
    ValidationError with the message and code of ``MESSAGES``."""
    limit = max_checkpoint_bytes()
    if uploaded.size > limit:
        raise UploadTooLarge(limit, uploaded.size)
    if not (uploaded.name or "").lower().endswith(CHECKPOINT_SUFFIX):
        _refuse_by_magic(uploaded)
        raise ValidationError(
            f"Upload a {CHECKPOINT_SUFFIX} file (got {os.path.basename(uploaded.name or '')!r}).",
            code="file_type",
        )
    from maml_ref.checkpoint import CheckpointError, load_checkpoint
    from maml_ref.protocols import get_protocol

    try:
        protocol = get_protocol(maml_protocol_name) if maml_protocol_name else None
    except (KeyError, ValueError):
        protocol = None
    with upload_path(uploaded) as path:
        try:
            checkpoint = load_checkpoint(path, protocol, protocol_from_metadata=False)
        except CheckpointError as exc:
            raise refusal(exc, uploaded, path) from None
    uploaded.seek(0)
    return CheckpointSummary(
        size=uploaded.size,
        tensors={name: tuple(t.shape) for name, t in checkpoint.params.items()},
        metadata=checkpoint.metadata,
    )
