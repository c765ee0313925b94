"""Limits per user: submissions per period (429 + Retry-After, API and form, counted in the
database: it holds with the cache down), attempts per period, the cap on active runs per queue (a
fourth reproduce run refused, nothing stored or queued), and no-store on the page that shows the
token. The log-in lock-out: test_lockout.py; concurrent submissions: test_limits_concurrency.py."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run, Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.redis_servers import cache_settings, closed_port_url

URL = "/api/submissions/"


@pytest.fixture(autouse=True)
def clean_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


def form_data(benchmark, paper) -> dict:
    return {
        "benchmark": benchmark.pk,
        "metric": benchmark.metrics.get().pk,
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.pk,
        "kind": "reproduce",
        "config": '{"meta_iterations": 10}',
        "evaluation_mode": "transductive",
    }


def reproduce(benchmark, paper, seed=1):
    return {
        "benchmark": benchmark.slug,
        "metric": "Accuracy",
        "claimed_value": 48.7,
        "model_name": "MAML",
        "paper": paper.slug,
        "kind": "reproduce",
        "config": {"meta_iterations": 10, "seed": seed},
    }


def test_a_throttled_user_gets_429_with_retry_after(
    api, omniglot, paper, settings, django_capture_on_commit_callbacks
):
    settings.SUBMISSION_RATE = "2/hour"
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 0, "gpu": 0}
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        for seed in (1, 2):
            assert api.post(URL, reproduce(omniglot, paper, seed), format="json").status_code == 201
        r = api.post(URL, reproduce(omniglot, paper, 3), format="json")
    assert r.status_code == 429
    assert 3000 < int(r["Retry-After"]) <= 3600
    assert "too many submissions (the limit is 2/hour)" in r.json()["detail"]
    assert Submission.objects.count() == 2 and Run.objects.count() == 2
    assert len(dispatched) == 2  # the refused one queued nothing
    # Reading is not throttled.
    assert api.get(URL).status_code == 200


def test_the_window_rolls_the_oldest_submission_out(
    api, owner, omniglot, paper, settings, django_capture_on_commit_callbacks
):
    settings.SUBMISSION_RATE = "2/hour"
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 0, "gpu": 0}
    with django_capture_on_commit_callbacks(execute=False):
        for seed in (1, 2):
            assert api.post(URL, reproduce(omniglot, paper, seed), format="json").status_code == 201
        first = Submission.objects.order_by("created_at").first()
        # The first was stored 50 minutes ago: it leaves the window in about ten minutes.
        Submission.objects.filter(pk=first.pk).update(
            created_at=timezone.now() - timedelta(minutes=50)
        )
        r = api.post(URL, reproduce(omniglot, paper, 3), format="json")
        assert r.status_code == 429
        assert 540 < int(r["Retry-After"]) <= 600
        Submission.objects.filter(pk=first.pk).update(
            created_at=timezone.now() - timedelta(minutes=61)
        )
        assert api.post(URL, reproduce(omniglot, paper, 4), format="json").status_code == 201
    assert Submission.objects.filter(owner=owner).count() == 3


def test_the_submission_limit_holds_when_the_cache_is_down(
    api, owner, omniglot, paper, settings, django_capture_on_commit_callbacks
):
    settings.CACHES = cache_settings(closed_port_url())
    settings.SUBMISSION_RATE = "2/hour"
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 0, "gpu": 0}
    with django_capture_on_commit_callbacks(execute=False):
        codes = [
            api.post(URL, reproduce(omniglot, paper, seed), format="json").status_code
            for seed in range(1, 5)
        ]
    assert codes == [201, 201, 429, 429]
    assert Submission.objects.filter(owner=owner).count() == 2


def test_the_form_shares_the_limit_and_says_how_long_to_wait(
    client, owner, omniglot, paper, settings, django_capture_on_commit_callbacks
):
    settings.SUBMISSION_RATE = "1/hour"
    client.force_login(owner)
    # An invalid post is refused as invalid and stores nothing: it does not use the budget.
    assert (
        client.post("/submit/", {"benchmark": omniglot.pk, "claimed_value": "x"}).status_code == 400
    )
    data = form_data(omniglot, paper)
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post("/submit/", data).status_code == 302
        r = client.post("/submit/", {**data, "config": '{"meta_iterations": 11}'})
    assert r.status_code == 429
    assert 3000 < int(r["Retry-After"]) <= 3600
    assert "too many submissions" in r.content.decode()
    assert Submission.objects.count() == 1


def test_every_attempt_counts_against_the_attempt_limit(client, api, owner, omniglot, settings):
    settings.SUBMISSION_ATTEMPT_RATE = "3/hour"
    client.force_login(owner)
    bad = {"benchmark": omniglot.pk, "claimed_value": "x"}
    assert client.post("/submit/", bad).status_code == 400
    assert api.post(URL, {"benchmark": "nothing"}, format="json").status_code == 400
    assert client.post("/submit/", bad).status_code == 400
    r = api.post(URL, {"benchmark": "nothing"}, format="json")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    r = client.post("/submit/", bad)
    assert r.status_code == 429
    assert "too many submission attempts" in r.content.decode()
    assert Submission.objects.count() == 0


def test_a_fourth_active_reproduce_run_is_refused_and_nothing_queued(
    api, owner, other_user, omniglot, paper, settings, django_capture_on_commit_callbacks
):
    settings.SUBMISSION_RATE = "100/hour"
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 10, "gpu": 3}
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        for seed in (1, 2, 3):
            assert api.post(URL, reproduce(omniglot, paper, seed), format="json").status_code == 201
        r = api.post(URL, reproduce(omniglot, paper, 4), format="json")
    assert r.status_code == 429
    detail = r.json()["detail"]
    assert "3 active reproduce run(s) on the gpu queue, the limit is 3" in detail
    assert "Retry-After" not in r
    assert Submission.objects.count() == 3
    assert Run.objects.active().filter(submission__owner=owner).count() == 3
    assert len(dispatched) == 3

    # Another user is not held up by this one; a finished run frees a place.
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    with django_capture_on_commit_callbacks(execute=False):
        assert other.post(URL, reproduce(omniglot, paper, 5), format="json").status_code == 201
        finished = Run.objects.filter(submission__owner=owner).first()
        Run.objects.filter(pk=finished.pk).update(status=Run.Status.FAILED)
        assert api.post(URL, reproduce(omniglot, paper, 6), format="json").status_code == 201


def test_the_form_refuses_a_fourth_active_run_with_the_reason(
    client, owner, omniglot, paper, settings, django_capture_on_commit_callbacks
):
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 10, "gpu": 1}
    client.force_login(owner)
    data = form_data(omniglot, paper)
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        assert client.post("/submit/", data).status_code == 302
        r = client.post("/submit/", data)
    assert r.status_code == 429
    assert "the limit is 1" in r.content.decode()
    assert Submission.objects.count() == 1 and len(dispatched) == 1


def test_the_account_page_with_the_token_is_not_stored_by_caches(client, owner):
    client.force_login(owner)
    r = client.get("/accounts/")
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    assert Token.objects.get(user=owner).key in r.content.decode()
