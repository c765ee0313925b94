"""Find-or-create helpers shared by the seed loader, the archive importer and the load generator.

Every helper matches an existing row first (by slug, then by name without regard to case), so
that "Mini-Imagenet" in an archive file lands on the "Mini-ImageNet" dataset already there.
"""

import re

from django.utils.text import slugify

from leaderboard.core.arxiv import arxiv_id_in_url
from leaderboard.direction_guess import NAME, guess_higher_is_better
from leaderboard.models import Benchmark, Dataset, Metric, MLModel, Paper, Result, Task, unique_slug

_WAYS = re.compile(r"(\d+)[- ]way", re.I)
_SHOTS = re.compile(r"(\d+)[- ]shot", re.I)


def ways_shots(benchmark_name: str) -> tuple[int | None, int | None]:
    ways, shots = _WAYS.search(benchmark_name), _SHOTS.search(benchmark_name)
    return (int(ways.group(1)) if ways else None, int(shots.group(1)) if shots else None)


def dataset_name_from_benchmark(benchmark_name: str) -> str:
    """The dataset part of an archive benchmark name: "OMNIGLOT - 1-Shot, 5-way" -> "OMNIGLOT"."""
    name = re.split(r"\s+-\s+|\s*\(|\s+\d+[- ]way|\s+\d+[- ]shot", benchmark_name, maxsplit=1)[0]
    return name.strip() or benchmark_name.strip()


def _by_slug_or_name(model_cls, name: str):
    slug = slugify(name)
    found = model_cls.objects.filter(slug=slug).first() if slug else None
    return found or model_cls.objects.filter(name__iexact=name).first()


def get_task(name: str, parent: Task | None = None) -> tuple[Task, bool]:
    task = _by_slug_or_name(Task, name)
    if task:
        if parent is not None and task.parent_id is None and task.pk != parent.pk:
            task.parent = parent
            task.save(update_fields=["parent"])
        return task, False
    return Task.objects.create(name=name, slug=unique_slug(Task, name), parent=parent), True


def get_dataset(name: str) -> tuple[Dataset, bool]:
    dataset = _by_slug_or_name(Dataset, name)
    if dataset:
        return dataset, False
    return Dataset.objects.create(name=name, slug=unique_slug(Dataset, name)), True


def get_metric(
    name: str, higher_is_better: bool | None = None, unit: str | None = None
) -> tuple[Metric, bool]:
    metric = _by_slug_or_name(Metric, name)
    if metric:
        return metric, False
    source = ""
    if higher_is_better is None:
        higher_is_better, source = guess_higher_is_better(name), NAME
    return Metric.objects.create(
        name=name,
        slug=unique_slug(Metric, name),
        higher_is_better=higher_is_better,
        direction_source=source,
        unit=unit or "",
    ), True


def get_model(name: str) -> tuple[MLModel, bool]:
    model = MLModel.objects.filter(name=name).first()
    if model:
        return model, False
    return MLModel.objects.create(name=name, slug=unique_slug(MLModel, name)), True


def get_benchmark(
    name: str,
    dataset_name: str | None = None,
    ways: int | None = None,
    shots: int | None = None,
) -> tuple[Benchmark, bool]:
    benchmark = Benchmark.objects.filter(name=name).first() or _by_slug_or_name(Benchmark, name)
    if benchmark:
        return benchmark, False
    dataset, _ = get_dataset(dataset_name or dataset_name_from_benchmark(name))
    if ways is None and shots is None:
        ways, shots = ways_shots(name)
    return Benchmark.objects.create(
        name=name,
        slug=unique_slug(Benchmark, name),
        dataset=dataset,
        ways=ways,
        shots=shots,
    ), True


def find_paper(title: str, url: str = "", arxiv_id: str = "") -> Paper | None:
    arxiv_id = arxiv_id or arxiv_id_in_url(url)
    if arxiv_id:
        paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
        if paper:
            return paper
    if title:
        return Paper.objects.filter(title__iexact=title.strip()).first()
    return None


def get_paper(title: str, url: str = "", date=None) -> tuple[Paper, bool]:
    paper = find_paper(title, url)
    if paper:
        return paper, False
    return Paper.objects.create(
        title=title.strip(),
        slug=unique_slug(Paper, title),
        url=url or "",
        arxiv_id=arxiv_id_in_url(url),
        date=date,
    ), True


def upsert_archive_result(
    *,
    benchmark: Benchmark,
    metric: Metric,
    model: MLModel,
    paper: Paper | None,
    value: float,
    raw_value: str,
    uses_additional_data: bool = False,
) -> str:
    """Store one archive row once; returns "created", "updated" or "unchanged"."""
    existing = Result.objects.archive().filter(
        benchmark=benchmark, metric=metric, model=model, paper=paper
    )
    result = existing.first()
    if result is None:
        Result.objects.create(
            benchmark=benchmark,
            metric=metric,
            model=model,
            paper=paper,
            value=value,
            raw_value=raw_value,
            uses_additional_data=uses_additional_data,
            source=Result.Source.ARCHIVE,
        )
        benchmark.metrics.add(metric)
        return "created"
    if (result.value, result.raw_value, result.uses_additional_data) == (
        value,
        raw_value,
        uses_additional_data,
    ):
        return "unchanged"
    result.value, result.raw_value = value, raw_value
    result.uses_additional_data = uses_additional_data
    result.save(update_fields=["value", "raw_value", "uses_additional_data"])
    return "updated"
