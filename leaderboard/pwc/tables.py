"""What the v1 API's writes persist: areas, tables (benchmarks) and their metrics, and result
rows (one ``Result`` per metric sharing an ``archive_key``), with their payloads."""

import hashlib
import json
import uuid

from rest_framework.exceptions import PermissionDenied, ValidationError

from leaderboard import catalogue, directions
from leaderboard.archive.values import parse_value
from leaderboard.direction_guess import TABLE, guess_in_table
from leaderboard.models import (
    Area,
    Benchmark,
    BenchmarkMetric,
    CatalogueVersion,
    Dataset,
    DirectionSource,
    Metric,
    Result,
    Task,
    unique_slug,
)
from leaderboard.pwc import serializers as s
from leaderboard.pwc import views
from leaderboard.pwc.ids import paper_by_id
from leaderboard.results import rows as result_rows


def _area(text: str):
    text = " ".join((text or "").split())
    if not text:
        return None
    found = Area.objects.filter(slug=text).first() or Area.objects.filter(name__iexact=text).first()
    return found or Area.objects.create(name=text[:200], slug=unique_slug(Area, text))


def _by_slug(model_cls, slug: str, field: str):
    obj = model_cls.objects.filter(slug=slug).first()
    if obj is None:
        raise ValidationError({field: [f"No {model_cls._meta.verbose_name} has the id {slug!r}."]})
    return obj


def _paper(paper_id: str | None):
    if not paper_id:
        return None
    paper = paper_by_id(paper_id)
    if paper is None:
        raise ValidationError({"paper": [f"No paper has the id {paper_id!r}."]})
    return paper


def _locked():
    """The catalogue's writer lock, taken first (``CatalogueVersion.lock``)."""
    CatalogueVersion.lock()


# ---- evaluation tables, their metrics and rows -------------------------------------------


def _table_name(dataset: Dataset, task: Task) -> str:
    """The dataset's name, else suffixed with the task (a benchmark's name is unique)."""
    taken = lambda n: Benchmark.objects.filter(name__iexact=n).exists()  # noqa: E731
    for name in (dataset.name, f"{dataset.name} ({task.name})"):
        if not taken(name[:300]):
            return name[:300]
    n = 2
    while taken(f"{dataset.name} ({task.name}, {n})"[:300]):
        n += 1
    return f"{dataset.name} ({task.name}, {n})"[:300]


def create_table(task, dataset, description="", mirror_url="", external_id="") -> Benchmark:
    name = _table_name(dataset, task)
    ways, shots = catalogue.ways_shots(name)
    benchmark = Benchmark.objects.create(
        name=name,
        slug=unique_slug(Benchmark, name, 300),
        dataset=dataset,
        description=description,
        mirror_url=mirror_url,
        external_id=external_id,
        ways=ways,
        shots=shots,
    )
    benchmark.tasks.add(task)
    return benchmark


def link_metric(benchmark, name, is_loss=None, description=None) -> BenchmarkMetric:
    """The metric ``name`` in the table (found or created, linked if it was not): the direction
    given (``is_loss``: set by a curator) or else guessed as the importer guesses."""
    hib = None if is_loss is None else not is_loss
    metric, created = catalogue.get_metric(name, higher_is_better=hib)
    if created and hib is not None:
        Metric.objects.filter(pk=metric.pk).update(direction_source=DirectionSource.CURATOR)
    link, made = BenchmarkMetric.objects.select_related("metric").get_or_create(
        benchmark=benchmark, metric=metric
    )
    changed = []
    if hib is not None and (link.higher_is_better, link.direction_source) != (
        hib,
        DirectionSource.CURATOR,
    ):
        link.higher_is_better, link.direction_source = hib, DirectionSource.CURATOR
        changed += ["higher_is_better", "direction_source"]
    elif made and hib is None:
        names = list(
            BenchmarkMetric.objects.filter(benchmark=benchmark).values_list(
                "metric__name", flat=True
            )
        )
        guess, why = guess_in_table(metric.name, names)
        if why == TABLE and guess != metric.higher_is_better:
            link.higher_is_better, link.direction_source = guess, DirectionSource.TABLE
            changed += ["higher_is_better", "direction_source"]
    if description is not None and link.description != description:
        link.description = description
        changed.append("description")
    if changed:
        link.save(update_fields=changed)
    return link


def metric_payload(link: BenchmarkMetric) -> dict:
    """A metric of a table as the client reads it (``is_loss``: its direction in that table)."""
    return {
        "id": link.metric.slug,
        "name": link.metric.name,
        "description": link.description,
        "is_loss": not directions.higher_is_better(link.benchmark, link.metric),
        "unit": link.metric.unit,
    }


