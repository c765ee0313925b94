"""Limits per user: the submission throttle (429 + Retry-After, API and form), the cap on active
runs per queue (a fourth reproduce run refused, nothing stored or queued), the log-in lock-out,
and no-store on the page that shows the token."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run, Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)

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
    assert "throttled" in r.json()["detail"].lower()
    assert Submission.objects.count() == 2 and Run.objects.count() == 2
    assert len(dispatched) == 2  # the refused one queued nothing
    # Reading is not throttled.
    assert api.get(URL).status_code == 200


def test_the_form_shares_the_throttle_and_says_how_long_to_wait(
    client, owner, omniglot, paper, settings
):
    settings.SUBMISSION_RATE = "1/hour"
    client.force_login(owner)
    data = {"benchmark": omniglot.pk, "claimed_value": "x"}
    assert client.post("/submit/", data).status_code == 400  # counted, refused as invalid
    r = client.post("/submit/", data)
    assert r.status_code == 429
    assert int(r["Retry-After"]) > 0
    assert "too many submissions" in r.content.decode()
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
    data = {
        "benchmark": omniglot.pk,
        "metric": omniglot.metrics.get().pk,
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.pk,
        "kind": "reproduce",
        "config": '{"meta_iterations": 10}',
        "evaluation_mode": "transductive",
    }
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        assert client.post("/submit/", data).status_code == 302
        r = client.post("/submit/", data)
    assert r.status_code == 429
    assert "the limit is 1" in r.content.decode()
    assert Submission.objects.count() == 1 and len(dispatched) == 1


def test_log_in_locks_out_after_repeated_failures(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        r = client.post("/accounts/login/", {"username": "owner", "password": "wrong"})
        assert r.status_code == 200
        assert "correct username and password" in r.content.decode()
    r = client.post("/accounts/login/", {"username": "owner", "password": "owner-pass-123"})
    assert r.status_code == 429
    assert "locked for 15 minutes" in r.content.decode()
    assert "_auth_user_id" not in client.session
    # The same user from another address is not locked out by the guesser.
    r = client.post(
        "/accounts/login/",
        {"username": "owner", "password": "owner-pass-123"},
        REMOTE_ADDR="10.0.0.9",
    )
    assert r.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_the_admin_log_in_has_the_same_lock_out(client, staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post("/admin/login/", {"username": "staff", "password": "nope"})
    r = client.post("/admin/login/", {"username": "staff", "password": "staff-pass-123"})
    assert "locked for" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_successful_log_in_clears_the_failures(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(2):
        client.post("/accounts/login/", {"username": "owner", "password": "wrong"})
    assert (
        client.post(
            "/accounts/login/", {"username": "owner", "password": "owner-pass-123"}
        ).status_code
        == 302
    )
    client.logout()
    for _ in range(2):
        client.post("/accounts/login/", {"username": "owner", "password": "wrong"})
    assert (
        client.post(
            "/accounts/login/", {"username": "owner", "password": "owner-pass-123"}
        ).status_code
        == 302
    )


def test_the_account_page_with_the_token_is_not_stored_by_caches(client, owner):
    client.force_login(owner)
    r = client.get("/accounts/")
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    assert Token.objects.get(user=owner).key in r.content.decode()
