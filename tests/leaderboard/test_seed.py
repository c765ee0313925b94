import datetime
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from leaderboard.models import Benchmark, CodeLink, Metric, Paper, Result, Task

SEED_PAGE = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "maml-paper-page.txt"

pytestmark = pytest.mark.django_db


def _page_rows() -> list[tuple[str, str, str, str, str]]:
    """(task, benchmark, metric, value, model) for each row of the page's results table."""
    text = SEED_PAGE.read_text(encoding="utf-8")
    table = text.split("TaskDatasetMetricValueModel", 1)[1].split("Related Papers", 1)[0]
    tasks = sorted(
        [
            "2D Pose Estimation",
            "2D Classification",
            "Image Classification",
            "Few-Shot Image Classification",
        ],
        key=len,
        reverse=True,
    )
    benchmarks = sorted(Benchmark.objects.values_list("name", flat=True), key=len, reverse=True)
    metrics = sorted(Metric.objects.values_list("name", flat=True), key=len, reverse=True)
    rows = []
    for line in filter(None, (ln.strip() for ln in table.splitlines())):
        task = next(t for t in tasks if line.startswith(t))
        rest = line[len(task) :]
        bench = next(b for b in benchmarks if rest.startswith(b))
        rest = rest[len(bench) :]
        metric = next(m for m in metrics if rest.startswith(m))
        value, model = re.match(r"(\d+(?:\.\d+)?)(.+)", rest[len(metric) :]).groups()
        rows.append((task, bench, metric, value, model))
    return rows


def test_it_loads_every_row_of_the_seed_page_with_its_exact_value():
    if not SEED_PAGE.exists():
        pytest.skip(f"{SEED_PAGE} is absent")
    call_command("load_seed")
    rows = _page_rows()
    assert len(rows) == 38
    for task, bench, metric, value, model in rows:
        result = Result.objects.get(benchmark__name=bench, metric__name=metric, model__name=model)
        assert result.value == float(value), (bench, model)
        assert result.raw_value == value
        assert result.source == Result.Source.ARCHIVE
        assert result.benchmark.tasks.filter(name=task).exists(), (bench, task)
    # Listed twice on the page, stored once.
    assert len({r[1:] for r in rows}) == 20


def test_it_stores_the_paper_metadata():
    call_command("load_seed")
    paper = Paper.objects.get(arxiv_id="1703.03400")
    assert paper.title == "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks"
    assert paper.authors == ["Chelsea Finn", "Pieter Abbeel", "Sergey Levine"]
    assert paper.date == datetime.date(2017, 3, 9)
    assert paper.venue == "ICML 2017"
    assert paper.abstract.startswith("We propose an algorithm for meta-learning")
    assert set(paper.tasks.values_list("name", flat=True)) >= {
        "Few-Shot Learning",
        "Meta-Learning",
        "Few-Shot Image Classification",
        "Reinforcement Learning",
    }
    official = CodeLink.objects.get(paper=paper, official=True)
    assert official.url == "https://github.com/cbfinn/maml"


def test_it_is_idempotent():
    call_command("load_seed")
    counts = [m.objects.count() for m in (Result, Benchmark, Paper, Task, Metric, CodeLink)]
    call_command("load_seed")
    assert counts == [m.objects.count() for m in (Result, Benchmark, Paper, Task, Metric, CodeLink)]
    assert Result.objects.count() == 22


def test_it_restores_a_value_a_curator_changed_by_mistake():
    call_command("load_seed")
    Result.objects.filter(benchmark__name="OMNIGLOT - 1-Shot, 5-way").update(value=1.0)
    call_command("load_seed")
    assert Result.objects.get(benchmark__name="OMNIGLOT - 1-Shot, 5-way").value == 98.7


def test_it_sets_metric_directions_ways_and_shots():
    call_command("load_seed")
    assert Metric.objects.get(name="Accuracy").higher_is_better
    assert Metric.objects.get(name="1:1 Accuracy").higher_is_better
    assert Metric.objects.get(name="Mean PCK@0.2 - 1shot").higher_is_better
    assert not Metric.objects.get(name="Mean Rank").higher_is_better
    assert not Metric.objects.get(name="MSE").higher_is_better
    b = Benchmark.objects.get(name="Mini-Imagenet 10-way (5-shot)")
    assert (b.ways, b.shots, b.dataset.slug) == (10, 5, "mini-imagenet")
    assert b.dataset.name == "Mini-ImageNet"
    mp100 = Benchmark.objects.get(name="MP100")
    assert set(mp100.tasks.values_list("name", flat=True)) == {
        "2D Pose Estimation",
        "2D Classification",
    }


def test_it_creates_the_benchmarks_the_protocols_need():
    call_command("load_seed")
    for name, value in [("OMNIGLOT - 1-Shot, 20-way", 95.8), ("OMNIGLOT - 5-Shot, 20-way", 98.9)]:
        b = Benchmark.objects.get(name=name)
        assert (b.ways, b.dataset.name) == (20, "Omniglot")
        assert Result.objects.get(benchmark=b, model__name="MAML").value == value
    sine = Benchmark.objects.get(name="Sinusoid Regression (10-shot)")
    assert (sine.ways, sine.shots, sine.dataset.name) == (None, 10, "Sinusoid")
    assert list(sine.metrics.values_list("name", flat=True)) == ["MSE"]
    assert not sine.results.exists()
