"""A fresh start with no Omniglot data, on the real processes: the start-up report says so and
names the command that fetches it (``scripts/run.sh``, what ``make run`` runs, and each worker);
an Omniglot claim is refused with that reason (API 400, form error); then ``python -m maml_ref
download omniglot``, pointed at a local server that serves the two archives built here from the
real data, fills the directory, and the same claim is accepted and verified by a worker started
on it.

The archives are the original layout (``images_background/<alphabet>/characterNN/XXXX_YY.png``)
written from the real 1,623 characters, so the worker reproduces the figure the session's
checkpoint has on the real data (conftest), to the last digit: the downloaded files are the data.
Their MD5 sums are not the published ones (the PNG encoder differs), so the download is told
them with ``--md5``; it still checks them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from evaluator.models import Run, Submission
from tests.conftest import omniglot_or_skip
from tests.evaluator import catalogue
from tests.evaluator.web_helpers import upload
from tests.maml_ref.omniglot_server import ArchiveServer, md5, omniglot_zip

from .conftest import BENCHMARK, PROTOCOL, ROOT, _database_url, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FETCH = "python -m maml_ref download omniglot"


def report_line(root: Path) -> str:
    return (
        f"cannot verify: {BENCHMARK} [{PROTOCOL}]: no Omniglot data found in {root} (the "
        f"MAML_DATA_DIR setting); fetch it with `{FETCH} --dir {root}`"
    )


@pytest.fixture(scope="session")
def real_archives(tmp_path_factory) -> dict[str, bytes]:
    """images_background.zip and images_evaluation.zip written from the real data (npz or zips)."""
    from maml_ref.data.omniglot import find_sources

    sources = find_sources(omniglot_or_skip())
    if sources[0].suffix == ".zip":  # the originals themselves
        return {p.name: p.read_bytes() for p in sources}
    archives, first_id = {}, 1
    for path in sources:
        with np.load(path, allow_pickle=False) as f:
            images = f["images"]  # (chars, 20, 105, 105) bool, True = background
        archives[f"{path.stem}.zip"] = omniglot_zip(path.stem, images, first_id)
        first_id += images.shape[0]
    return archives


@pytest.fixture
def empty_data_dir(settings, tmp_path) -> Path:
    """MAML_DATA_DIR of the site and of the workers started here: an empty directory."""
    root = tmp_path / "omniglot"
    root.mkdir()
    settings.MAML_DATA_DIR = str(root)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_sh_and_each_worker_say_no_omniglot_was_found_and_what_fetches_it(
    transactional_db, settings, empty_data_dir, tmp_path
):
    """``scripts/run.sh`` for real (web server, cpu and gpu workers) on an empty data directory,
    with its own file-system broker under a VAR_DIR of its own, stopped with Ctrl-C."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL",)}
    env.pop("TEST_DATABASE_NAME", None)
    env.update(
        DATABASE_URL=_database_url(),
        MAML_DATA_DIR=str(empty_data_dir),
        VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "media"),
        PORT=str(port),
        VENV=str(Path(sys.executable).parents[1]),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # The report itself, then each worker's when it is ready (both before the first task).
        wait_until(
            lambda: (
                log.read_text().count(report_line(empty_data_dir)) >= 3 or proc.poll() is not None
            ),
            timeout=180,
            what="the report of run.sh and of both workers",
            every=0.5,
        )
        assert proc.poll() is None, log.read_text()[-3000:]
        wait_until(
            lambda: f"http://127.0.0.1:{port}/" in log.read_text(), 60, "the web server", 0.5
        )
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the server, then run.sh stops the workers
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    text = log.read_text()
    lines = text.splitlines()
    reports = [i for i, line in enumerate(lines) if report_line(empty_data_dir) in line]
    banners = [i for i, line in enumerate(lines) if re.search(r"\b(cpu|gpu)@", line)]
    assert len(reports) == 3, text[-3000:]  # run.sh's own, then the cpu and the gpu worker's
    assert reports[0] < banners[0]  # the first is run.sh's, before any worker starts
    assert "cpu@" in text and "gpu@" in text
    for name in ("OMNIGLOT - 5-Shot, 5-way", "OMNIGLOT - 1-Shot, 20-way", "OMNIGLOT - 5-Shot"):
        assert f"cannot verify: {name}" in text
    assert "can verify: Sinusoid Regression (10-shot)" in text


