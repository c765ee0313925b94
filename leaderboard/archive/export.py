"""Streaming export of the catalogue as the archive's five files.

``evaluation_tables(extended=False)`` yields the JSON text of evaluation-tables.json in chunks,
one top-level task at a time (memory bounded by the largest task). By default the objects hold
exactly the keys of sota-extractor 0.0.29's schema (its ``TaskDB().load_tasks()`` refuses any
other); ``extended=True`` adds VeriSOTA's (``parent_dataset``, ``ways``, ``shots``,
``sota.metric_directions``, a row's ``verified``, ``intervals`` and, for a verified row, its
``claimed`` values, a code link's ``official``) and says so in each task
(``"verisota_extended": true``). A verified row's metric value is what the reference run
measured (the claim is never exported as its number); directions are the benchmark's
(``leaderboard/directions.py``).
"""

import json
from collections import defaultdict

from django.db import transaction

from leaderboard.archive.common import UNNAMED
from leaderboard.directions import with_direction
from leaderboard.models import (
    Benchmark,
    BenchmarkMetric,
    CodeLink,
    Dataset,
    Method,
    Paper,
    Result,
    Task,
)
from leaderboard.results.rows import row_key, value_text


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _stream(objects):
    """A JSON list, one item per chunk, the opening bracket sent at once.

    The items are read inside a transaction: outside one (autocommit), Django declares its
    server-side cursors WITH HOLD, and PostgreSQL then materialises the whole result at the
    DECLARE's commit (2.7 s before the first code link of the full archive); inside one the
    cursor streams, so the first item follows at once and the snapshot is one for the file."""
    yield "["
    first = True
    with transaction.atomic():
        for obj in objects:
            yield ("\n" if first else ",\n") + _dumps(obj)
            first = False
    yield "\n]\n"


def _date(value) -> str | None:
    return value.isoformat() if value else None


def _title(url: str) -> str:
    return "/".join(url.rstrip("/").split("/")[-2:])


def evaluation_tables(extended: bool = False):
    return _stream(_tasks(extended))


def _tasks(extended: bool):
    children = defaultdict(list)
    for pk, parent in Task.objects.order_by("name").values_list("pk", "parent_id"):
        children[parent].append(pk)
    for root in children.get(None, []):
        yield _task_tree(root, children, extended)


def _task_tree(root, children, extended):
    ids, stack = [], [root]
    while stack:
        pk = stack.pop()
        ids.append(pk)
        stack.extend(children.get(pk, []))
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=ids)}
    through = Benchmark.tasks.through.objects.filter(task_id__in=ids).order_by("benchmark_id")
    task_benchmarks = defaultdict(list)
    for task_id, bench_id in through.values_list("task_id", "benchmark_id"):
        task_benchmarks[task_id].append(bench_id)
    bench_ids = {b for bs in task_benchmarks.values() for b in bs}
    benchmarks = {
        b.pk: b for b in Benchmark.objects.filter(pk__in=bench_ids).select_related("dataset")
    }
    # Subdatasets of those (they are listed under their parent only).
    frontier = set(bench_ids)
    while frontier:
        subs = {
            b.pk: b
            for b in Benchmark.objects.filter(parent_id__in=frontier).select_related("dataset")
        }
        subs = {k: b for k, b in subs.items() if k not in benchmarks}
        benchmarks.update(subs)
        frontier = set(subs)
    sub_of = defaultdict(list)
    for b in sorted(benchmarks.values(), key=lambda b: b.pk):
        if b.parent_id in benchmarks:
            sub_of[b.parent_id].append(b.pk)
    metrics = defaultdict(list)
    for link in with_direction(
        BenchmarkMetric.objects.filter(benchmark_id__in=benchmarks).select_related("metric")
    ).order_by("id"):
        metrics[link.benchmark_id].append(link)
    rows = _rows(benchmarks, extended)

    def dataset(pk, is_sub):
        b = benchmarks[pk]
        entry = {
            ("subdataset" if is_sub else "dataset"): b.archive_name or b.name,
            "description": b.description,
            "sota": {"metrics": [m.metric.name for m in metrics[pk]], "rows": rows.get(pk, [])},
            "subdatasets": [dataset(s, True) for s in sub_of.get(pk, [])],
            "dataset_links": b.links or [],
            "dataset_citations": b.citations or [],
        }
        if extended:
            entry["parent_dataset"] = b.dataset.name
            entry["ways"], entry["shots"] = b.ways, b.shots
            entry["sota"]["metric_directions"] = {
                m.metric.name: {"higher_is_better": m.direction, "unit": m.metric.unit}
                for m in metrics[pk]
            }
        return entry

    def task(pk):
        t = tasks[pk]
        entry = {
            "task": t.name,
            "description": t.description,
            "categories": t.categories or [],
            "datasets": [
                dataset(b, False)
                for b in task_benchmarks.get(pk, [])
                if benchmarks[b].parent_id not in benchmarks
            ],
            "subtasks": [
                task(c) for c in sorted(children.get(pk, []), key=lambda c: tasks[c].name)
            ],
            "synonyms": t.synonyms or [],
            "source_link": t.source_link or None,
        }
        if extended:
            entry["verisota_extended"] = True
        return entry

    return task(root)


