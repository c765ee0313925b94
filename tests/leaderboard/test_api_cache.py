import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leaderboard import api_views
from leaderboard.models import Result

pytestmark = pytest.mark.usefixtures("seeded")


@pytest.fixture
def cached(monkeypatch):
    cache.clear()
    monkeypatch.setattr(api_views, "RESULTS_CACHE_SECONDS", 60)
    yield
    cache.clear()


def test_the_results_cache_is_off_by_default(client):
    assert api_views.RESULTS_CACHE_SECONDS == 0
    client.get("/api/results?dataset=omniglot")
    Result.objects.filter(value=98.7).update(value=1.0)
    values = {r["value"] for r in client.get("/api/results?dataset=omniglot").json()["results"]}
    assert 1.0 in values


def test_an_opt_in_cache_serves_a_page_again_without_queries(client, cached):
    first = client.get("/api/results?dataset=omniglot").json()
    Result.objects.filter(value=98.7).update(value=1.0)
    with CaptureQueriesContext(connection) as ctx:
        again = client.get("/api/results?dataset=omniglot")
    assert again.status_code == 200 and again.json() == first
    assert len(ctx.captured_queries) == 0
    other = client.get("/api/results?dataset=omniglot&page_size=2").json()
    assert other["count"] == 4 and len(other["results"]) == 2
    assert client.get("/api/results?verified=maybe").status_code == 400


def test_the_cache_keeps_the_browsable_api_apart(client, cached):
    client.get("/api/results?dataset=omniglot")
    html = client.get("/api/results?dataset=omniglot", HTTP_ACCEPT="text/html")
    assert html["Content-Type"].startswith("text/html")
    json_again = client.get("/api/results?dataset=omniglot")
    assert json_again["Content-Type"] == "application/json"
    assert "Accept" in json_again["Vary"]
