"""Catalogue rows the evaluator's tests claim against (get_or_create: safe beside the seed)."""

from leaderboard.models import Benchmark, Dataset, Metric, Paper, Task


def metric(name: str = "Accuracy", higher_is_better: bool = True, unit: str = "%") -> Metric:
    obj, _ = Metric.objects.get_or_create(
        name=name,
        defaults={"slug": name.lower(), "higher_is_better": higher_is_better, "unit": unit},
    )
    return obj


def benchmark(
    name: str = "OMNIGLOT - 1-Shot, 5-way",
    dataset: str = "Omniglot",
    metric_name: str = "Accuracy",
    ways: int | None = 5,
    shots: int | None = 1,
) -> Benchmark:
    ds, _ = Dataset.objects.get_or_create(name=dataset, defaults={"slug": dataset.lower()})
    task, _ = Task.objects.get_or_create(
        name="Few-Shot Image Classification", defaults={"slug": "few-shot-image-classification"}
    )
    from django.utils.text import slugify

    bench, _ = Benchmark.objects.get_or_create(
        name=name, defaults={"slug": slugify(name), "dataset": ds, "ways": ways, "shots": shots}
    )
    bench.tasks.add(task)
    bench.metrics.add(metric(metric_name, higher_is_better=metric_name != "MSE"))
    return bench


def maml_paper() -> Paper:
    paper, _ = Paper.objects.get_or_create(
        arxiv_id="1703.03400",
        defaults={
            "title": "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
            "slug": "model-agnostic-meta-learning-for-fast",
            "authors": ["Chelsea Finn", "Pieter Abbeel", "Sergey Levine"],
        },
    )
    return paper
