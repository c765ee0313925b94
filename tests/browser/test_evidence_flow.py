"""Logged out in a real Chromium: benchmark page → verified badge → evidence page → download
the per-episode scores and the checkpoint → ``python -m maml_ref evaluate --json`` on the
downloaded file gives the published figure exactly.

The result is published by a real `celery worker` evaluating the integration fixtures' trained
checkpoint (tests/evaluator/integration/conftest.py).
"""

import csv
import hashlib
import io
import json
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

from evaluator.models import Run
from leaderboard.models import Result
from tests.evaluator.integration.conftest import *  # noqa: F403 (fixtures)
from tests.evaluator.integration.conftest import ROOT, submit, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
MODEL = "MAML (evidence flow)"


def test_a_reader_checks_a_verified_figure_from_its_evidence(
    live_server, workers, api, omniglot_5w1s, trained_checkpoint, page, screenshot, tmp_path
):
    call_command("load_seed", verbosity=0)
    path, truth = trained_checkpoint
    run_pk = submit(api, path, round(truth.mean, 2), model_name=MODEL)
    workers.start("w1")
    wait_until(
        lambda: Run.objects.get(pk=run_pk).is_final, timeout=300, what="the run to end", every=0.5
    )
    run = Run.objects.get(pk=run_pk)
    assert run.status == Run.Status.VERIFIED, run.reason
    result = Result.objects.get(model__name=MODEL)

    base = live_server.url
    page.goto(f"{base}{result.benchmark.get_absolute_url()}")  # no log-in
    row = page.locator("tr", has_text=MODEL)
    row.locator("a.badge.verified").click()
    page.wait_for_url(f"{base}/results/{result.pk}/evidence/")
    assert "evaluated" in page.inner_text("#evidence-level")
    assert page.inner_text("#evidence-sha256") == run.submission.checkpoint_sha256
    assert f"{run.reproduced_value:.2f} ± {run.ci95:.2f}" in page.inner_text("#evidence-reproduced")
    assert page.locator("#score-histogram rect.bar").count() == 20
    screenshot("evidence-page")

    with page.expect_download() as info:
        page.click("#download-csv")
    csv_path = tmp_path / "scores.csv"
    info.value.save_as(csv_path)
    scores = [float(r["score"]) for r in csv.DictReader(io.StringIO(csv_path.read_text()))]
    assert scores == run.episode_scores and len(scores) == 600

    with page.expect_download() as info:
        page.click("#download-json")
    json_path = tmp_path / "scores.json"
    info.value.save_as(json_path)
    assert json.loads(json_path.read_text())["scores"] == run.episode_scores

    with page.expect_download() as info:
        page.click("#download-checkpoint")
    ckpt = tmp_path / info.value.suggested_filename
    info.value.save_as(ckpt)
    assert ckpt.suffix == ".safetensors"
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == run.submission.checkpoint_sha256

    out = subprocess.run(
        [sys.executable, "-m", "maml_ref", "evaluate", "--checkpoint", str(ckpt)]
        + ["--protocol", run.protocol, "--json", "--quiet", "--device", "cpu"]
        + ["--data-dir", str(settings.MAML_DATA_DIR)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    figure = json.loads(out.stdout.strip().splitlines()[-1])
    assert figure["mean"] == run.reproduced_value == result.value  # exactly
    assert figure["ci95"] == run.ci95
    assert figure["scores"] == run.episode_scores
    assert figure["episodes_sha256"] == run.episodes_fingerprint
