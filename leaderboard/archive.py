"""Import and export of the Papers With Code archive format (``evaluation-tables.json``).

The format is a list of tasks; each task has ``datasets`` (and may nest more tasks through
``subtasks``, and more datasets through ``subdatasets``); each dataset entry is one benchmark with
``sota.metrics`` (names) and ``sota.rows`` (``model_name``, ``metrics`` {name: value text},
``paper_title``, ``paper_url``, ``paper_date``, ``code_links``, ``uses_additional_data``).

The importer is tolerant of missing fields (a row without a model name or a value is skipped with
a warning) but refuses a file that is not that shape (``ArchiveFormatError``) before it writes
anything; the writes happen in one transaction. The exporter writes the same shape plus a few
optional keys the importer reads back (``parent_dataset``, ``ways``, ``shots``,
``metric_directions``, ``official`` on a code link, ``verified`` on a row), so that an export
imported into an empty database reproduces the same tables.
"""

import datetime
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import transaction

from . import catalogue
from .models import Benchmark, CodeLink, Result, Task
from .urls_safe import http_url_or_empty

_VALUE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(%|[kKMBG])?$")
_SCALE = {None: 1.0, "%": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9}


class ArchiveFormatError(ValueError):
    """The file is not in the archive format; nothing was written."""


def parse_value(raw) -> float | None:
    """A number from an archive value such as "98.7", "98.7%" or "1.2M"; None if not numeric."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        value = float(raw)
        return value if value == value and abs(value) != float("inf") else None
    if not isinstance(raw, str):
        return None
    match = _VALUE.match(raw.strip().replace(",", ""))
    if not match:
        return None
    return float(match.group(1)) * _SCALE[match.group(2)]


def _parse_date(raw) -> datetime.date | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw[:10])
    except ValueError:
        return None


# -- validation: the whole file is checked before anything is written ------------------------


def _expect(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ArchiveFormatError(f"{where}: expected {what}")


def _optional_list(entry: dict, key: str, where: str) -> list:
    value = entry.get(key)
    if value is None:
        return []
    _expect(isinstance(value, list), f"{where}.{key}", "a list")
    return value


def _check_dataset(entry, where: str) -> None:
    _expect(isinstance(entry, dict), where, "an object")
    _expect(
        isinstance(entry.get("dataset"), str) and entry["dataset"].strip(),
        f"{where}.dataset",
        "a non-empty string",
    )
    sota = entry.get("sota")
    if sota is not None:
        _expect(isinstance(sota, dict), f"{where}.sota", "an object")
        for i, name in enumerate(_optional_list(sota, "metrics", f"{where}.sota")):
            _expect(isinstance(name, str), f"{where}.sota.metrics[{i}]", "a string")
        for i, row in enumerate(_optional_list(sota, "rows", f"{where}.sota")):
            _expect(isinstance(row, dict), f"{where}.sota.rows[{i}]", "an object")
            metrics = row.get("metrics")
            _expect(
                metrics is None or isinstance(metrics, dict),
                f"{where}.sota.rows[{i}].metrics",
                "an object",
            )
            links = row.get("code_links")
            _expect(
                links is None or isinstance(links, list),
                f"{where}.sota.rows[{i}].code_links",
                "a list",
            )
    for i, sub in enumerate(_optional_list(entry, "subdatasets", where)):
        _check_dataset(sub, f"{where}.subdatasets[{i}]")


def _check_task(entry, where: str) -> None:
    _expect(isinstance(entry, dict), where, "an object")
    _expect(
        isinstance(entry.get("task"), str) and entry["task"].strip(),
        f"{where}.task",
        "a non-empty string",
    )
    for i, dataset in enumerate(_optional_list(entry, "datasets", where)):
        _check_dataset(dataset, f"{where}.datasets[{i}]")
    for i, sub in enumerate(_optional_list(entry, "subtasks", where)):
        _check_task(sub, f"{where}.subtasks[{i}]")


def validate(data) -> None:
    _expect(isinstance(data, list), "the file", "a list of tasks (evaluation-tables.json)")
    for i, task in enumerate(data):
        _check_task(task, f"tasks[{i}]")


# -- import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    counts: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return (
            f"results: {c['created']} created, {c['updated']} updated, "
            f"{c['unchanged']} unchanged, {c['skipped']} skipped; "
            f"new: {c['tasks']} tasks, {c['datasets']} datasets, {c['benchmarks']} benchmarks, "
            f"{c['metrics']} metrics, {c['models']} models, {c['papers']} papers"
        )


class _Importer:
    def __init__(self) -> None:
        self.report = ImportReport()

    def _count(self, created: bool, what: str) -> None:
        if created:
            self.report.counts[what] += 1

    def task(self, entry: dict, parent: Task | None, where: str) -> None:
        task, created = catalogue.get_task(entry["task"].strip(), parent)
        self._count(created, "tasks")
        if created and isinstance(entry.get("description"), str):
            task.description = entry["description"]
            task.save(update_fields=["description"])
        for i, dataset in enumerate(entry.get("datasets") or []):
            self.dataset(dataset, task, f"{where}.datasets[{i}]")
        for i, sub in enumerate(entry.get("subtasks") or []):
            self.task(sub, task, f"{where}.subtasks[{i}]")

    def dataset(self, entry: dict, task: Task, where: str) -> None:
        name = entry["dataset"].strip()
        parent = entry.get("parent_dataset")
        parent = parent.strip() if isinstance(parent, str) and parent.strip() else None
        if parent:
            self._count(catalogue.get_dataset(parent)[1], "datasets")
        elif not Benchmark.objects.filter(name=name).exists():
            dname = catalogue.dataset_name_from_benchmark(name)
            self._count(catalogue.get_dataset(dname)[1], "datasets")
        ways = entry.get("ways") if isinstance(entry.get("ways"), int) else None
        shots = entry.get("shots") if isinstance(entry.get("shots"), int) else None
        benchmark, created = catalogue.get_benchmark(name, parent, ways, shots)
        self._count(created, "benchmarks")
        benchmark.tasks.add(task)
        sota = entry.get("sota") or {}
        directions = sota.get("metric_directions")
        directions = directions if isinstance(directions, dict) else {}
        metrics = {}

        def metric(metric_name: str):
            if metric_name not in metrics:
                spec = directions.get(metric_name)
                spec = spec if isinstance(spec, dict) else {}
                hib = spec.get("higher_is_better")
                unit = spec.get("unit")
                m, was_created = catalogue.get_metric(
                    metric_name,
                    hib if isinstance(hib, bool) else None,
                    unit if isinstance(unit, str) else None,
                )
                self._count(was_created, "metrics")
                benchmark.metrics.add(m)
                metrics[metric_name] = m
            return metrics[metric_name]

        for metric_name in sota.get("metrics") or []:
            if metric_name.strip():
                metric(metric_name.strip())
        for i, row in enumerate(sota.get("rows") or []):
            self.row(row, benchmark, metric, f"{where}.sota.rows[{i}]")
        for i, sub in enumerate(entry.get("subdatasets") or []):
            self.dataset(sub, task, f"{where}.subdatasets[{i}]")

    def row(self, row: dict, benchmark: Benchmark, metric, where: str) -> None:
        model_name = row.get("model_name")
        if not isinstance(model_name, str) or not model_name.strip():
            self.report.counts["skipped"] += 1
            self.report.warnings.append(f"{where}: no model_name, row skipped")
            return
        values = row.get("metrics") or {}
        if not values:
            self.report.counts["skipped"] += 1
            self.report.warnings.append(f"{where}: no metric values, row skipped")
            return
        model, created = catalogue.get_model(model_name.strip())
        self._count(created, "models")
        paper = self.paper(row, where)
        extra = row.get("uses_additional_data") is True
        for metric_name, raw in values.items():
            value = parse_value(raw)
            if value is None or not str(metric_name).strip():
                self.report.counts["skipped"] += 1
                self.report.warnings.append(
                    f"{where}: {metric_name!s} value {raw!r} is not numeric, skipped"
                )
                continue
            action = catalogue.upsert_archive_result(
                benchmark=benchmark,
                metric=metric(str(metric_name).strip()),
                model=model,
                paper=paper,
                value=value,
                raw_value=str(raw).strip()[:100],
                uses_additional_data=extra,
            )
            self.report.counts[action] += 1

    def paper(self, row: dict, where: str):
        title = row.get("paper_title")
        if not isinstance(title, str) or not title.strip():
            return None
        raw_url = row.get("paper_url") if isinstance(row.get("paper_url"), str) else ""
        url = http_url_or_empty(raw_url)
        if raw_url.strip() and not url:
            self.report.warnings.append(
                f"{where}: paper_url {raw_url[:80]!r} is not http(s); dropped"
            )
        date = _parse_date(row.get("paper_date"))
        if row.get("paper_date") and date is None:
            self.report.warnings.append(f"{where}: paper_date {row['paper_date']!r} ignored")
        paper, created = catalogue.get_paper(title, url, date)
        self._count(created, "papers")
        if not created and paper.date is None and date is not None:
            paper.date = date
            paper.save(update_fields=["date"])
        for link in row.get("code_links") or []:
            if isinstance(link, dict) and isinstance(link.get("url"), str) and link["url"]:
                link_url = http_url_or_empty(link["url"])
                if not link_url:
                    self.report.warnings.append(
                        f"{where}: code link {link['url'][:80]!r} is not http(s); dropped"
                    )
                    continue
                CodeLink.objects.get_or_create(
                    paper=paper,
                    url=link_url,
                    defaults={"official": link.get("official") is True},
                )
        return paper


def import_archive(data) -> ImportReport:
    """Validate, then import parsed JSON; ArchiveFormatError (nothing written) if malformed."""
    validate(data)
    importer = _Importer()
    with transaction.atomic():
        for i, entry in enumerate(data):
            importer.task(entry, None, f"tasks[{i}]")
    return importer.report


# -- export ----------------------------------------------------------------------------------


def _code_link_title(url: str) -> str:
    return "/".join(url.rstrip("/").split("/")[-2:])


def export_archive() -> list[dict]:
    """Every published result as evaluation-tables.json (a constant number of queries)."""
    tasks = list(Task.objects.all())
    children = defaultdict(list)
    for task in tasks:
        children[task.parent_id].append(task)
    task_benchmarks = defaultdict(list)
    through = Benchmark.tasks.through.objects.select_related("benchmark__dataset")
    for link in through.order_by("benchmark__name"):
        task_benchmarks[link.task_id].append(link.benchmark)
    bench_metrics = defaultdict(list)
    for link in Benchmark.metrics.through.objects.select_related("metric").order_by("metric__name"):
        bench_metrics[link.benchmark_id].append(link.metric)
    code_links = defaultdict(list)
    for link in CodeLink.objects.all():
        code_links[link.paper_id].append(
            {"title": _code_link_title(link.url), "url": link.url, "official": link.official}
        )
    rows = defaultdict(dict)  # benchmark id -> row key -> row
    results = Result.objects.with_relations().order_by("benchmark_id", "metric__name", "id")
    for r in results:
        key = (r.model_id, r.paper_id, r.uses_additional_data, r.source)
        row = rows[r.benchmark_id].get(key)
        if row is None:
            paper = r.paper
            row = rows[r.benchmark_id][key] = {
                "model_name": r.model.name,
                "metrics": {},
                "paper_title": paper.title if paper else "",
                "paper_url": (paper.url or paper.pdf_url) if paper else "",
                "paper_date": paper.date.isoformat() if paper and paper.date else None,
                "code_links": code_links.get(r.paper_id, []),
                "model_links": [],
                "uses_additional_data": r.uses_additional_data,
                "verified": r.is_verified,
            }
        row["metrics"][r.metric.name] = r.raw_value or repr(r.value)

    def dataset_entry(benchmark: Benchmark) -> dict:
        metrics = bench_metrics.get(benchmark.pk, [])
        return {
            "dataset": benchmark.name,
            "description": benchmark.description,
            "parent_dataset": benchmark.dataset.name,
            "ways": benchmark.ways,
            "shots": benchmark.shots,
            "sota": {
                "metrics": [m.name for m in metrics],
                "metric_directions": {
                    m.name: {"higher_is_better": m.higher_is_better, "unit": m.unit}
                    for m in metrics
                },
                "rows": list(rows.get(benchmark.pk, {}).values()),
            },
            "subdatasets": [],
            "dataset_links": [],
            "dataset_citations": [],
        }

    def task_entry(task: Task) -> dict:
        return {
            "task": task.name,
            "description": task.description,
            "categories": [],
            "datasets": [dataset_entry(b) for b in task_benchmarks.get(task.pk, [])],
            "subtasks": [task_entry(t) for t in children.get(task.pk, [])],
            "synonyms": [],
            "source_link": None,
        }

    return [task_entry(t) for t in children.get(None, [])]
