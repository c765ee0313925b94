#!/usr/bin/env python
"""Contention benchmark (not a test): the home page's latency alone, and while 6 clients loop on
the archive export and on the heaviest query filter. Goal: p99 within 3x of alone.

Runs gunicorn as docker-compose.yml does (sync workers, DEBUG off) on loopback against the
database in DATABASE_URL, with the cache in Redis (CACHE_URL, default redis://127.0.0.1:6379/10)
and the Celery broker where CELERY_BROKER_URL says. One measuring client requests the home page
one request at a time; during a loaded round, LOADERS other threads each loop on their target as
fast as the server answers them (reading every body whole; accepting gzip, as Python's requests
and browsers do), each in a process of its own:

- ``alone``: nobody else;
- ``ping``: ``/api/_ping`` (a constant body, no query): the floor, what 6 clients looping on the
  cheapest request cost the home page on this machine, their own CPU included (they share its
  cores with the server);
- ``export``: ``/api/export/evaluation-tables.json`` (the full archive's evaluation tables);
- ``filter``: ``/api/v1/papers/?abstract=<word>`` with a different word on every request (a
  response-cache miss each time, as a scraper or an attacker would send them; PostgreSQL's
  heaviest filter before it was indexed).

Rounds alternate (alone, ping, export, filter, alone, ...) so that noise from the rest of the
machine falls on each alike. Each mode runs twice: with the read throttles as production sets
them (all loaders share one address, 127.0.0.1, so they are one client) and with the throttles
off (what the export file and the index alone achieve). The database should hold the full-size
synthetic archive (``manage.py generate_archive DIR``, ``import_archive --all DIR``, ``load_seed``).

    flock -x /tmp/bench.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python benchmarks/contention.py --requests 300 --rounds 2
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import platform
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "gradient descent meta learning adaptation episodes network convolution transformer "
    "attention reinforcement policy reward graph node embedding language vision image "
    "segmentation detection classification regression bayesian variational inference kernel "
    "sparse robust adversarial federated contrastive representation generative diffusion "
    "optimisation stochastic benchmark dataset evaluation few shot zero transfer domain"
).split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout: float = 120, gzip: bool = False) -> tuple[float, int, int]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Host": "127.0.0.1"}
    if gzip:  # as Python's requests, curl --compressed and browsers send it
        headers["Accept-Encoding"] = "gzip, deflate"
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        size = 0
        while chunk := response.read(1 << 16):
            size += len(chunk)
    finally:
        conn.close()
    return (time.perf_counter() - start) * 1000, response.status, size


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def loader_paths(mode: str):
    if mode == "ping":
        while True:
            yield "/api/_ping"
    if mode == "export":
        while True:
            yield "/api/export/evaluation-tables.json"
    while True:
        a, b = random.sample(WORDS, 2)
        yield f"/api/v1/papers/?abstract={a}+{b}"


def loader(port: int, mode: str, stop, results) -> None:
    """One client, in a process of its own (so that the measuring client never waits for
    another thread's turn at the interpreter lock): loops until told to stop."""
    random.seed(os.getpid())
    counts: dict[int, int] = {}
    times: list[float] = []
    for path in loader_paths(mode):
        if stop.is_set():
            break
        try:
            ms, status, _ = get(port, path, gzip=True)
        except OSError:
            status, ms = 0, 0.0
        counts[status] = counts.get(status, 0) + 1
        times.append(ms)
    results.put((counts, times))


def run_round(port: int, mode: str, loaders: int, requests: int) -> dict:
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=loader, args=(port, mode, stop, results))
        for _ in range(loaders if mode != "alone" else 0)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0 if procs else 0)  # the loaders are running before the first measurement
    home = []
    for _ in range(requests):
        ms, status, _ = get(port, "/")
        assert status == 200, status
        home.append(ms)
    stop.set()
    counts: dict[int, int] = {}
    loader_ms: list[float] = []
    for _ in procs:
        got, times = results.get(timeout=300)
        for status, n in got.items():
            counts[status] = counts.get(status, 0) + n
        loader_ms += times
    for p in procs:
        p.join(timeout=60)
    return {"home": home, "counts": counts, "loader_ms": loader_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="home requests per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each mode")
    parser.add_argument("--loaders", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--throttles", choices=["on", "off", "both"], default="both")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        raise SystemExit("set DATABASE_URL to the benchmark's PostgreSQL database")
    settings_sets = {"on": {}, "off": {"THROTTLE_ANON_READS": "off", "THROTTLE_SEARCH": "off",
                                       "THROTTLE_EXPORT": "off"}}  # fmt: skip
    chosen = ["on", "off"] if args.throttles == "both" else [args.throttles]
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({cpu}); "
          f"gunicorn {args.workers} sync workers; {args.loaders} loaders; database "
          f"{os.environ['DATABASE_URL'].rsplit('@', 1)[-1]}")  # fmt: skip
    for label in chosen:
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "benchmark-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1",
            "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/10"),
            "CACHE_KEY_PREFIX": f"contention-{os.getpid()}-{label}",
            "EXPORT_DIR": f"/tmp/contention-exports-{os.getpid()}",
            **settings_sets[label],
        }
        port = free_port()
        log = open(f"/tmp/contention-gunicorn-{os.getpid()}-{label}.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers",
             str(args.workers), "--bind", f"127.0.0.1:{port}", "--timeout", "120",
             "--log-level", "warning"],
            cwd=ROOT, env=env, stderr=log, stdout=log,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    get(port, "/api/_ping")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("gunicorn did not start") from None
                    time.sleep(0.2)
            for _ in range(args.workers * 3):  # every worker's first request; the export file
                get(port, "/")
            get(port, "/api/export/evaluation-tables.json", gzip=True)
            before = os.getloadavg()
            results: dict[str, list] = {"alone": [], "ping": [], "export": [], "filter": []}
            for _ in range(args.rounds):
                for mode in results:
                    results[mode].append(run_round(port, mode, args.loaders, args.requests))
            after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=60)
        alone_p99 = pct([ms for r in results["alone"] for ms in r["home"]], 99)
        print(f"\nthrottles {label}; load average {before[0]:.2f} before, {after[0]:.2f} after")
        print(
            f"{'home page while':18} {'p50':>7} {'p99':>7} {'max':>7} {'p99/alone':>9}  "
            "loaders' answers"
        )
        for mode, rounds in results.items():
            home = [ms for r in rounds for ms in r["home"]]
            counts: dict[int, int] = {}
            loader_ms = []
            for r in rounds:
                for status, n in r["counts"].items():
                    counts[status] = counts.get(status, 0) + n
                loader_ms += r["loader_ms"]
            answers = ", ".join(f"{n} x {status}" for status, n in sorted(counts.items()))
            if loader_ms:
                answers += f" (loader p50 {pct(loader_ms, 50):.0f} ms)"
            print(
                f"{mode:18} {pct(home, 50):7.1f} {pct(home, 99):7.1f} {max(home):7.1f} "
                f"{pct(home, 99) / alone_p99:9.2f}  {answers or '-'}"
            )


if __name__ == "__main__":
    main()
