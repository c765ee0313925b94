"""Load the MAML paper and its results table from the committed seed file (idempotent)."""

import datetime
import json
from collections import Counter
from pathlib import Path

from django.db import transaction

from leaderboard import catalogue
from leaderboard.models import CodeLink, Paper, unique_slug

SEED_FILE = Path(__file__).resolve().parent / "seed" / "maml_paper.json"


def read_seed(path: Path = SEED_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _upsert_paper(data: dict) -> Paper:
    fields = {
        "title": data["title"],
        "authors": data["authors"],
        "date": datetime.date.fromisoformat(data["date"]),
        "venue": data["venue"],
        "url": data["url"],
        "pdf_url": data["pdf_url"],
        "abstract": data["abstract"],
    }
    paper = catalogue.find_paper(data["title"], arxiv_id=data["arxiv_id"])
    if paper is None:
        paper = Paper.objects.create(
            slug=unique_slug(Paper, data["title"]), arxiv_id=data["arxiv_id"], **fields
        )
    else:
        for name, value in fields.items():
            setattr(paper, name, value)
        paper.arxiv_id = data["arxiv_id"]
        paper.save()
    paper.tasks.add(*[catalogue.get_task(name)[0] for name in data["tasks"]])
    for link in data["code_links"]:
        CodeLink.objects.update_or_create(
            paper=paper,
            url=link["url"],
            defaults={"official": link["official"], "framework": link.get("framework", "")},
        )
    return paper


@transaction.atomic
def load_seed(path: Path = SEED_FILE) -> Counter:
    """Create or update the seed's catalogue and archive rows; returns counts of result actions."""
    data = read_seed(path)
    paper = _upsert_paper(data["paper"])
    metrics = {}
    for spec in data["metrics"]:
        metric, _ = catalogue.get_metric(spec["name"], spec["higher_is_better"], spec["unit"])
        if (metric.higher_is_better, metric.unit) != (spec["higher_is_better"], spec["unit"]):
            metric.higher_is_better, metric.unit = spec["higher_is_better"], spec["unit"]
            metric.save(update_fields=["higher_is_better", "unit"])
        metrics[spec["name"]] = metric
    benchmarks = {}
    for spec in data["benchmarks"]:
        benchmark, _ = catalogue.get_benchmark(
            spec["name"], spec["dataset"], spec["ways"], spec["shots"]
        )
        benchmark.tasks.add(*[catalogue.get_task(name)[0] for name in spec["tasks"]])
        benchmark.metrics.add(*[metrics[name] for name in spec.get("metrics", [])])
        benchmarks[spec["name"]] = benchmark
    counts: Counter = Counter()
    for row in data["results"]:
        model, _ = catalogue.get_model(row["model"])
        counts[
            catalogue.upsert_archive_result(
                benchmark=benchmarks[row["benchmark"]],
                metric=metrics[row["metric"]],
                model=model,
                paper=paper,
                value=float(row["value"]),
                raw_value=row["value"],
            )
        ] += 1
    return counts
