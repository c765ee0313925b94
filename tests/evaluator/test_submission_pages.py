"""The submission page (owner and staff only), its JSON status for the live progress bar, and
the user's list of submissions."""

import re

import pytest

from evaluator.models import Run, Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)

XSS = "<script>alert('x')</script>"


@pytest.fixture
def submission(owner, omniglot, paper):
    sub = Submission.objects.create(
        owner=owner,
        benchmark=omniglot,
        metric=omniglot.metrics.get(),
        claimed_value=48.7,
        model_name="MAML",
        kind="evaluate",
        paper=paper,
        protocol="omniglot-5w1s",
        checkpoint_sha256="ab" * 32,
    )
    Run.objects.create(submission=sub, protocol="omniglot-5w1s")
    return sub


def set_run(submission, **fields):
    Run.objects.filter(submission=submission).update(**fields)


def page_of(client, submission):
    r = client.get(f"/submissions/{submission.pk}/")
    assert r.status_code == 200
    return r.content.decode()


def status_of(client, submission):
    r = client.get(f"/submissions/{submission.pk}/status/")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json"
    assert "no-cache" in r["Cache-Control"] or "max-age=0" in r["Cache-Control"]
    return r.json()


def test_the_owner_sees_the_claim_and_the_artefact(client, owner, submission):
    client.force_login(owner)
    page = page_of(client, submission)
    assert "OMNIGLOT - 1-Shot, 5-way" in page
    assert 'href="/benchmarks/omniglot-1-shot-5-way/"' in page
    assert "48.7%" in page
    assert "ab" * 32 in page
    assert "omniglot-5w1s" in page
    assert 'id="run-progress"' in page
    assert 'data-final="false"' in page
    assert "evaluator/submission.js" in page


def test_another_user_gets_404(client, other_user, submission):
    client.force_login(other_user)
    assert client.get(f"/submissions/{submission.pk}/").status_code == 404
    assert client.get(f"/submissions/{submission.pk}/status/").status_code == 404


def test_staff_sees_any_submission(client, staff, submission):
    client.force_login(staff)
    assert "by owner" in page_of(client, submission)


def test_an_anonymous_visitor_is_sent_to_log_in(client, submission):
    r = client.get(f"/submissions/{submission.pk}/")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")
    assert client.get(f"/submissions/{submission.pk}/status/").status_code == 302


def test_the_status_reports_progress(client, owner, submission):
    set_run(
        submission,
        status=Run.Status.RUNNING,
        phase="evaluating",
        progress_done=150,
        progress_total=600,
        log_tail="episode 150/600",
    )
    client.force_login(owner)
    data = status_of(client, submission)
    assert data["status"] == "running"
    assert data["is_final"] is False
    assert data["progress_percent"] == 25
    assert data["progress_done"] == 150
    assert data["log_tail"] == "episode 150/600"
    assert "outcome_html" not in data


def test_a_verified_run_shows_its_badge(client, owner, submission):
    set_run(
        submission,
        status=Run.Status.VERIFIED,
        reproduced_value=49.123,
        ci95=1.234,
        progress_done=600,
        progress_total=600,
        evaluation_mode="transductive",
        reason="The claim lies within the reproduced interval.",
    )
    client.force_login(owner)
    data = status_of(client, submission)
    assert data["is_final"] is True
    assert data["progress_percent"] == 100
    assert "reproduced 49.12 ± 1.23%" in data["outcome_html"]
    assert 'href="/benchmarks/omniglot-1-shot-5-way/"' in data["outcome_html"]
    page = page_of(client, submission)
    assert 'data-final="true"' in page
    assert 'id="verified-badge"' in page


def test_a_rejected_run_shows_claim_and_reproduction_side_by_side(client, owner, submission):
    set_run(
        submission,
        status=Run.Status.REJECTED,
        reproduced_value=40.5,
        ci95=1.1,
        reason="The claim 48.7 lies above the reproduced interval.",
    )
    client.force_login(owner)
    html = status_of(client, submission)["outcome_html"]
    assert '<td id="outcome-claimed">48.7%</td>' in html
    assert '<td id="outcome-reproduced">40.50 ± 1.10%</td>' in html
    assert "lies above the reproduced interval" in html


def test_an_unverifiable_run_shows_the_reason(client, owner, submission):
    set_run(submission, status=Run.Status.UNVERIFIABLE, reason="No reference runner here.")
    client.force_login(owner)
    page = page_of(client, submission)
    assert "Unverifiable" in page
    assert "No reference runner here." in page


def test_it_escapes_user_data_and_worker_output(client, owner, submission):
    Submission.objects.filter(pk=submission.pk).update(model_name=XSS)
    set_run(submission, status=Run.Status.FAILED, log_tail=XSS, reason=XSS)
    client.force_login(owner)
    page = page_of(client, submission)
    assert XSS not in page
    assert "&lt;script&gt;" in page
    data = status_of(client, submission)
    assert data["log_tail"] == XSS  # the script inserts it with textContent
    assert XSS not in data["outcome_html"]


def test_the_list_shows_only_ones_own_and_pages(client, owner, other_user, omniglot, paper):
    def make(user, value):
        sub = Submission.objects.create(
            owner=user,
            benchmark=omniglot,
            metric=omniglot.metrics.get(),
            claimed_value=value,
            model_name=f"model-{user.username}-{value}",
            kind="evaluate",
            paper=paper,
        )
        Run.objects.create(submission=sub)

    for i in range(22):
        make(owner, i)
    make(other_user, 99)
    client.force_login(owner)
    first = client.get("/submissions/").content.decode()
    assert "model-owner-21" in first  # newest first
    assert "model-owner-0<" not in first
    assert "model-other" not in first
    assert "Page 1 of 2" in first
    second = client.get("/submissions/?page=2").content.decode()
    assert "model-owner-0<" in second


def test_a_failed_run_says_failed_once(client, owner, submission):
    set_run(submission, status=Run.Status.FAILED, phase="failed", reason="The run failed.")
    client.force_login(owner)
    page = page_of(client, submission)
    status_line = re.search(r"<p>Status:(.*?)</p>", page, re.S).group(1)
    text = re.sub(r"<[^>]+>", " ", status_line)  # what a reader sees
    assert text.split() == ["failed"], text


def test_a_failure_reason_shows_no_server_path(client, owner, submission):
    from evaluator.runs import fail_run

    set_run(submission, status=Run.Status.RUNNING, worker="w1")
    run = submission.runs.get()
    secret = "/srv/private/deploy/shared/data/omniglot"
    assert fail_run(run.pk, "w1", f"FileNotFoundError: no Omniglot data in {secret}")
    run.refresh_from_db()
    assert "/srv/private" not in run.reason and "…/omniglot" in run.reason
    client.force_login(owner)
    assert "/srv/private" not in page_of(client, submission)
