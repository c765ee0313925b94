"""The submission limit under real concurrency: 60 submissions of one user sent at once to
gunicorn (4 processes of 15 threads) against a limit of 30 per hour store exactly 30 and refuse
exactly 30 with 429 + Retry-After, on the suite's database (PostgreSQL in CI, SQLite too)."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.authtoken.models import Token

from evaluator.models import Run, Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.live_gunicorn import Gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 60
LIMIT = 30


@pytest.fixture
def server(tmp_path):
    gunicorn = Gunicorn(
        tmp_path,
        workers=4,
        threads=15,
        SUBMISSION_RATE=f"{LIMIT}/hour",
        SUBMISSION_ATTEMPT_RATE="1000/hour",
        EVALUATOR_MAX_ACTIVE_CPU_RUNS="0",  # only the submission limit is under test here
        EVALUATOR_MAX_ACTIVE_GPU_RUNS="0",
    ).start()
    yield gunicorn
    gunicorn.stop()


def test_sixty_concurrent_submissions_against_thirty_per_hour_store_exactly_thirty(
    server, owner, other_user, omniglot, paper
):
    token = Token.objects.create(user=owner).key
    start = threading.Barrier(REQUESTS)

    def submit(seed: int):
        body = {
            "benchmark": omniglot.slug,
            "metric": "Accuracy",
            "claimed_value": 48.7,
            "model_name": "MAML",
            "paper": paper.slug,
            "kind": "reproduce",
            "config": {"meta_iterations": 10, "seed": seed},
        }
        start.wait(timeout=60)
        status, headers, content = server.request(
            "POST", "/api/submissions/", body, {"Authorization": f"Token {token}"}, timeout=120
        )
        return status, headers, content

    with ThreadPoolExecutor(REQUESTS) as pool:
        answers = list(pool.map(submit, range(REQUESTS)))

    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [201] * LIMIT + [429] * (REQUESTS - LIMIT), [
        (status, content[:300]) for status, _, content in answers if status not in (201, 429)
    ]
    for status, headers, content in answers:
        assert headers["Content-Type"].startswith("application/json")
        if status == 429:
            assert 3500 < int(headers["Retry-After"]) <= 3600
            assert "too many submissions" in json.loads(content)["detail"]
    assert Submission.objects.filter(owner=owner).count() == LIMIT
    assert Run.objects.filter(submission__owner=owner).count() == LIMIT
    assert not Submission.objects.exclude(owner=owner).exists()
    # Another user has a budget of their own.
    other = Token.objects.create(user=other_user).key
    status, _, content = server.request(
        "POST",
        "/api/submissions/",
        {
            "benchmark": omniglot.slug,
            "metric": "Accuracy",
            "claimed_value": 48.7,
            "model_name": "MAML",
            "paper": paper.slug,
            "kind": "reproduce",
            "config": {"meta_iterations": 10},
        },
        {"Authorization": f"Token {other}"},
    )
    assert status == 201, content
