"""End-to-end verification time and worker throughput (a benchmark, run by hand; not a test).

What it measures, on a fresh embedded set-up in a temporary directory (SQLite and the
file-system broker unless DATABASE_URL / CELERY_BROKER_URL are set):

1. latency: POST /api/submissions/ (a 5-way 1-shot Omniglot checkpoint, multipart, token) to the
   run's ``verified`` as seen by polling GET /api/submissions/{id}/ every 0.1 s, one submission at
   a time, with one CPU worker (concurrency 1) idle and waiting. Split into queueing (POST to the
   worker's claim) and the run (claim to verdict, the 600 fixed test episodes).
2. throughput: N submissions posted at once, drained by that one worker: runs per minute.

The web server (``manage.py runserver --noreload``) and the worker (``celery worker -Q cpu``) are
real processes. The checkpoint is meta-trained briefly here (its figure does not matter for
timing: the claim is modest, so every run ends verified).

    .venv/bin/python benchmarks/e2e_verification.py [--latency 3] [--throughput 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCHMARK = "OMNIGLOT - 1-Shot, 5-way"


def setup_django(var_dir: Path) -> None:
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare(var_dir: Path) -> tuple[str, Path]:
    """Migrate, load the seed, create a user with a token, train a checkpoint."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from maml_ref.checkpoint import metadata_for, save_checkpoint
    from maml_ref.data.loading import load_pool
    from maml_ref.protocols import get_protocol
    from maml_ref.train import TrainConfig, meta_train

    call_command("migrate", verbosity=0)
    call_command("load_seed", verbosity=0)
    from leaderboard.models import Benchmark

    if not Benchmark.objects.filter(name=BENCHMARK).exists():
        from tests.evaluator import catalogue

        catalogue.benchmark(BENCHMARK)
    user = User.objects.create_user(f"bench-{uuid.uuid4().hex[:6]}", password=uuid.uuid4().hex)
    token = Token.objects.create(user=user).key
    protocol = get_protocol("omniglot-5w1s")
    config = TrainConfig.from_protocol(protocol, iterations=40, meta_batch=8, seed=7)
    params = meta_train(
        protocol, config, load_pool(protocol, "train", settings.MAML_DATA_DIR), device="cpu"
    )
    path = var_dir / "checkpoint.safetensors"
    save_checkpoint(path, params, metadata_for(protocol, iterations=config.iterations))
    return token, path


def multipart(fields: dict[str, str], file_field: str, path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    body = (
        "".join(parts).encode()
        + head.encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


class Client:
    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def _open(self, req: urllib.request.Request) -> dict:
        req.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"{req.full_url}: HTTP {exc.code}: {exc.read()[:2000]!r}") from None

    def submit(self, checkpoint: Path, claimed: float) -> int:
        body, ctype = multipart(
            {
                "benchmark": BENCHMARK,
                "metric": "Accuracy",
                "claimed_value": str(claimed),
                "model_name": "MAML (benchmark)",
                "paper_title": "End-to-end benchmark",
                "paper_authors": "A. Bench",
                "paper_arxiv_id": "2611.99999",
            },
            "checkpoint",
            checkpoint,
        )
        req = urllib.request.Request(f"{self.base}/api/submissions/", data=body, method="POST")
        req.add_header("Content-Type", ctype)
        return self._open(req)["id"]

    def get(self, pk: int) -> dict:
        return self._open(urllib.request.Request(f"{self.base}/api/submissions/{pk}/"))


def wait_final(client: Client, pks: list[int], timeout: float = 1800) -> dict[int, float]:
    """Poll until every submission is final; the time each was first seen final."""
    done: dict[int, float] = {}
    deadline = time.perf_counter() + timeout
    while len(done) < len(pks):
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out; final so far: {sorted(done)}")
        for pk in pks:
            if pk not in done:
                body = client.get(pk)
                if body["run"]["is_final"]:
                    if body["status"] != "verified":
                        raise SystemExit(f"submission {pk} ended {body['status']}: {body}")
                    done[pk] = time.perf_counter()
        time.sleep(0.1)
    return done


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def wait_log(path: Path, text: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.2)
    raise SystemExit(f"{path} never said {text!r}:\n{path.read_text()[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=int, default=3, help="one-at-a-time submissions")
    parser.add_argument("--throughput", type=int, default=10, help="submissions posted at once")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="verisota-e2e-"))
    setup_django(var_dir)
    t0 = time.perf_counter()
    token, checkpoint = prepare(var_dir)
    print(f"set-up (migrate, seed, train a checkpoint): {time.perf_counter() - t0:.1f} s")

    env = {**os.environ, "VAR_DIR": str(var_dir), "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    procs = []
    web_log, worker_log = var_dir / "web.log", var_dir / "worker.log"
    py = sys.executable
    procs.append(
        subprocess.Popen(
            [py, "manage.py", "runserver", "--noreload", f"127.0.0.1:{args.port}"],
            cwd=ROOT,
            env=env,
            stdout=web_log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    procs.append(
        subprocess.Popen(
            [
                py,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "cpu",
                "-c",
                "1",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=worker_log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_http(f"{base}/api/results")
        wait_log(worker_log, " ready.")
        client = Client(base, token)

        latencies, splits = [], []
        for i in range(args.latency):
            start = time.perf_counter()
            pk = client.submit(checkpoint, 20.0)
            end = wait_final(client, [pk])[pk]
            run = client.get(pk)["run"]
            latencies.append(end - start)
            splits.append(run["wall_seconds"])
            print(
                f"latency #{i + 1}: {end - start:.1f} s POST→verified "
                f"(run {run['wall_seconds']:.1f} s, {run['reproduced_value']:.2f} ± "
                f"{run['ci95']:.2f} on {run['progress_total']} episodes)"
            )

        start = time.perf_counter()
        pks = [client.submit(checkpoint, 20.0) for _ in range(args.throughput)]
        posted = time.perf_counter() - start
        ends = wait_final(client, pks)
        elapsed = max(ends.values()) - start
        rate = 60 * len(pks) / elapsed
        print(
            f"throughput: {len(pks)} submissions drained in {elapsed:.1f} s "
            f"(posting took {posted:.1f} s): {rate:.1f} runs/min on one worker"
        )

        import torch

        print("\n| measure | value |\n| --- | --- |")
        print(f"| POST → verified, first (cold worker) | {latencies[0]:.1f} s |")
        if len(latencies) > 1:
            print(
                f"| POST → verified, median of the next {len(latencies) - 1} | "
                f"{statistics.median(latencies[1:]):.1f} s |"
            )
        print(f"| of which the run itself (median) | {statistics.median(splits):.1f} s |")
        print(f"| throughput, one worker, {len(pks)} queued | {rate:.1f} runs/min |")
        print(
            f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"broker {os.environ.get('CELERY_BROKER_URL', 'filesystem://')}, "
            f"database {os.environ.get('DATABASE_URL', 'sqlite')}"
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
