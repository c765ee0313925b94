#!/usr/bin/env python
"""The benchmark page and the v1 API's results of a table of multi-metric rows (not a test).

Adds (once) a benchmark of ``--rows`` archive rows of ``--metrics`` metrics each, stored as the
import stores them (one result per value, the row's values sharing an ``archive_key``), to the
database in DATABASE_URL; then requests, in this process through Django's test client, each of
its pages ``--n`` times with the catalogue version bumped before each request (every cache entry
missed: the page computed from the database) and prints one JSON report of p50/p90 in ms:

- ``page``: the benchmark page (its default metric), first page;
- ``page metric 2``: ranked by its second metric;
- ``page 5``: a deep page;
- ``v1 results``: ``/api/v1/evaluations/<id>/results/`` (50 a page).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_rows \\
        .venv/bin/python benchmarks/rows_page.py --rows 500 --metrics 3 --n 30
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from page_load import bump  # noqa: E402  (a catalogue write: every cache misses)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmark")
os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1"

NAME = "Rows benchmark (multi-metric)"


def ensure_table(rows: int, metrics: int):
    import datetime
    import hashlib

    from leaderboard import catalogue
    from leaderboard.models import Benchmark, BenchmarkMetric, Dataset, Metric, Paper, Result

    bench = Benchmark.objects.filter(name=NAME).first()
    if bench is not None:
        return bench
    dataset, _ = Dataset.objects.get_or_create(name="Rows dataset", defaults={"slug": "rows-ds"})
    bench = Benchmark.objects.create(name=NAME, slug="rows-benchmark", dataset=dataset)
    ms = []
    for i in range(metrics):
        m, _ = Metric.objects.get_or_create(name=f"Rows metric {i}", defaults={"slug": f"rm-{i}"})
        BenchmarkMetric.objects.create(benchmark=bench, metric=m)
        ms.append(m)
    papers = Paper.objects.bulk_create(
        Paper(
            title=f"Rows paper {i}",
            slug=f"rows-paper-{i}",
            date=datetime.date(2015, 1, 1) + datetime.timedelta(days=3 * i),
        )
        for i in range(rows)
    )
    models = [catalogue.get_model(f"Rows model {i}")[0] for i in range(rows)]
    Result.objects.bulk_create(
        Result(
            benchmark=bench,
            metric=m,
            model=models[i],
            paper=papers[i],
            value=50 + (i * 7 + j) % 400 / 10,
            raw_value="",
            archive_key=hashlib.sha1(f"rows-{i}".encode()).hexdigest(),
        )
        for i in range(rows)
        for j, m in enumerate(ms)
    )
    return bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--metrics", type=int, default=3)
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    import django

    django.setup()
    from django.test import Client

    from leaderboard.models import Metric

    bench = ensure_table(args.rows, args.metrics)
    second = Metric.objects.get(name="Rows metric 1").slug
    url = bench.get_absolute_url()
    targets = {
        "page": (url, {}),
        "page metric 2": (url, {"metric": second}),
        "page 5": (url, {"page": 5}),
        "v1 results": (f"/api/v1/evaluations/{bench.slug}/results/", {}),
    }
    client = Client()
    report = {"load_before": os.getloadavg(), "rows": args.rows, "metrics": args.metrics}
    for label, (path, params) in targets.items():
        times = []
        for _ in range(args.n):
            bump()
            start = time.perf_counter()
            response = client.get(path, params)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        q = statistics.quantiles(times, n=10)
        report[label] = {"p50_ms": round(statistics.median(times), 1), "p90_ms": round(q[8], 1)}
    report["load_after"] = os.getloadavg()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
