"""Synthetic load data for benchmarks/api_load.py: N archive results spread over the seed's
benchmarks, with their own models and papers (all named "Synthetic ..."; --clear removes them)."""

import datetime
import random

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from leaderboard.models import Benchmark, MLModel, Paper, Result

PREFIX = "synthetic-"


class Command(BaseCommand):
    help = "Generate N synthetic archive results (default 10,000) for load benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--clear", action="store_true", help="remove synthetic rows only")
        parser.add_argument(
            "--vacuum",
            action="store_true",
            help="then VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite), as a steady state would",
        )

    def handle(self, *args, count, seed, clear, vacuum, **options):
        with transaction.atomic():
            removed = clear_synthetic()
        if clear:
            self.stdout.write(f"Removed {removed} synthetic results.")
            return
        if count < 1:
            raise CommandError("--count must be positive")
        benchmarks = list(Benchmark.objects.filter(results__isnull=False).distinct())
        if not benchmarks:
            raise CommandError("No benchmark with results: run load_seed first.")
        with transaction.atomic():
            created = generate(count, seed, benchmarks)
        self.stdout.write(f"Generated {created} synthetic results on {len(benchmarks)} benchmarks.")
        if vacuum:
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("VACUUM ANALYZE leaderboard_result")
                else:
                    cursor.execute("ANALYZE")


def clear_synthetic() -> int:
    deleted, _ = Result.objects.filter(model__slug__startswith=PREFIX).delete()
    MLModel.objects.filter(slug__startswith=PREFIX).delete()
    Paper.objects.filter(slug__startswith=PREFIX).delete()
    return deleted


def generate(count: int, seed: int, benchmarks: list[Benchmark]) -> int:
    rng = random.Random(seed)
    # One metric (the one the benchmark's own rows use) and a typical value per benchmark.
    typical = {}
    for bench in benchmarks:
        row = bench.results.select_related("metric").first()
        typical[bench.pk] = (row.metric, row.value)
    n_models = max(1, count // 20)
    n_papers = max(1, (count + n_models - 1) // n_models)
    models = MLModel.objects.bulk_create(
        MLModel(name=f"Synthetic model {i}", slug=f"{PREFIX}model-{i}") for i in range(n_models)
    )
    start = datetime.date(2015, 1, 1)
    papers = Paper.objects.bulk_create(
        Paper(
            title=f"Synthetic paper {i}",
            slug=f"{PREFIX}paper-{i}",
            authors=[f"Author {i}", f"Coauthor {i}"],
            date=start + datetime.timedelta(days=rng.randrange(0, 3650)),
            venue=rng.choice(["ICML", "NeurIPS", "ICLR", "CVPR", ""]),
            abstract="A synthetic paper for load benchmarks. " * 20,
        )
        for i in range(n_papers)
    )
    rows = []
    for i in range(count):
        bench = benchmarks[i % len(benchmarks)]
        metric, value = typical[bench.pk]
        spread = 0.05 * abs(value) or 1.0
        rows.append(
            Result(
                benchmark=bench,
                metric=metric,
                # (model, paper) is unique per row, so the archive constraint holds.
                model=models[i % n_models],
                paper=papers[i // n_models],
                value=round(value + rng.uniform(-spread, spread), 3),
                uses_additional_data=rng.random() < 0.1,
            )
        )
    Result.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
