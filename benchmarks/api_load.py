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


def cpu_per_request(env: dict, paths: list[str]) -> dict[str, tuple[float, float]]:
    """Django's own CPU time per request (ms), in one process without HTTP: less sensitive to
    other processes on the machine than the load figures."""
    out = subprocess.run(
        [PY, "-c", CPU_PROBE, *paths],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)},
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
        "--cache-seconds",
        type=int,
        default=0,
        help="API_CACHE_SECONDS for the server (0: every response computed)",
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
        "API_CACHE_SECONDS": str(args.cache_seconds),
    }
    db = env.get("DATABASE_URL", f"sqlite:///{var_dir / 'db.sqlite3'}")
    env["DATABASE_URL"] = db
    print(
        f"database: {db.split('@')[-1]}; tool: {tool}; gunicorn workers: {args.workers}; "
        f"API_CACHE_SECONDS={args.cache_seconds}"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "load_seed")
    manage(env, "generate_results", "--count", str(args.results), "--vacuum")

    port = free_port()
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
        cpu = cpu_per_request(env, list(URLS.values()))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)

    summary = {
        name: {
            "rps": statistics.mean(s["rps"] for s in runs),
            "p50": statistics.median(s["p50"] for s in runs),
            "p99": max(s["p99"] for s in runs),
        }
        for name, runs in samples.items()
    }
    base, api = summary["constant view"], summary["results API"]
    print()
    print(f"| URL ({args.connections} connections, {args.rounds}x{args.seconds}s) "
          "| requests/s | p50 (ms) | p99 (ms) | CPU ms/request in-process |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for name, path in URLS.items():
        s = summary[name]
        label = f"`{path}`" if name == path else f"`{path}` ({name})"
        print(
            f"| {label} | {s['rps']:.0f} | {s['p50']:.1f} | {s['p99']:.1f} | {cpu[path][0]:.2f} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    ratio = api["rps"] / base["rps"]
    print(f"\nthroughput ratio results/constant: {ratio:.2f} (goal >= 0.5); "
          f"results p99 {api['p99']:.1f} ms (goal < 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
