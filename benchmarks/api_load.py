#!/usr/bin/env python
"""Load benchmark (not a test): /api/results?dataset=omniglot next to a constant JSON view.

Prepares a database with the MAML seed and 10,000 generated results, starts gunicorn on
loopback, and measures both URLs on the same server in the same run with `wrk` (Debian:
apt-get install wrk) or, without it, a bounded Python load generator. Rounds alternate between
the two URLs so that noise from other processes on the machine hits both alike. Prints
requests/s, p50 and p99 latency of each and their ratio.

    .venv/bin/python benchmarks/api_load.py          # a fresh SQLite database under /tmp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/verisota_load \
        .venv/bin/python benchmarks/api_load.py
    .venv/bin/python benchmarks/api_load.py --cache-entries 0   # the response cache off
    .venv/bin/python benchmarks/api_load.py --writes 5   # a catalogue write 5 times a second

The server runs with the read API's response cache as configured by default (see
leaderboard/core/cache.py): with no write, every request after the first of each worker is a hit.
--writes edits one result that many times a second during the rounds, and each edit makes the
next request of each worker compute its page again. The last columns give Django's CPU time per
request in one process without HTTP, with the cache (hits) and without it (computed).

A PostgreSQL database named in DATABASE_URL must exist; its synthetic rows are replaced.
"""

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
URLS = {"constant view": "/api/_ping/", "results API": "/api/results?dataset=omniglot"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/_ping/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: int, connections: int, threads: int) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"errors during the run:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def run_python(port: int, path: str, seconds: int, connections: int) -> dict:
    """Bounded fallback: `connections` keep-alive clients for `seconds`, at most 200k requests."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local = []
        while time.monotonic() < stop and len(local) < 200_000 // connections:
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status}")
            local.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(local)

    started = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50": q[49], "p99": q[98], "requests": len(latencies)}


CPU_PROBE = """
import sys, time, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
for path in sys.argv[1:]:
    for _ in range(10):
        client.get(path)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(200):
        assert client.get(path).status_code == 200
    print(f"{path}\t{(time.process_time() - cpu) * 5:.2f}\t{(time.perf_counter() - wall) * 5:.2f}")
"""


WRITER = """
import sys, time, django
django.setup()
from django.db.models import F
from leaderboard.models import Result
pk, pause = Result.objects.order_by("id").values_list("id", flat=True).first(), float(sys.argv[1])
while True:
    Result.objects.filter(pk=pk).update(value=F("value"))
    time.sleep(pause)
"""


COUNTER = """
import django
django.setup()
from leaderboard.models import CatalogueVersion
print(CatalogueVersion.objects.get().counter)
"""


def version_counter(env: dict) -> int:
    """The catalogue version's counter: how many writes the triggers have seen."""
    out = subprocess.run(
        [PY, "-c", COUNTER], cwd=ROOT, env=django_env(env), capture_output=True, text=True
    )
    return int(out.stdout.strip() or -1)


def django_env(env: dict) -> dict:
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}


