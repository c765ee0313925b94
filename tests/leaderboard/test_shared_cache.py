"""With CACHE_URL (Redis), the read cache is shared by every web process: a value or an API
response stored by one process is a hit in another."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings

from leaderboard.core import cache as read_cache
from leaderboard.models import Task

ROOT = Path(__file__).resolve().parents[2]


def redis_url() -> str:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/15"


@pytest.fixture
def shared(db):
    url = redis_url()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    caches = {
        alias: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": key_prefix,
        }
        for alias, key_prefix in (("default", prefix), ("responses", f"{prefix}-responses"))
    }
    with override_settings(CACHE_URL=url, CACHES=caches):
        try:
            cache.set("ping", 1)
        except Exception as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"no Redis at {url}: {exc}")
        yield url, prefix


def read_in_another_process(url: str, prefix: str, key: str, alias: str = "default"):
    code = (
        "import django, os; django.setup(); from django.core.cache import caches; "
        f"print(repr(caches[{alias!r}].get({key!r})))"
    )
    env = {**os.environ, "CACHE_URL": url, "CACHE_KEY_PREFIX": prefix}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_settings_pick_the_redis_backend_for_a_cache_url(shared):
    url, prefix = shared
    code = (
        "import django; django.setup(); from leaderboard.core.cache import store; "
        "print(type(store()).__module__, store().key_prefix)"
    )
    env = {**os.environ, "CACHE_URL": url, "CACHE_KEY_PREFIX": prefix}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["django_redis.cache", f"{prefix}-responses"]


def test_a_value_cached_by_one_process_is_read_by_another(shared):
    url, prefix = shared
    version = read_cache.current_version()
    read_cache.versioned("shared-test", lambda: "computed here")
    key = "v:{}:{}:{}".format(*version, read_cache.hashlib.sha256(b"shared-test").hexdigest())
    assert read_in_another_process(url, prefix, key) == "'computed here'"


def test_shared_api_responses_are_keyed_on_the_version(shared, client):
    url, prefix = shared
    Task.objects.create(name="Shared task", slug="shared-task")
    first = client.get("/api/tasks")
    second = client.get("/api/tasks")
    assert second.content == first.content
    key = read_cache.entry_key(read_cache.current_version(), "api http://testserver/api/tasks")
    stored = read_in_another_process(url, prefix, key, alias="responses")
    assert "Shared task" in stored  # stored by this process, read by another
    Task.objects.create(name="Another shared task", slug="another")
    assert "Another shared task" in client.get("/api/tasks").content.decode()