def _new_key(seed: str | None = None) -> str:
    return hashlib.sha1((seed or f"api:{uuid.uuid4().hex}").encode()).hexdigest()


def row_results(first: Result) -> list[Result]:
    """The results of the row ``first`` is in (its metrics; ``leaderboard/results/rows.py``)."""
    qs = Result.objects.select_related("metric", "model", "paper", "benchmark")
    return result_rows.group_rows([first], qs)[0].results


def result_payload(rows: list[Result]) -> dict:
    """A written row as the client reads it (``PwcResultSerializer``): all its metrics."""
    first = views.results_qs().filter(pk=rows[0].pk).first() or rows[0]
    return dict(s.PwcResultSerializer(result_rows.TableRow(rows, lead=first)).data)


def write_row(benchmark, data: dict, rows: list[Result] | None, key=None, **extra) -> list:
    """Create (``rows`` None) or change a written row so that it holds ``data``: its metrics
    exactly as given (when given), and the other fields given. Returns its rows."""
    rows = list(rows or [])
    if any(r.is_verified for r in rows):
        raise PermissionDenied("A verified row changes only through a reproduction run.")
    first = rows[0] if rows else None
    model = (
        catalogue.get_model(data["methodology"][:300])[0]
        if "methodology" in data
        else (first.model if first else None)
    )
    paper = _paper(data.get("paper")) if "paper" in data else (first.paper if first else None)
    archive_row = dict(first.archive_row) if first and isinstance(first.archive_row, dict) else {}
    if "external_source_url" in data:
        archive_row["external_source_url"] = data["external_source_url"]
    archive_row.update(extra)
    common = {
        "model": model,
        "paper": paper,
        "date": data["evaluated_on"] if "evaluated_on" in data else (first.date if first else None),
        "uses_additional_data": data.get(
            "uses_additional_data", first.uses_additional_data if first else False
        ),
        "archive_row": archive_row,
    }
    if "paper_date" in archive_row or "evaluated_on" in data:
        archive_row["paper_date"] = common["date"].isoformat() if common["date"] else None
    if first is not None and not first.archive_key:  # a row of one (the seed's): keyed now, so
        first.archive_key = _new_key()  # that the metrics written with it stay one row
    key = first.archive_key if first else (key or _new_key())
    wanted = data.get("metrics")
    by_metric = {r.metric_id: r for r in rows}
    out = []
    if wanted is None:  # the metrics unchanged, the other fields written
        for r in rows:
            for field, value in common.items():
                setattr(r, field, value)
            r.save()
            out.append(r)
        return out
    keep = set()
    links = [(link_metric(benchmark, name), text) for name, text in wanted.items()]
    if first is not None and links and first.metric_id not in {k.metric_id for k, _ in links}:
        # The row keeps its id (its first result's): that result takes a metric it is given,
        # in place of the result that metric had, if any.
        target = links[0][0]
        taken = by_metric.pop(target.metric_id, None)
        if taken is not None:
            rows = [r for r in rows if r.pk != taken.pk]
            taken.delete()
        by_metric.pop(first.metric_id, None)
        first.metric = target.metric
        by_metric[target.metric_id] = first
    for link, text in links:
        parsed = parse_value(text)
        value, ci = parsed if parsed else (None, None)
        row = by_metric.get(link.metric_id)
        if row is None:
            row = Result(
                benchmark=benchmark,
                metric=link.metric,
                source=Result.Source.ARCHIVE,
                archive_key=key,
            )
        row.value, row.ci95, row.raw_value = value, ci, text
        for field, v in common.items():
            setattr(row, field, v)
        row.save()
        by_metric[link.metric_id] = row  # two spellings of one metric: one row
        if row.pk not in keep:
            keep.add(row.pk)
            out.append(row)
    for r in rows:
        if r.pk not in keep:
            r.delete()
    return sorted(out, key=lambda r: r.pk)


def table_payload(b: Benchmark) -> dict:
    out = s.PwcEvaluationSerializer(b).data
    out["mirror_url"] = b.mirror_url or None
    out["external_id"] = b.external_id
    return out


# ---- evaluation_synchronize ------------------------------------------------------------------


def _sync_key(benchmark: Benchmark, row: dict) -> str:
    if row.get("external_id"):
        return _new_key(f"sync:{benchmark.pk}:{row['external_id']}")
    canon = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    return _new_key(f"sync-row:{benchmark.pk}:{json.dumps(canon, sort_keys=True, default=str)}")
