"""Checks on what a submitter uploads, run before anything is stored or queued.

A checkpoint is read in bounded steps: its size first (from the upload, never by reading it all),
then the 8-byte header length and the JSON header of the safetensors format, then the layout of
the tensors it declares (a truncated file is caught here), then the shapes the protocol expects,
and only then the tensor data itself (finite weights), through ``safetensors`` or maml_ref's own
loader, neither of which ever unpickles. The framing is maml_ref's one rule
(``maml_ref.checkpoint.read_framing``): the length and a header beginning with ``{`` are tried
first, and only a file that fails them is recognised as a pickle (``torch.save``), a zip or text
and refused with a message that says what to send instead.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

CHECKPOINT_SUFFIX = ".safetensors"
MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 256 * 1024
# Room for the form fields around the file in a multipart body.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024

# Sizes of the safetensors dtypes; only floating-point weights make an initialisation.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
OTHER_DTYPES = {"I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}

PICKLE_MESSAGE = (
    "This is a pickled file (torch.save or pickle): pickled/torch.save files are refused because "
    "loading them can run code. Save the weights with safetensors "
    "(safetensors.torch.save_file) and upload the .safetensors file."
)


def max_checkpoint_bytes() -> int:
    return int(settings.MAX_CHECKPOINT_BYTES)


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


class UploadTooLarge(ValidationError):
    """An upload over the limit: the API answers 413 for it, the form a field error."""

    def __init__(self, limit: int, size: int | None = None):
        got = f" ({human_size(size)})" if size is not None else ""
        super().__init__(
            f"The file is too large{got}: checkpoints are limited to {human_size(limit)}.",
            code="too_large",
        )


# --------------------------------------------------------------------------- request bounds


class BoundedUploadHandler(FileUploadHandler):
    """Stops reading a multipart body as soon as one file passes the checkpoint limit.

    It goes first in ``request.upload_handlers``; the view then sees
    ``request.upload_too_large`` and answers 413 (API) or a field error (form), having read at
    most the limit plus one chunk of that file.
    """

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = limit if limit is not None else max_checkpoint_bytes()
        self.received = 0

    def new_file(self, field_name, *args, **kwargs):
        self.received = 0
        return super().new_file(field_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = self.field_name
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


def install_upload_bound(request) -> None:
    """Put the bounded handler first; call before anything reads ``request.POST``/``FILES``."""
    request.upload_too_large = None
    request.upload_handlers.insert(0, BoundedUploadHandler(request))


def declared_body_too_large(request) -> bool:
    """True when the declared body length alone is over the limit (nothing read yet)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > max_checkpoint_bytes() + MULTIPART_OVERHEAD_BYTES


# --------------------------------------------------------------------------- checkpoints


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
            "short": (f"{not_st}: it is only {size} bytes long.", "not_safetensors"),
            "text": (f"{not_st}: it is a text file.", "not_safetensors"),
        }.get(
            exc.kind,
            (f"{not_st}: its first bytes are not a safetensors header.", "not_safetensors"),
        )
        raise ValidationError(message, code=code) from None


