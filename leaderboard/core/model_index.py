"""``model-index`` metadata (the format Papers With Code defined, paperswithcode/model-index; what
Hugging Face model cards carry): a verified result exported as a block, and a block read back as
claims, one per metric of each result entry.

Exported (``export``), one block per verified result::

    model-index:
    - name: MAML
      results:
      - task: {type: few-shot-image-classification, name: Few-Shot Image Classification}
        dataset: {type: omniglot-1-shot-5-way, name: OMNIGLOT - 1-Shot, 5-way}
        metrics:
        - {type: accuracy, name: Accuracy, value: 62.43, verified: true}
        source: {name: VeriSOTA, url: https://.../results/7/evidence/}

``dataset.type`` is the benchmark's slug (``name`` its name): reading a block back (``parse``),
a dataset is found by its type as a slug, else by its name; a metric by its ``type`` as a slug,
else by its ``name``. Reading is bounded: the text's size (``MAX_BYTES``), its nesting
(``MAX_DEPTH``), its nodes (``MAX_NODES``, aliases counted each time they are met) and the
claims it gives (``MAX_ENTRIES``); only ``yaml.safe_load`` is used (no Python objects, ever).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import yaml
from django.core.exceptions import ValidationError
from django.db.models.functions import Upper

from leaderboard.models import Benchmark, Metric, Result

MAX_BYTES = 64 * 1024
MAX_DEPTH = 12
MAX_NODES = 5000
MAX_ENTRIES = 20
MAX_NAME = 300


def export(result: Result, evidence_url: str) -> str:
    """The ``model-index`` YAML block of a verified ``result``."""
    task = result.benchmark.tasks.order_by("name").first()
    entry = {
        "task": {"type": task.slug, "name": task.name} if task else {"type": "", "name": ""},
        "dataset": {"type": result.benchmark.slug, "name": result.benchmark.name},
        "metrics": [
            {
                "type": result.metric.slug,
                "name": result.metric.name,
                "value": result.value,
                "verified": result.is_verified,
            }
        ],
        "source": {"name": "VeriSOTA", "url": evidence_url},
    }
    if result.ci95 is not None:
        entry["metrics"][0]["ci95"] = result.ci95
    block = {"model-index": [{"name": result.model.name, "results": [entry]}]}
    return yaml.safe_dump(block, sort_keys=False, allow_unicode=True, default_flow_style=False)


@dataclass(frozen=True)
class Claim:
    """One claim read from a block: what the submission form's fields would hold."""

    model_name: str
    benchmark: Benchmark
    metric: Metric
    claimed_value: float
    where: str  # e.g. "model-index[0].results[1].metrics[0]", for messages


def _check_shape(data) -> None:
    """Raise where ``data`` is deeper than ``MAX_DEPTH`` or has more than ``MAX_NODES`` nodes."""
    budget = [MAX_NODES]
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise ValidationError(f"A model-index block holds at most {MAX_NODES} values.")
        if depth > MAX_DEPTH:
            raise ValidationError(f"A model-index block is nested at most {MAX_DEPTH} deep.")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            stack.extend((k, depth + 1) for k in node.keys())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _text(value, where: str, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise ValidationError(f"{where}: missing.")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValidationError(f"{where}: expected a text.")
    text = str(value).strip()
    if "\x00" in text or len(text) > MAX_NAME:
        raise ValidationError(f"{where}: at most {MAX_NAME} characters, no NUL.")
    return text


def _number(value, where: str) -> float:
    if isinstance(value, bool):
        raise ValidationError(f"{where}: expected a number.")
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip()
        if len(value) > 50:
            raise ValidationError(f"{where}: expected a number.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{where}: expected a number.") from None
    if not math.isfinite(number):
        raise ValidationError(f"{where}: expected a finite number.")
    return number


def _mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(f"{where}: expected a mapping.")
    return value


def _list(value, where: str) -> list:
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{where}: expected a non-empty list.")
    return value


def _benchmark(dataset: dict, where: str) -> Benchmark:
    slug = _text(dataset.get("type"), f"{where}.type", required=False)
    name = _text(dataset.get("name"), f"{where}.name", required=False)
    found = Benchmark.objects.filter(slug=slug).first() if slug else None
    if found is None and name:
        found = Benchmark.objects.annotate(u=Upper("name")).filter(u=name.upper()).first()
    if found is None:
        raise ValidationError(f"{where}: no benchmark {slug or name!r} on VeriSOTA.")
    return found


def _metric(metric: dict, where: str) -> Metric:
    slug = _text(metric.get("type"), f"{where}.type", required=False)
    name = _text(metric.get("name"), f"{where}.name", required=False)
    found = Metric.objects.filter(slug=slug).first() if slug else None
    if found is None and name:
        found = Metric.objects.annotate(u=Upper("name")).filter(u=name.upper()).first()
    if found is None and slug:
        found = Metric.objects.annotate(u=Upper("name")).filter(u=slug.upper()).first()
    if found is None:
        raise ValidationError(f"{where}: no metric {name or slug!r} on VeriSOTA.")
    return found


def parse(text: str | bytes) -> list[Claim]:
    """The claims of a ``model-index`` block, or ``ValidationError`` naming what is wrong."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise ValidationError(f"A model-index block is limited to {MAX_BYTES} bytes.")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("A model-index block is UTF-8 text.") from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ValidationError(f"A model-index block is limited to {MAX_BYTES} bytes.")
    if "\x00" in text:
        raise ValidationError("A model-index block holds no NUL character.")
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise ValidationError(f"Not valid YAML: {str(exc)[:200]}") from None
    _check_shape(data)
    if isinstance(data, dict) and "model-index" in data:
        data = data["model-index"]
    models = _list(data, "model-index")
    claims: list[Claim] = []
    for i, model in enumerate(models):
        where = f"model-index[{i}]"
        model = _mapping(model, where)
        name = _text(model.get("name"), f"{where}.name")
        for j, result in enumerate(_list(model.get("results"), f"{where}.results")):
            rwhere = f"{where}.results[{j}]"
            result = _mapping(result, rwhere)
            dataset = _mapping(result.get("dataset"), f"{rwhere}.dataset")
            benchmark = _benchmark(dataset, f"{rwhere}.dataset")
            for k, metric in enumerate(_list(result.get("metrics"), f"{rwhere}.metrics")):
                mwhere = f"{rwhere}.metrics[{k}]"
                metric = _mapping(metric, mwhere)
                claims.append(
                    Claim(
                        model_name=name,
                        benchmark=benchmark,
                        metric=_metric(metric, mwhere),
                        claimed_value=_number(metric.get("value"), f"{mwhere}.value"),
                        where=mwhere,
                    )
                )
                if len(claims) > MAX_ENTRIES:
                    raise ValidationError(
                        f"A model-index block gives at most {MAX_ENTRIES} claims."
                    )
    return claims
