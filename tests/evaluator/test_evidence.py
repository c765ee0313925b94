"""The public evidence page of a verified result and its downloads, logged out."""

import csv
import io
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leaderboard.models import Result
from tests.evaluator.evidence_helpers import REJECTED, finished_run
from tests.evaluator.web_helpers import checkpoint_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


SCORES = [100.0, 80.0, 93.33333333333333, 60.0, 100.0, 86.66666666666667] * 10


def test_a_verified_result_has_public_evidence_reachable_from_its_badge(client, owner):
    run = finished_run(owner, scores=SCORES)
    result = run.result
    assert result.verification_url == f"/results/{result.pk}/evidence/"
    page = client.get(result.benchmark.get_absolute_url()).content.decode()
    assert f'href="{result.verification_url}"' in page  # the badge links to it
    assert "&#10003; evaluated" in page
    r = client.get(result.verification_url)
    assert r.status_code == 200
    html = r.content.decode()
    for text in (
        run.submission.checkpoint_sha256,
        "omniglot-5w1s",
        "Inner steps</dt><dd>3",
        "Step size</dt><dd>0.4",
        "Queries per class</dt><dd>15",
        "transductive",
        "0.4.0",
        "evaluation 1234",
        "ab" * 32,
        "CPU x86_64, 2 cores",
        'id="score-histogram"',
        "Evaluated: the submitted checkpoint re-scored",
    ):
        assert text in html, text
    assert re.search(r"<strong>verified</strong>", html)  # the event log
    assert "style=" not in html.split("<main", 1)[-1]  # no inline styles (CSP)
    assert html.count('class="bar"') == 20


def test_the_per_episode_scores_download_as_csv_and_json(client, owner):
    result = finished_run(owner, scores=SCORES).result
    r = client.get(f"/results/{result.pk}/evidence/scores.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert [float(row["score"]) for row in rows] == SCORES
    r = client.get(f"/results/{result.pk}/evidence/scores.json")
    body = json.loads(r.content)
    assert body["scores"] == SCORES and body["mean"] == pytest.approx(sum(SCORES) / 60)


def test_a_public_checkpoint_downloads_as_an_attachment(client, owner):
    result = finished_run(owner, scores=SCORES, checkpoint=checkpoint_bytes()).result
    r = client.get(f"/results/{result.pk}/evidence/checkpoint.safetensors")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/octet-stream"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Disposition"].startswith("attachment")
    assert b"".join(r.streaming_content) == checkpoint_bytes()


def test_a_private_checkpoint_is_not_downloadable_but_the_evidence_is_public(client, owner):
    result = finished_run(owner, scores=SCORES, public=False).result
    assert client.get(f"/results/{result.pk}/evidence/").status_code == 200
    assert "not public" in client.get(f"/results/{result.pk}/evidence/").content.decode()
    assert client.get(f"/results/{result.pk}/evidence/checkpoint.safetensors").status_code == 404


def test_a_rejected_run_has_no_public_evidence(client, owner, other_user):
    run = finished_run(owner, scores=SCORES, verdict=REJECTED, claimed=99.9)
    assert run.result_id is None
    assert not Result.objects.verified().exists()
    sub_url = run.submission.get_absolute_url()
    assert client.get(sub_url).status_code == 302  # log-in first
    client.force_login(other_user)
    assert client.get(sub_url).status_code == 404
    client.force_login(owner)
    assert client.get(sub_url).status_code == 200


def test_an_archive_row_has_no_evidence_page(client, owner):
    finished_run(owner, scores=SCORES)
    archive = Result.objects.create(
        benchmark=Result.objects.first().benchmark,
        metric=Result.objects.first().metric,
        model=Result.objects.first().model,
        value=50.0,
    )
    assert client.get(f"/results/{archive.pk}/evidence/").status_code == 404
    assert client.get("/results/999999/evidence/").status_code == 404


def test_the_evidence_page_runs_the_same_queries_for_a_few_and_for_hundreds_of_results(
    client, owner
):
    first = finished_run(owner, scores=SCORES).result

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(first.verification_url).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for i in range(4):
        finished_run(owner, scores=SCORES, model_name=f"MAML {i}")
    assert queries() == few
    assert few <= 4
