"""The cache is an optimisation: with CACHE_URL naming a Redis that is down (a closed port), or one
stopped under a running gunicorn and started again, every page and API read answers 200 (served
uncached), a submission is stored, a log-in works, and the outage is logged in a line, never a
500."""

import logging

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from evaluator.models import Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.live_gunicorn import Gunicorn
from tests.redis_servers import cache_settings, closed_port_url

READS = [
    "/",
    "/tasks/",
    "/papers/",
    "/sota/",
    "/search/?q=meta",
    "/benchmarks/omniglot-1-shot-5-way/",
    "/api/results?dataset=omniglot",
    "/api/benchmarks/omniglot-1-shot-5-way/",
    "/api/v1/papers/?q=meta",
    "/api/v1/papers/?abstract=gradient",
    "/api/v1/evaluations/",
    "/api/export/evaluation-tables.json",
]


@pytest.fixture
def seeded(db):
    call_command("load_seed", verbosity=0)


def reproduce(benchmark, paper) -> dict:
    return {
        "benchmark": benchmark.slug,
        "metric": "Accuracy",
        "claimed_value": 48.7,
        "model_name": "MAML",
        "paper": paper.slug,
        "kind": "reproduce",
        "config": {"meta_iterations": 10},
    }


def test_a_cache_server_that_is_down_gives_200s(
    client, seeded, owner, omniglot, paper, settings, django_capture_on_commit_callbacks
):
    settings.CACHES = cache_settings(closed_port_url())
    handler_records = []
    handler = logging.Handler()
    handler.emit = handler_records.append
    logger = logging.getLogger("verisota.cache")
    logger.addHandler(handler)
    try:
        for _ in range(2):  # twice: nothing was stored, both are computed
            for url in READS:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                assert response.has_header("ETag"), url  # computed, still revalidatable
    finally:
        logger.removeHandler(handler)
    assert handler_records, "the cache errors were not logged"
    # Writing and logging in need no cache either.
    token = Token.objects.create(user=owner).key
    with django_capture_on_commit_callbacks(execute=False):
        r = client.post(
            "/api/submissions/",
            reproduce(omniglot, paper),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )
    assert r.status_code == 201, r.content[:300]
    assert Submission.objects.filter(owner=owner).count() == 1
    r = client.post("/accounts/login/", {"username": "owner", "password": "owner-pass-123"})
    assert r.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_redis_stopped_and_started_under_gunicorn_never_gives_a_500(tmp_path, redis_server):
    call_command("load_seed", verbosity=0)
    server = Gunicorn(
        tmp_path, workers=2, threads=2, CACHE_URL=redis_server.url, CACHE_CONNECT_TIMEOUT="0.2"
    ).start()
    try:

        def read_all() -> list[tuple[str, int, str]]:
            out = []
            for url in READS:
                status, headers, _ = server.request("GET", url)
                out.append((url, status, headers.get("X-Page-Cache", "")))
            return out

        warm = [read_all() for _ in range(2)][-1]
        assert all(status == 200 for _, status, _ in warm), warm
        assert any(hit == "hit" for _, _, hit in warm)  # the cache was in use

        redis_server.stop()
        down = [read_all() for _ in range(2)]
        assert all(status == 200 for run in down for _, status, _ in run), down
        assert not any(hit for run in down for _, _, hit in run)

        redis_server.start()  # the same port: the pooled connections are stale now
        back = [read_all() for _ in range(3)]
        assert all(status == 200 for run in back for _, status, _ in run), back
        assert any(hit == "hit" for _, _, hit in back[-1])  # cached again
    finally:
        server.stop()
    log = server.log.read_text()
    assert "cache unavailable, serving uncached" in log
    assert "Traceback" not in log and "Internal Server Error" not in log
