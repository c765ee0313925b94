"""The read API's throttles (leaderboard/throttles.py): anonymous reads and searches per client,
429 with Retry-After; counted atomically in Redis (threads here, gunicorn processes below:
exactly the rate gets through), per process when the cache is down, and keyed on the client
address as the deployment defines it."""

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from leaderboard.throttles import count_in_window
from tests.live_gunicorn import Gunicorn
from tests.redis_servers import cache_settings, closed_port_url

# A Redis database the suite writes keys to (under a prefix of each test's own, deleted after
# it: never flushed, so tests running at once in several pytest-xdist workers, or other users of
# the database, keep their keys): the run's CACHE_URL where it sets one, else db 10.
REDIS_CACHE = os.environ.get("CACHE_URL") or "redis://127.0.0.1:6379/10"


@pytest.fixture
def seeded(db):
    call_command("load_seed", verbosity=0)


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = cache_settings(REDIS_CACHE, f"throttle-test-{uuid.uuid4().hex}")
    try:
        if cache.add("throttle-test-probe", 1, 5) is None:
            pytest.skip("needs Redis on 127.0.0.1:6379")
    except Exception:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    yield
    cache.delete_pattern("*")  # this test's keys only (the prefix is in the pattern)


def misses(n: int) -> list[str]:
    """``n`` different URLs: each is computed (a response-cache miss) and counted."""
    return [f"/api/tasks/?page_size={i}" for i in range(1, n + 1)]


def test_anonymous_reads_are_throttled_per_client(client, seeded, settings):
    settings.THROTTLE_ANON_READS = "3/minute"
    codes = [client.get(url).status_code for url in misses(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/datasets/")
    assert r.status_code == 429 and 0 < int(r["Retry-After"]) <= 60
    assert r.json()["detail"].startswith("Request was throttled")
    # Another client is not held up by this one; a user with a token is not an anonymous reader.
    assert client.get("/api/datasets/", REMOTE_ADDR="10.0.0.7").status_code == 200
    user = get_user_model().objects.create_user("reader", "r@example.org", "reader-pass-123")
    token = Token.objects.create(user=user).key
    assert client.get("/api/datasets/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_a_response_served_from_the_cache_is_not_counted(client, seeded, settings):
    settings.THROTTLE_ANON_READS = "2/minute"
    codes = [client.get("/api/tasks/").status_code for _ in range(10)]
    assert codes == [200] * 10  # one miss, then hits that cost no query
    assert client.get("/api/datasets/").status_code == 200
    assert client.get("/api/benchmarks/").status_code == 429
    # Once over its budget, the client is refused before the cache is asked, hits included.
    r = client.get("/api/tasks/")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert r.json()["detail"].startswith("Request was throttled. Expected available in")


def test_searches_are_throttled_for_everyone(client, seeded, settings, owner):
    settings.THROTTLE_SEARCH = "2/minute"
    token = Token.objects.create(user=owner).key
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    searches = ["/api/v1/papers/?q=meta", "/api/papers/?search=learning", "/api/v1/search/?q=x"]
    codes = [client.get(url, **auth).status_code for url in searches]
    assert codes == [200, 200, 429]
    assert client.get("/api/v1/papers/?abstract=gradient", **auth).status_code == 429
    assert client.get("/api/v1/papers/", **auth).status_code == 200  # not a search


def test_a_forged_forwarded_for_does_not_make_a_new_client(client, seeded, settings):
    settings.THROTTLE_ANON_READS = "2/minute"
    codes = [
        client.get(url, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i, url in enumerate(misses(3))
    ]
    assert codes == [200, 200, 429]
    # Behind one trusted proxy, X-Forwarded-For names the client.
    settings.TRUSTED_PROXY_COUNT = 1
    r = client.get("/api/datasets/", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert r.status_code == 200


def test_the_counter_is_atomic_across_threads_in_redis(redis_cache):
    start = threading.Barrier(40)

    def bump(_):
        start.wait(timeout=30)
        return count_in_window("throttle:test:atomic", 60)

    with ThreadPoolExecutor(40) as pool:
        counts = sorted(pool.map(bump, range(40)))
    assert counts == list(range(1, 41))


def test_throttles_hold_per_process_when_the_cache_is_down(client, seeded, settings):
    settings.CACHES = cache_settings(closed_port_url())
    settings.THROTTLE_ANON_READS = "3/minute"
    codes = [client.get(url).status_code for url in misses(5)]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.django_db(transaction=True)
def test_concurrent_readers_on_several_processes_get_exactly_the_rate(tmp_path):
    call_command("load_seed", verbosity=0)
    try:
        import redis

        redis.Redis.from_url(REDIS_CACHE).ping()
    except Exception:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    server = Gunicorn(
        tmp_path,
        workers=3,
        threads=10,
        CACHE_URL=REDIS_CACHE,
        CACHE_KEY_PREFIX=f"throttle-test-{tmp_path.name}",
        THROTTLE_ANON_READS="10/minute",
        RESPONSE_CACHE_ENTRIES="0",  # every read computed: each one counts
    ).start()
    try:
        start = threading.Barrier(30)

        def read(i):
            start.wait(timeout=60)
            return server.request("GET", f"/api/tasks/?page_size={i + 1}")[0]

        with ThreadPoolExecutor(30) as pool:
            codes = sorted(pool.map(read, range(30)))
    finally:
        server.stop()
    assert codes == [200] * 10 + [429] * 20
