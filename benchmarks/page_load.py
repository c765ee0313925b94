#!/usr/bin/env python
"""Page latency benchmark (not a test): p50/p99 of the issue's page list, warm and cold cache.

Runs gunicorn (2 sync workers, as production would on this 2-core machine) on loopback against
the database in DATABASE_URL, with the read cache shared through Redis (CACHE_URL, default
redis://127.0.0.1:6379/10) as in production, and requests each URL one at a time:

- warm: N requests in a row (the first, a miss, excluded): what readers see while the catalogue
  is unchanged;
- cold: before each of M requests the catalogue version is bumped (one UPDATE of the version row,
  as any catalogue write does), so every cache entry (page, counts, figures) is missed and the
  page is computed from the database.

The database should hold the full-size synthetic archive (``manage.py generate_archive`` then
``import_archive --all``; it has no benchmark of 500 rows, so ``catalogue_gen.py --b500-only``
adds one, and ``load_seed`` the MAML paper) or else ``catalogue_gen.py``'s catalogue; the URLs
are picked from it (the task with most benchmarks, a benchmark with 500 rows, the dataset with
most results, the MAML paper, the newest method).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h10 \\
        .venv/bin/python benchmarks/page_load.py --warm 200 --cold 50
"""

import argparse
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> tuple[float, int, int]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Host": "127.0.0.1"})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    conn.close()
    return elapsed, response.status, len(body)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def urls() -> dict[str, str]:
    import django

    django.setup()
    from django.db.models import Count

    from leaderboard.models import Benchmark, Dataset, Paper, Task

    large_task = Task.objects.annotate(n=Count("benchmarks")).order_by("-n").first()
    b500 = (
        Benchmark.objects.annotate(n=Count("results")).filter(n__gte=500).order_by("n").first()
        or Benchmark.objects.annotate(n=Count("results")).order_by("-n").first()
    )
    dataset = Dataset.objects.annotate(n=Count("benchmarks__results")).order_by("-n").first()
    paper = Paper.objects.filter(slug__startswith="model-agnostic").first() or Paper.objects.first()
    out = {
        "home": "/",
        "tasks": "/tasks/",
        f"large task ({large_task.n} benchmarks)": large_task.get_absolute_url(),
        "SotA": "/sota/",
        f"benchmark ({b500.n} rows)": b500.get_absolute_url(),
        "papers page 1": "/papers/",
        "papers page 10,000": "/papers/?page=10000",
        "paper page": paper.get_absolute_url(),
    }
    try:
        from django.apps import apps

        method = apps.get_model("leaderboard", "Method").objects.order_by("-pk").first()
        if method is not None:
            out["method page"] = f"/methods/{method.slug}/"
    except LookupError:
        pass
    out["search 'learning'"] = "/search/?q=learning"
    out[f"/api/results?dataset={dataset.slug}"] = f"/api/results?dataset={dataset.slug}"
    out["/api/v1/papers/?q=learning"] = "/api/v1/papers/?q=learning"
    return out


def bump() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leaderboard_catalogueversion SET counter = counter + 1, "
            "stamp = (random() * 4e18)::bigint"
            if connection.vendor == "postgresql"
            else "UPDATE leaderboard_catalogueversion SET counter = counter + 1, stamp = random()"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--cold", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", help="measure only URLs whose label contains this")
    args = parser.parse_args()
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "benchmark", "ALLOWED_HOSTS": "127.0.0.1"}
    env.setdefault("CACHE_URL", "redis://127.0.0.1:6379/10")
    env["CACHE_KEY_PREFIX"] = f"bench-{os.getpid()}"
    os.environ.update({k: env[k] for k in ("CACHE_URL", "CACHE_KEY_PREFIX")})
    targets = urls()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(port, "/api/_ping/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        load_before = os.getloadavg()
        print(
            f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f};"
            f" {os.cpu_count()} CPUs; gunicorn {args.workers} sync workers; one request at a time"
        )
        print(f"{'page':44} {'warm p50':>9} {'warm p99':>9} {'cold p50':>9} {'cold p99':>9}  bytes")
        for label, path in targets.items():
            if args.only and args.only not in label:
                continue
            bump()
            for _ in range(args.workers * 2):  # each worker's first (miss) request
                get(port, path)
            warm = []
            for _ in range(args.warm):
                ms, status, size = get(port, path)
                assert status == 200, (path, status)
                warm.append(ms)
            cold = []
            for _ in range(args.cold):
                bump()
                ms, status, size = get(port, path)
                assert status == 200, (path, status)
                cold.append(ms)
            print(
                f"{label[:44]:44} {pct(warm, 50):9.1f} {pct(warm, 99):9.1f} "
                f"{pct(cold, 50):9.1f} {pct(cold, 99):9.1f}  {size}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        load_after = os.getloadavg()
        print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
