"""ETags of the response cache (``leaderboard/core/cache.py``), pages and APIs alike: every
cacheable 200 carries one, ``If-None-Match`` naming it gives a 304 with no body (from the cache
or computed), a catalogue write that changes the response changes it, and a cache server that
is down still answers 200s with ETags."""

import pytest

from leaderboard.core import cache
from leaderboard.models import Task
from tests.redis_servers import cache_settings, closed_port_url

pytestmark = pytest.mark.usefixtures("seeded")

# A page and an API response that list the tasks: a new task changes both.
URLS = ["/tasks/", "/api/tasks", "/api/v1/tasks/"]


@pytest.mark.parametrize("url", URLS)
def test_a_response_and_its_hit_carry_the_same_etag(client, url):
    miss = client.get(url)
    hit = client.get(url)
    assert miss.status_code == hit.status_code == 200
    assert miss["ETag"].startswith('"') and miss["ETag"].endswith('"') and len(miss["ETag"]) > 10
    assert hit["ETag"] == miss["ETag"] and hit.content == miss.content


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("stored", [True, False], ids=["hit", "miss"])
def test_if_none_match_naming_it_is_a_304_with_no_body(client, url, stored):
    etag = client.get(url)["ETag"]
    if not stored:
        cache.store().clear()
    response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    other = client.get(url, HTTP_IF_NONE_MATCH='"something-else"')
    assert other.status_code == 200 and other["ETag"] == etag and other.content
    listed = client.get(url, HTTP_IF_NONE_MATCH=f'"a", {etag}')
    assert listed.status_code == 304


@pytest.mark.parametrize("url", URLS)
def test_a_catalogue_write_changes_the_etag(client, url):
    before = client.get(url)
    Task.objects.create(name="Etag Task", slug="etag-task")
    after = client.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200  # the old ETag names an older catalogue
    assert after["ETag"] != before["ETag"]
    assert "Etag Task" in after.content.decode()
    assert client.get(url, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


@pytest.mark.parametrize("url", URLS)
def test_a_cache_server_that_is_down_still_gives_200s_and_etags(client, settings, url):
    settings.CACHES = cache_settings(closed_port_url())
    first = client.get(url)
    second = client.get(url)
    assert first.status_code == second.status_code == 200
    assert "X-Page-Cache" not in second  # computed again: nothing could be stored
    assert first["ETag"] == second["ETag"]
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_a_logged_in_reader_gets_their_own_page_never_a_304_of_the_anonymous_one(client, owner):
    etag = client.get("/tasks/")["ETag"]
    client.force_login(owner)
    response = client.get("/tasks/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and "owner" in response.content.decode()
    assert "ETag" not in response and "X-Page-Cache" not in response


def test_writes_and_other_methods_are_never_answered_from_the_cache(client):
    etag = client.get("/api/tasks")["ETag"]
    head = client.head("/api/tasks", HTTP_IF_NONE_MATCH=etag)
    assert head.status_code == 200 and "ETag" not in head  # HEAD is computed, as any non-GET
    post = client.post("/api/tasks", {}, HTTP_IF_NONE_MATCH=etag)
    assert post.status_code in (401, 403, 405)
    assert len(cache.store()._cache) == 1  # only the GET's response was stored