def _rows(benchmarks, extended):
    """benchmark id -> rows, in the order they were imported (the archive's: best first)."""
    code_links = {}
    out = defaultdict(dict)
    results = (
        Result.objects.filter(benchmark_id__in=benchmarks)
        .select_related("metric", "model", "paper")
        .defer("paper__abstract")
        .order_by("benchmark_id", "id")
    )
    for r in results.iterator(2000):
        key = row_key(r)  # one archive row, all its metrics (leaderboard/results/rows.py)
        row = out[r.benchmark_id].get(key)
        if row is None:
            extra, paper = r.archive_row or {}, r.paper
            if "code_links" in extra:
                links = extra["code_links"]
            else:
                if r.paper_id not in code_links:
                    code_links[r.paper_id] = [
                        {"title": _title(c.url), "url": c.url, "official": c.official}
                        for c in CodeLink.objects.filter(paper_id=r.paper_id)
                    ]
                links = code_links[r.paper_id]
            anonymous = r.model.name == UNNAMED and bool(r.archive_key)
            row = out[r.benchmark_id][key] = {
                "model_name": "" if anonymous else r.model.name,
                "paper_title": extra.get("paper_title", paper.title if paper else ""),
                "paper_url": extra.get("paper_url", (paper.url or paper.pwc_url) if paper else ""),
                "paper_date": extra.get("paper_date", _date(r.date or (paper and paper.date))),
                "code_links": [
                    {
                        "title": c.get("title", ""),
                        "url": c["url"],
                        **({"official": c.get("official", False)} if extended else {}),
                    }
                    for c in links
                ],
                "model_links": extra.get("model_links", []),
                "metrics": {},
                "uses_additional_data": r.uses_additional_data,
            }
            if extended:
                row["verified"] = r.is_verified
                row["intervals"] = {}
                if r.is_verified:
                    row["claimed"] = {}
        # A verified row's number is its measured value (raw_value is empty); the claim goes
        # in the extended export only, beside it.
        row["metrics"][r.metric.name] = value_text(r)
        if extended and r.ci95 is not None:
            row["intervals"][r.metric.name] = r.ci95
        if extended and r.is_verified and r.claimed_value is not None:
            row.setdefault("claimed", {})[r.metric.name] = r.claimed_value
    return {b: list(rows.values()) for b, rows in out.items()}