def cpu_per_request(env: dict, paths: list[str]) -> dict[str, tuple[float, float]]:
    """Django's own CPU time per request (ms), in one process without HTTP: less sensitive to
    other processes on the machine than the load figures."""
    out = subprocess.run(
        [PY, "-c", CPU_PROBE, *paths],
        cwd=ROOT,
        env=django_env(env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in out.strip().splitlines()]
    return {path: (float(cpu), float(wall)) for path, cpu, wall in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seconds", type=int, default=10, help="per round and URL")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--cache-entries",
        type=int,
        default=None,
        help="RESPONSE_CACHE_ENTRIES for the server (0: no response cache; default: the server's)",
    )
    parser.add_argument(
        "--writes", type=float, default=0, help="catalogue writes per second during the rounds"
    )
    parser.add_argument(
        "--also", action="append", default=[], metavar="PATH", help="another URL path to measure"
    )
    args = parser.parse_args()
    for path in args.also:
        URLS[path] = path

    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    var_dir = Path(tempfile.mkdtemp(prefix="verisota-load-"))
    env = {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "DEBUG": "0",
        "SECRET_KEY": "load-benchmark-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    if args.cache_entries is not None:
        env["RESPONSE_CACHE_ENTRIES"] = str(args.cache_entries)
    cache_label = env.get("RESPONSE_CACHE_ENTRIES", "default")
    db = env.get("DATABASE_URL", f"sqlite:///{var_dir / 'db.sqlite3'}")
    env["DATABASE_URL"] = db
    print(
        f"database: {db.split('@')[-1]}; tool: {tool}; gunicorn workers: {args.workers}; "
        f"RESPONSE_CACHE_ENTRIES={cache_label}; writes/s: {args.writes:g}"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "load_seed")
    manage(env, "generate_results", "--count", str(args.results), "--vacuum")

    port = free_port()
    writer = None
    server = subprocess.Popen(
        [
            PY, "-m", "gunicorn", "config.wsgi:application",
            "--workers", str(args.workers),
            "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    try:
        wait_ready(port)
        for path in URLS.values():  # warm up both workers' connections and caches
            run_python(port, path, 2, args.connections)
        counter_before = version_counter(env)
        if args.writes > 0:
            writer = subprocess.Popen(
                [PY, "-c", WRITER, str(1 / args.writes)], cwd=ROOT, env=django_env(env)
            )
        samples: dict[str, list[dict]] = {name: [] for name in URLS}
        for _ in range(args.rounds):
            for name, path in URLS.items():
                if tool == "wrk":
                    stats = run_wrk(
                        f"http://127.0.0.1:{port}{path}",
                        args.seconds,
                        args.connections,
                        args.threads,
                    )
                else:
                    stats = run_python(port, path, args.seconds, args.connections)
                samples[name].append(stats)
                print(
                    f"  {name:14} {stats['rps']:8.1f} req/s  p50 {stats['p50']:6.2f} ms"
                    f"  p99 {stats['p99']:6.2f} ms  ({stats['requests']} requests)"
                )
        if writer is not None:
            writer.terminate()
            writer.wait(timeout=30)
            writer = None
        writes = version_counter(env) - counter_before
        cpu = cpu_per_request(env, list(URLS.values()))
        computed = cpu_per_request({**env, "RESPONSE_CACHE_ENTRIES": "0"}, list(URLS.values()))
    finally:
        if writer is not None:
            writer.terminate()
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)

    median = statistics.median
    summary = {
        name: {
            "rps": median(s["rps"] for s in runs),
            "p50": median(s["p50"] for s in runs),
            "p99": median(s["p99"] for s in runs),
            "p99 max": max(s["p99"] for s in runs),
        }
        for name, runs in samples.items()
    }
    base, api = summary["constant view"], summary["results API"]
    # Each round measures the two URLs one after the other: their ratio within a round is the
    # least sensitive to the machine's load moving between rounds.
    pairs = zip(samples["results API"], samples["constant view"], strict=True)
    ratios = [a["rps"] / b["rps"] for a, b in pairs]
    print()
    print(f"Medians of {args.rounds} rounds of {args.seconds}s per URL, "
          f"{args.connections} connections:")  # fmt: skip
    print("| URL | requests/s | p50 (ms) | p99 (ms) | worst p99 (ms) "
          "| CPU ms/request in-process: as served | computed (no cache) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, path in URLS.items():
        s = summary[name]
        label = f"`{path}`" if name == path else f"`{path}` ({name})"
        print(
            f"| {label} | {s['rps']:.0f} | {s['p50']:.1f} | {s['p99']:.1f} | {s['p99 max']:.1f} "
            f"| {cpu[path][0]:.2f} | {computed[path][0]:.2f} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"catalogue writes during the rounds: {writes} (catalogue version counter)")
    print(
        f"\nthroughput ratio results/constant: {api['rps'] / base['rps']:.2f} of the medians, "
        f"{median(ratios):.2f} median of the rounds' ratios "
        f"({', '.join(f'{r:.2f}' for r in ratios)}) (goal >= 0.5); "
        f"results p99 {api['p99']:.1f} ms median, {api['p99 max']:.1f} ms worst (goal < 50 ms)"
    )


if __name__ == "__main__":
    main()