def claim_payload(checkpoint: Path, claimed: float, paper) -> dict:
    return {
        "benchmark": BENCHMARK,
        "metric": "Accuracy",
        "claimed_value": f"{claimed:.2f}",
        "model_name": "MAML (fresh start)",
        "paper": paper.slug,
        "checkpoint": upload(checkpoint.read_bytes()),
    }


def form_refusal(client, owner, checkpoint: Path, claimed: float, paper) -> str:
    benchmark = catalogue.benchmark(BENCHMARK)
    client.force_login(owner)
    r = client.post(
        "/submit/",
        {
            "benchmark": benchmark.pk,
            "metric": catalogue.metric("Accuracy").pk,
            "claimed_value": f"{claimed:.2f}",
            "model_name": "MAML (fresh start)",
            "evaluation_mode": "transductive",
            "paper": paper.pk,
            "kind": "evaluate",
            "checkpoint": upload(checkpoint.read_bytes()),
        },
    )
    assert r.status_code == 400, r.status_code
    return r.content.decode()


def test_a_fresh_start_refuses_an_omniglot_claim_then_verifies_it_after_the_download(
    workers, api, client, owner, empty_data_dir, trained_checkpoint, real_archives
):
    path, truth = trained_checkpoint
    paper = catalogue.maml_paper()
    catalogue.benchmark(BENCHMARK)
    claimed = round(truth.mean - 0.05, 2)

    # (a) A worker started on the empty directory says what it cannot verify and why.
    idle = workers.start("nodata")
    assert report_line(empty_data_dir) in idle.log.read_text()
    idle.terminate()
    idle.wait(timeout=30)

    # (b) The claim is refused at submit time with that reason: API and form; nothing queued.
    r = api.post("/api/submissions/", claim_payload(path, claimed, paper), format="multipart")
    assert r.status_code == 400, r.content
    reason = r.json()["benchmark"][0]
    assert "No Omniglot data on the verification workers" in reason and FETCH in reason
    assert str(empty_data_dir) not in reason  # users see no server path
    page = form_refusal(client, owner, path, claimed, paper)
    assert "No Omniglot data on the verification workers" in page and FETCH in page
    assert Submission.objects.count() == 0 and Run.objects.count() == 0

    # (c) The download command, as a user runs it, from the local server.
    with ArchiveServer(real_archives) as server:
        sums = [f"--md5={name}={md5(data)}" for name, data in real_archives.items()]
        began = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "maml_ref", "download", "omniglot", "--dir"]
            + [str(empty_data_dir), "--base-url", server.url, *sums],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert out.returncode == 0, out.stderr
    assert f"Omniglot is in {empty_data_dir}" in out.stderr
    assert re.search(r"images_evaluation\.zip: 100%", out.stderr)  # its progress bar
    assert sorted(p.name for p in empty_data_dir.iterdir()) == sorted(real_archives)
    assert [p for p, _range in server.requests] == [f"/python/{n}" for n in real_archives]
    assert time.monotonic() - began < 300

    # (d) The same claim is now accepted, and a worker started on that directory verifies it.
    r = api.post("/api/submissions/", claim_payload(path, claimed, paper), format="multipart")
    assert r.status_code == 201, r.content
    run_pk = Run.objects.get(submission_id=r.json()["id"]).pk
    worker = workers.start("withdata")
    assert f"can verify: {BENCHMARK} [{PROTOCOL}] (data in {empty_data_dir})" in (
        worker.log.read_text()
    )

    def final_run():
        run = Run.objects.get(pk=run_pk)
        return run if run.is_final else None

    # The first use of the zips decodes and resizes 32,460 images (cached by content after).
    run = wait_until(final_run, timeout=600, what="the run on the downloaded data", every=0.5)
    assert run.status == Run.Status.VERIFIED, (run.status, run.reason)
    assert run.reproduced_value == pytest.approx(truth.mean, abs=1e-6)
    assert run.episodes_fingerprint == truth.episodes_sha256
    assert len(run.episode_scores) == 600