def papers():
    def items():
        qs = Paper.objects.order_by("pk").prefetch_related("tasks", "methods__collections__area")
        for p in qs.iterator(1000):
            yield {
                "paper_url": p.pwc_url,
                "arxiv_id": p.arxiv_id or None,
                "title": p.title,
                "abstract": p.abstract,
                "url_abs": p.url,
                "url_pdf": p.pdf_url,
                "proceeding": p.proceeding or None,
                "authors": p.authors,
                "tasks": [t.name for t in p.tasks.all()],
                "date": p.date.isoformat() if p.date else None,
                "methods": [_paper_method(m) for m in p.methods.all()],
            }

    return _stream(items())


def _paper_method(m):
    coll = next(iter(m.collections.all()), None)
    return {
        "name": m.name,
        "full_name": m.full_name,
        "description": m.description,
        "introduced_year": m.introduced_year,
        "source_url": m.source_url or None,
        "source_title": m.source_title or None,
        "code_snippet_url": m.code_snippet_url or None,
        "main_collection": {
            "name": coll.name,
            "description": coll.description,
            "area": coll.area.name if coll.area else None,
            "parent": None,
        }
        if coll
        else None,
    }


def code_links():
    def items():
        qs = CodeLink.objects.select_related("paper").defer("paper__abstract").order_by("pk")
        for c in qs.iterator(2000):
            p = c.paper
            yield {
                "paper_url": p.pwc_url,
                "paper_title": p.title,
                "paper_arxiv_id": p.arxiv_id or None,
                "paper_url_abs": p.url,
                "paper_url_pdf": p.pdf_url,
                "repo_url": c.url,
                "is_official": c.official,
                "mentioned_in_paper": c.mentioned_in_paper,
                "mentioned_in_github": c.mentioned_in_github,
                "framework": c.framework or "none",
            }

    return _stream(items())


def methods():
    def items():
        qs = (
            Method.objects.order_by("pk")
            .select_related("paper")
            .prefetch_related("collections__area")
        )
        for m in qs.iterator(1000):
            yield {
                "url": m.pwc_url,
                "name": m.name,
                "full_name": m.full_name,
                "description": m.description,
                "paper": {"title": m.paper.title, "url": m.paper.pwc_url or m.paper.url}
                if m.paper
                else None,
                "introduced_year": m.introduced_year,
                "source_url": m.source_url or None,
                "source_title": m.source_title or None,
                "code_snippet_url": m.code_snippet_url or None,
                "num_papers": m.num_papers,
                "collections": [
                    {
                        "collection": c.name,
                        "area_id": c.area.slug if c.area else None,
                        "area": c.area.name if c.area else None,
                    }
                    for c in m.collections.all()
                ],
            }

    return _stream(items())


def datasets():
    def items():
        qs = Dataset.objects.order_by("pk").select_related("paper").prefetch_related("tasks")
        for d in qs.iterator(1000):
            yield {
                "url": d.pwc_url,
                "name": d.name,
                "full_name": d.full_name,
                "homepage": d.homepage,
                "description": d.description,
                "paper": {"title": d.paper.title, "url": d.paper.pwc_url or d.paper.url}
                if d.paper
                else None,
                "introduced_date": d.introduced_date.isoformat() if d.introduced_date else None,
                "warning": d.warning or None,
                "modalities": d.modalities,
                "tasks": [{"task": t.name, "url": ""} for t in d.tasks.all()],
                "languages": d.languages,
                "variants": d.variants,
                "num_papers": d.num_papers,
                "data_loaders": d.data_loaders,
            }

    return _stream(items())


EXPORTS = {
    "evaluation-tables": evaluation_tables,
    "papers": papers,
    "code-links": code_links,
    "methods": methods,
    "datasets": datasets,
}
FILE_NAMES = {
    "evaluation-tables": "evaluation-tables.json",
    "papers": "papers-with-abstracts.json",
    "code-links": "links-between-papers-and-code.json",
    "methods": "methods.json",
    "datasets": "datasets.json",
}


def export_archive(extended: bool = False) -> list:
    """The evaluation tables as parsed JSON (small catalogues and tests only)."""
    return json.loads("".join(evaluation_tables(extended)))
