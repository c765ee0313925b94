"""Checks on a claim: its figure, its metric, its training configuration, its paper; and
``check_submission``, the whole submission as the form and the API both check it."""

from __future__ import annotations

import math
import re

from django.core.exceptions import ValidationError

from leaderboard.core import arxiv
from leaderboard.core.json_bounds import JSONBoundError, loads_bounded

from .checkpoints import check_checkpoint
from .uploads import UploadTooLarge, _read_exactly, human_size

MAX_CONFIG_BYTES = 256 * 1024
# A training configuration is a flat object of numbers and booleans (evaluator.protocols): a
# little nesting is refused by the schema with its own message; deeper is refused unparsed. The
# schema's largest integer bound (a seed, 2**31 - 1) has 10 digits: 20 leaves room for a value
# the schema then refuses by its bound, and none reaches int() with thousands of digits.
MAX_CONFIG_DEPTH = 8
MAX_CONFIG_INT_DIGITS = 20


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
        config = loads_bounded(
            text,
            max_bytes=MAX_CONFIG_BYTES,
            max_depth=MAX_CONFIG_DEPTH,
            max_int_digits=MAX_CONFIG_INT_DIGITS,
            what="The configuration",
            allow_nul=False,
        )
    except JSONBoundError as exc:
        raise ValidationError(str(exc), code=f"too_{exc.bound}") from None
    except ValueError as exc:
        raise ValidationError(
            f"The configuration is not valid JSON: {exc}", code="invalid"
        ) from None
    if not isinstance(config, dict):
        raise ValidationError("The configuration must be a JSON object.", code="invalid")
    return config


def normalise_arxiv_id(value: str) -> str:
    """``1703.03400``, ``arXiv:1703.03400v3`` or an arxiv.org URL, as the bare id (its version
    kept: ``leaderboard/core/arxiv.py``)."""
    value = (value or "").strip()
    if not value:
        return ""
    found = arxiv.arxiv_id(value, version=True)
    if not found:
        raise ValidationError(
            f"{value!r} is not an arXiv id (like 1703.03400) or an arxiv.org URL.", code="invalid"
        )
    return found


def split_authors(value) -> list[str]:
    """Authors as a list: a list already, or one name per line / comma-separated."""
    if isinstance(value, list | tuple):
        names = [str(v).strip() for v in value]
    else:
        text = str(value or "")
        names = [n.strip() for n in re.split(r"[\n,;]", text)]
    return [n for n in names if n][:100]


# --------------------------------------------------------------------------- the whole submission


NUL_MESSAGE = "Null characters are not allowed."


def paper_fields(data) -> dict:
    """The paper a submission names by its fields (``paper_title``, ``paper_arxiv_id``, ...), read
    from a form's cleaned data or a serializer's attributes alike."""
    return {
        "title": data.get("paper_title"),
        "arxiv_id": data.get("paper_arxiv_id"),
        "url": data.get("paper_url"),
        "authors": data.get("paper_authors"),
        "date": data.get("paper_date"),
    }


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
        for name, value in fields.items():
            values = value if isinstance(value, list | tuple) else [value]
            if any(isinstance(v, str) and "\x00" in v for v in values):
                # The database refuses it (a psycopg DataError, a 500): refused here, by name.
                add(f"paper_{name}", ValidationError(NUL_MESSAGE, code="null_characters"))
                fields[name] = ""
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


def read_model_index(text: str | None, upload=None) -> str | None:
    """The ``model-index`` block pasted (``text``) or uploaded (``upload``), bounded; None when
    neither is given."""
    from leaderboard.core.model_index import MAX_BYTES

    if text and upload is not None:
        raise ValidationError("Paste the model-index block or upload it, not both.")
    if upload is not None:
        if upload.size is not None and upload.size > MAX_BYTES:
            raise ValidationError(f"A model-index block is limited to {human_size(MAX_BYTES)}.")
        upload.seek(0)
        raw = upload.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValidationError(f"A model-index block is limited to {human_size(MAX_BYTES)}.")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("A model-index block is UTF-8 text.") from None
    return text or None


def check_model_index(block: str, **common) -> list[dict]:
    """Each claim of a ``model-index`` block (``leaderboard/core/model_index.py``: one per metric of
    each result entry) checked as ``check_submission`` checks one, with the rest of the
    submission (``common``: kind, checkpoint, config, paper, paper_fields) shared; the keyword
    arguments of ``create_submission`` for each, ``model_name`` included. Raises
    ValidationError with the fields' errors, a claim's own under ``model_index`` by its place."""
    from leaderboard.core.model_index import parse

    try:
        claims = parse(block)
    except ValidationError as exc:
        raise ValidationError({"model_index": exc.messages}) from None
    checked, errors = [], {}
    for claim in claims:
        try:
            kwargs = check_submission(
                benchmark=claim.benchmark,
                metric=claim.metric,
                claimed_value=claim.claimed_value,
                **common,
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field in ("benchmark", "metric", "claimed_value"):
                    messages = [f"{claim.where} ({field}): {m}" for m in messages]
                    field = "model_index"
                for m in messages:
                    if m not in errors.get(field, []):
                        errors.setdefault(field, []).append(m)
            continue
        if len(claim.model_name) > 300:
            errors.setdefault("model_index", []).append(f"{claim.where}: model name too long.")
            continue
        checked.append({**kwargs, "model_name": claim.model_name})
    if errors:
        raise ValidationError(errors)
    return checked