def _refuse_by_magic(first: bytes, size: int) -> None:
    """For a file of another name: refuse a pickle or zip by name, whatever its framing."""
    from maml_ref.checkpoint import FramingError, read_framing

    try:
        read_framing(first, size)
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
    header_len = _framing(_read_exactly(fileobj, FRAMING_BYTES), size)
    fileobj.seek(8)
    raw = _read_exactly(fileobj, header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
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

    buffer_len = size - 8 - header_len
    tensors: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, str] = {}
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise ValidationError(
                f"{not_st}: the header entry for {name!r} is malformed.", code="not_safetensors"
            )
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype in OTHER_DTYPES:
            raise ValidationError(
                f"Tensor {name!r} has dtype {dtype}: a checkpoint's weights must be floating "
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
                f"{not_st}: the shape or offsets of {name!r} are malformed.",
                code="not_safetensors",
            )
        if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise ValidationError(
                f"{not_st}: the byte span of {name!r} does not match its shape and dtype.",
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


def check_shapes(summary: CheckpointSummary, expected: dict[str, tuple[int, ...]], label: str):
    """Every tensor the protocol's network needs, of its shape, and nothing else."""
    problems = []
    missing = sorted(set(expected) - set(summary.tensors))
    extra = sorted(set(summary.tensors) - set(expected))
    if missing:
        problems.append(f"missing tensors {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected tensors {', '.join(extra)}")
    for name in sorted(set(expected) & set(summary.tensors)):
        got, want = tuple(summary.tensors[name]), tuple(expected[name])
        if got != want:
            problems.append(f"tensor {name} has shape {list(got)}, expected {list(want)}")
    if problems:
        raise ValidationError(
            f"The checkpoint does not fit the network of {label}: " + "; ".join(problems) + ".",
            code="shape",
        )


@contextmanager
def upload_path(uploaded):
    """A file-system path holding the upload's bytes (its temporary file when it has one)."""
    if hasattr(uploaded, "temporary_file_path"):
        yield uploaded.temporary_file_path()
        return
    fd, path = tempfile.mkstemp(suffix=CHECKPOINT_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            uploaded.seek(0)
            for chunk in uploaded.chunks():
                out.write(chunk)
        yield path
    finally:
        os.unlink(path)


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
        check_finite(path)
        if maml_protocol_name:
            _maml_ref_checks(path, maml_protocol_name)
    uploaded.seek(0)
    return summary


# --------------------------------------------------------------------------- claims and configs


def is_percentage(metric) -> bool:
    return metric.unit.strip() == "%" or "accuracy" in metric.name.lower()


def check_claimed_value(value, metric) -> float:
    """A finite figure in the metric's range: 0-100 for a percentage, >= 0 for an error."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValidationError("Enter a number.", code="invalid") from None
    if not math.isfinite(value):
        raise ValidationError("The claimed value must be a finite number.", code="non_finite")
    if value < 0:
        raise ValidationError(f"{metric.name} cannot be negative.", code="negative")
    if is_percentage(metric) and value > 100:
        raise ValidationError(f"{metric.name} is a percentage: at most 100.", code="over_100")
    return value


def check_metric_of_benchmark(benchmark, metric) -> None:
    if not benchmark.metrics.filter(pk=metric.pk).exists():
        names = ", ".join(benchmark.metrics.values_list("name", flat=True)) or "none"
        raise ValidationError(
            f"{benchmark.name} has no metric {metric.name!r} (its metrics: {names}).",
            code="metric_not_in_benchmark",
        )


def parse_config(text_or_file) -> dict:
    """A training configuration: a JSON object of at most MAX_CONFIG_BYTES."""
    if hasattr(text_or_file, "read"):
        if getattr(text_or_file, "size", 0) > MAX_CONFIG_BYTES:
            raise ValidationError(
                f"The configuration is too large (at most {human_size(MAX_CONFIG_BYTES)}).",
                code="too_large",
            )
        text_or_file.seek(0)
        raw = _read_exactly(text_or_file, MAX_CONFIG_BYTES + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("The configuration is not UTF-8 JSON.", code="invalid") from None
    elif isinstance(text_or_file, dict):
        return text_or_file
    else:
        text = str(text_or_file)
    if len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise ValidationError(
            f"The configuration is too large (at most {human_size(MAX_CONFIG_BYTES)}).",
            code="too_large",
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"The configuration is not valid JSON: {exc}", code="invalid"
        ) from None
    if not isinstance(config, dict):
        raise ValidationError("The configuration must be a JSON object.", code="invalid")
    return config


ARXIV_NEW = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
ARXIV_OLD = re.compile(r"^[a-z][a-z.\-]*/\d{7}(v\d+)?$", re.IGNORECASE)
ARXIV_URL = re.compile(r"^https?://(www\.)?arxiv\.org/(abs|pdf)/(?P<id>[^?#]+?)(\.pdf)?/?$")


def normalise_arxiv_id(value: str) -> str:
    """``1703.03400``, ``arXiv:1703.03400v3`` or an arxiv.org URL, as the bare id."""
    value = (value or "").strip()
    if not value:
        return ""
    m = ARXIV_URL.match(value)
    if m:
        value = m.group("id")
    if value.lower().startswith("arxiv:"):
        value = value[6:]
    if not (ARXIV_NEW.match(value) or ARXIV_OLD.match(value)):
        raise ValidationError(
            f"{value!r} is not an arXiv id (like 1703.03400) or an arxiv.org URL.", code="invalid"
        )
    return value


def split_authors(value) -> list[str]:
    """Authors as a list: a list already, or one name per line / comma-separated."""
    if isinstance(value, list | tuple):
        names = [str(v).strip() for v in value]
    else:
        text = str(value or "")
        names = [n.strip() for n in re.split(r"[\n,;]", text)]
    return [n for n in names if n][:100]


# --------------------------------------------------------------------------- the whole submission


def check_submission(
    *,
    benchmark,
    metric,
    claimed_value,
    kind: str | None,
    checkpoint=None,
    config=None,
    paper=None,
    paper_fields: dict | None = None,
) -> dict:
    """Check a claim and its artefact; the keyword arguments of ``create_submission``.

    Shared by the form and the API. Raises ValidationError with a dict of field errors; an
    oversized checkpoint raises ``UploadTooLarge`` alone (the API answers 413 for it).
    """
    from evaluator.models import Submission
    from evaluator.protocols import (
        architecture_protocol,
        data_problem,
        protocol_for_benchmark,
        validate_training_config,
    )

    errors: dict[str, list] = {}

    def add(field, exc):
        errors.setdefault(field, []).extend(exc.error_list)

    if metric is not None:
        try:
            claimed_value = check_claimed_value(claimed_value, metric)
        except ValidationError as exc:
            add("claimed_value", exc)
        if benchmark is not None:
            try:
                check_metric_of_benchmark(benchmark, metric)
            except ValidationError as exc:
                add("metric", exc)

    has_checkpoint, has_config = checkpoint is not None, config not in (None, "")
    if not kind:
        kind = Submission.Kind.REPRODUCE if has_config and not has_checkpoint else "evaluate"
    if kind == Submission.Kind.EVALUATE and not has_checkpoint:
        add("checkpoint", ValidationError("An evaluate run needs a .safetensors checkpoint."))
    if kind == Submission.Kind.REPRODUCE and not has_config:
        add("config", ValidationError("A reproduce run needs a training configuration (JSON)."))
    if has_checkpoint and has_config:
        add("config", ValidationError("Send a checkpoint or a configuration, not both."))

    protocol = protocol_for_benchmark(benchmark) if benchmark is not None else None
    if protocol is not None:
        problem = data_problem(protocol)  # refused now, rather than queued to fail
        if problem:
            add("benchmark", ValidationError(problem, code="no_data"))
    if kind == Submission.Kind.EVALUATE and has_checkpoint and not has_config:
        # The benchmark's network, also where no protocol verifies it (stored unverifiable).
        arch = architecture_protocol(benchmark) if benchmark is not None else None
        try:
            check_checkpoint(checkpoint, arch)
        except UploadTooLarge:
            raise
        except ValidationError as exc:
            add("checkpoint", exc)
    if kind == Submission.Kind.REPRODUCE and has_config and not has_checkpoint:
        try:
            config = parse_config(config)
            if protocol is not None and protocol.supports(Submission.Kind.REPRODUCE):
                config = validate_training_config(protocol, config)
        except ValidationError as exc:
            add("config", exc)

    paper_kwargs = {}
    if paper is None:
        fields = dict(paper_fields or {})
        title = (fields.get("title") or "").strip()
        if not title:
            add("paper", ValidationError("Choose an existing paper or give the new one's title."))
        else:
            try:
                arxiv_id = normalise_arxiv_id(fields.get("arxiv_id") or "")
            except ValidationError as exc:
                add("paper_arxiv_id", exc)
                arxiv_id = ""
            url = (fields.get("url") or "").strip()
            if not arxiv_id and not url and "paper_arxiv_id" not in errors:
                add("paper_arxiv_id", ValidationError("Give the new paper's arXiv id or URL."))
            if arxiv_id and not url:
                url = f"https://arxiv.org/abs/{arxiv_id}"
            paper_kwargs = {
                "title": title,
                "arxiv_id": arxiv_id,
                "url": url,
                "authors": split_authors(fields.get("authors")),
                "date": fields.get("date"),
            }

    if errors:
        raise ValidationError(errors)
    return {
        "benchmark": benchmark,
        "metric": metric,
        "claimed_value": claimed_value,
        "kind": kind,
        "checkpoint_file": checkpoint if kind == Submission.Kind.EVALUATE else None,
        "config": config if kind == Submission.Kind.REPRODUCE else None,
        "paper": paper,
        "paper_fields": paper_kwargs or None,
    }
