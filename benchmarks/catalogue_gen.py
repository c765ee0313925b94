#!/usr/bin/env python
"""A synthetic full-size catalogue for benchmarks/page_load.py (not a test, not for production).

Sizes default to the PWC archive's (57,000 papers, 11,000 benchmarks, 212,000 results), scaled by
--scale. Every generated row's slug starts with "syn-"; --clear removes them. Titles and
abstracts draw from a small machine-learning vocabulary, so common words ("learning") match tens
of thousands of papers, as in the real archive. One benchmark gets exactly 500 results
("syn-b500") and one task 600 benchmarks ("syn-task-large"); ``--b500-only`` adds only those
two (400 benchmarks for the task) to a catalogue already loaded. Rows go in with
bulk_create, so the database's triggers (catalogue version, search vector) run as for any write.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/verisota_pages \\
        .venv/bin/python benchmarks/catalogue_gen.py --scale 1.0
"""

import argparse
import datetime
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

WORDS = (
    "learning deep neural network networks meta few-shot classification image images graph "
    "attention transformer model models training robust efficient adaptive gradient optimization "
    "representation representations self-supervised contrastive language generation detection "
    "segmentation reinforcement policy sparse scalable generative adversarial diffusion "
    "benchmark data augmentation transfer domain adaptation zero-shot visual semantic embedding "
    "inference bayesian variational latent recurrent convolutional kernel features feature"
).split()
FIRST = (
    "Ada Alan Grace Chelsea Pieter Sergey Yoshua Geoffrey Fei Andrew Ian Kaiming Jia Oriol".split()
)
LAST = "Lovelace Turing Hopper Finn Abbeel Levine Bengio Hinton Li Ng Goodfellow He Deng".split()
VENUES = ["NeurIPS", "ICML", "ICLR", "CVPR", "ICCV", "ECCV", "AAAI", "ACL", "EMNLP", "arXiv"]


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def b500_only(rng) -> None:
    """One benchmark with 500 results (its own models, on existing papers, dataset, task and
    metric), in one transaction."""
    from django.db import transaction

    from leaderboard.models import Benchmark, Dataset, Metric, MLModel, Paper, Result, Task

    with transaction.atomic():
        dataset = Dataset.objects.order_by("pk").first()
        metric = Metric.objects.filter(higher_is_better=True).order_by("pk").first()
        b = Benchmark.objects.create(
            name="Syn benchmark with 500 rows", slug="syn-b500", dataset=dataset
        )
        b.tasks.add(Task.objects.order_by("pk").first())
        b.metrics.add(metric)
        models_ = MLModel.objects.bulk_create(
            MLModel(name=f"Syn b500 model {i}", slug=f"syn-b500-model-{i}") for i in range(500)
        )
        papers = list(Paper.objects.order_by("pk")[:500])
        Result.objects.bulk_create(
            Result(
                benchmark=b,
                metric=metric,
                model=models_[i],
                paper=papers[i % len(papers)],
                value=round(rng.uniform(20, 99), 2),
                raw_value="",
            )
            for i in range(500)
        )
    print(f"added {b.slug}: 500 results of {metric.name} on {dataset.name}")


LARGE_TASK = 400  # benchmarks under syn-task-large


def large_task_only(rng) -> None:
    """One task with LARGE_TASK benchmarks ("syn-task-large"), each with 3 results of one metric
    (its own benchmarks; existing datasets, models and papers), in one transaction: the full-size
    synthetic archive's largest task has 16."""
    from django.db import transaction

    from leaderboard.models import Benchmark, Dataset, Metric, MLModel, Paper, Result, Task

    with transaction.atomic():
        task = Task.objects.create(name="Syn task with many benchmarks", slug="syn-task-large")
        datasets = list(Dataset.objects.order_by("pk")[:LARGE_TASK])
        metric = Metric.objects.filter(higher_is_better=True).order_by("pk").first()
        benchmarks = Benchmark.objects.bulk_create(
            Benchmark(
                name=f"Syn large-task benchmark {i}",
                slug=f"syn-large-task-benchmark-{i}",
                dataset=datasets[i % len(datasets)],
            )
            for i in range(LARGE_TASK)
        )
        Benchmark.tasks.through.objects.bulk_create(
            Benchmark.tasks.through(benchmark_id=b.pk, task_id=task.pk) for b in benchmarks
        )
        Benchmark.metrics.through.objects.bulk_create(
            Benchmark.metrics.through(benchmark_id=b.pk, metric_id=metric.pk) for b in benchmarks
        )
        models_ = list(MLModel.objects.order_by("pk")[: 3 * LARGE_TASK])
        papers = list(Paper.objects.order_by("pk")[: 3 * LARGE_TASK])
        Result.objects.bulk_create(
            Result(
                benchmark=b,
                metric=metric,
                model=models_[(3 * i + k) % len(models_)],
                paper=papers[(3 * i + k) % len(papers)],
                value=round(rng.uniform(20, 99), 2),
                raw_value="",
            )
            for i, b in enumerate(benchmarks)
            for k in range(3)
        )
    print(f"added {task.slug}: {LARGE_TASK} benchmarks, 3 results each, of {metric.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clear", action="store_true")
    parser.add_argument(
        "--b500-only",
        action="store_true",
        help="add only the benchmark with 500 rows (syn-b500) and the task with 400 benchmarks "
        "(syn-task-large) to a catalogue already loaded, e.g. the synthetic archive imported "
        "with import_archive, which has none so large",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.apps import apps
    from django.db import connection, transaction

    from leaderboard.models import (
        Benchmark,
        CodeLink,
        Dataset,
        Metric,
        MLModel,
        Paper,
        Result,
        Task,
    )

    def model(name):
        try:
            return apps.get_model("leaderboard", name)
        except LookupError:
            return None

    Method, Area = model("Method"), model("Area")

    t0 = time.monotonic()
    with transaction.atomic():
        Result.objects.filter(benchmark__slug__startswith="syn-").delete()
        CodeLink.objects.filter(paper__slug__startswith="syn-").delete()
        Benchmark.objects.filter(slug__startswith="syn-").delete()
        Paper.objects.filter(slug__startswith="syn-").delete()
        MLModel.objects.filter(slug__startswith="syn-").delete()
        Dataset.objects.filter(slug__startswith="syn-").delete()
        Task.objects.filter(slug__startswith="syn-").delete()
        Metric.objects.filter(slug__startswith="syn-").delete()
        if Method is not None:
            Method.objects.filter(slug__startswith="syn-").delete()
        if Area is not None:
            Area.objects.filter(slug__startswith="syn-").delete()
    if args.clear:
        print(f"cleared in {time.monotonic() - t0:.1f} s")
        return
    if args.b500_only:
        b500_only(random.Random(args.seed))
        large_task_only(random.Random(args.seed))
        return

    rng = random.Random(args.seed)
    n = lambda full: max(1, int(full * args.scale))  # noqa: E731
    sizes = {
        "tasks": n(3000),
        "datasets": n(5000),
        "benchmarks": n(11000),
        "models": n(40000),
        "papers": n(57000),
        "results": n(212000),
        "methods": n(2000),
        "metrics": n(200),
    }
    batch = 5000

    def bulk(cls, objs):
        return cls.objects.bulk_create(objs, batch_size=batch)

    with transaction.atomic():
        areas = []
        if Area is not None:
            areas = bulk(
                Area, [Area(name=f"Syn area {i}", slug=f"syn-area-{i}") for i in range(16)]
            )
        tasks = []
        for i in range(sizes["tasks"]):
            t = Task(
                name=f"Syn task {i} {sentence(rng, 2)}",
                slug=f"syn-task-{i}",
                description=sentence(rng, 30),
            )
            if areas:
                t.area = areas[i % len(areas)]
            tasks.append(t)
        tasks[0].name, tasks[0].slug = "Syn large task", "syn-task-large"
        tasks = bulk(Task, tasks)
        for i, t in enumerate(tasks[20:], start=20):  # a hierarchy: every tenth has a parent
            if i % 10 == 0:
                t.parent = tasks[rng.randrange(1, 20)]
        Task.objects.bulk_update([t for t in tasks if t.parent_id], ["parent"], batch_size=batch)
        metrics = bulk(
            Metric,
            [
                Metric(name=f"Syn metric {i}", slug=f"syn-metric-{i}", higher_is_better=i % 5 != 0)
                for i in range(sizes["metrics"])
            ],
        )
        datasets = bulk(
            Dataset,
            [
                Dataset(
                    name=f"Syn dataset {i}", slug=f"syn-dataset-{i}", description=sentence(rng, 40)
                )
                for i in range(sizes["datasets"])
            ],
        )
        benchmarks = bulk(
            Benchmark,
            [
                Benchmark(
                    name=f"Syn benchmark {i}",
                    slug=f"syn-benchmark-{i}",
                    dataset=datasets[i % len(datasets)],
                )
                for i in range(sizes["benchmarks"])
            ],
        )
        benchmarks[0].name, benchmarks[0].slug = "Syn benchmark with 500 rows", "syn-b500"
        Benchmark.objects.filter(pk=benchmarks[0].pk).update(
            name=benchmarks[0].name, slug=benchmarks[0].slug
        )
        BT = Benchmark.tasks.through
        links = []
        for i, b in enumerate(benchmarks):
            chosen = {tasks[0].pk} if i < 600 else set()
            chosen.add(tasks[rng.randrange(1, len(tasks))].pk)
            links += [BT(benchmark_id=b.pk, task_id=t) for t in chosen]
        bulk(BT, links)
        BM = Benchmark.metrics.through
        bench_metric = {b.pk: metrics[rng.randrange(len(metrics))] for b in benchmarks}
        bulk(BM, [BM(benchmark_id=b, metric_id=m.pk) for b, m in bench_metric.items()])
        models_ = bulk(
            MLModel,
            [
                MLModel(name=f"Syn {rng.choice(WORDS).capitalize()}Net-{i}", slug=f"syn-model-{i}")
                for i in range(sizes["models"])
            ],
        )
        t1 = time.monotonic()
        papers = bulk(
            Paper,
            [
                Paper(
                    title=f"{sentence(rng, rng.randint(4, 9)).capitalize()} ({i})",
                    slug=f"syn-paper-{i}",
                    authors=[
                        f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(1, 6))
                    ],
                    date=datetime.date(2012, 1, 1) + datetime.timedelta(days=rng.randrange(4700)),
                    venue=f"{rng.choice(VENUES)} {rng.randint(2012, 2024)}",
                    url=f"https://arxiv.org/abs/{2000 + i % 900}.{i:05d}",
                    pdf_url=f"https://arxiv.org/pdf/{2000 + i % 900}.{i:05d}",
                    abstract=sentence(rng, rng.randint(80, 160)),
                )
                for i in range(sizes["papers"])
            ],
        )
        print(f"papers (with their search vectors) in {time.monotonic() - t1:.1f} s")
        PT = Paper.tasks.through
        bulk(
            PT,
            [
                PT(paper_id=p.pk, task_id=t)
                for p in papers
                for t in {tasks[rng.randrange(len(tasks))].pk for _ in range(rng.randint(1, 4))}
            ],
        )
        bulk(
            CodeLink,
            [
                CodeLink(
                    paper=p,
                    url=f"https://github.com/syn{p.pk % 5000}/repo-{p.pk}-{k}",
                    official=k == 0,
                    framework=rng.choice(["pytorch", "tf", "jax", ""]),
                )
                for p in papers
                if rng.random() < 0.4
                for k in range(rng.randint(1, 3))
            ],
        )
        if Method is not None:
            methods = bulk(
                Method,
                [
                    Method(
                        name=f"Syn method {i}",
                        slug=f"syn-method-{i}",
                        full_name=f"Synthetic {sentence(rng, 3)}",
                        description=sentence(rng, 40),
                        introduced_year=rng.randint(2012, 2024),
                    )
                    for i in range(sizes["methods"])
                ],
            )
            PM = Paper.methods.through
            bulk(
                PM,
                [
                    PM(paper_id=p.pk, method_id=m)
                    for p in papers
                    for m in {
                        methods[rng.randrange(len(methods))].pk for _ in range(rng.randint(0, 4))
                    }
                ],
            )
        t2 = time.monotonic()
        rows, seen = [], set()
        weights = [1.0 / (1 + i) ** 0.5 for i in range(len(benchmarks))]
        for k in range(500):  # exactly 500 rows on the first benchmark
            key = (benchmarks[0].pk, k, k)
            seen.add(key)
        picks = rng.choices(
            range(1, len(benchmarks)), weights=weights[1:], k=sizes["results"] - 500
        )
        targets = [0] * 500 + picks
        for j, bi in enumerate(targets):
            b = benchmarks[bi]
            m = bench_metric[b.pk]
            mi, pi = (
                (j, j) if bi == 0 else (rng.randrange(len(models_)), rng.randrange(len(papers)))
            )
            key = (b.pk, mi, pi)
            if bi and key in seen:
                continue
            seen.add(key)
            rows.append(
                Result(
                    benchmark=b,
                    metric=m,
                    model=models_[mi],
                    paper=papers[pi],
                    value=round(rng.uniform(20, 99), 2),
                    raw_value="",
                )
            )
        bulk(Result, rows)
        print(f"{len(rows)} results in {time.monotonic() - t2:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"generated in {time.monotonic() - t0:.1f} s: {sizes}")


if __name__ == "__main__":
    main()
