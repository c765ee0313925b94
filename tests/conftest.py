"""Fixtures shared by the whole suite: named users (owner, other user, staff)."""

import os
from pathlib import Path

import pytest
from django.core.cache import caches

from maml_ref import datadir

GPU_SKIP = (
    "marker `gpu`: needs a CUDA device, and torch sees none here "
    "(run `pytest -m gpu` on a machine with one)"
)


def pytest_configure(config):
    """In a pytest-xdist worker, torch gets its share of the cores (one thread each for two
    workers on two cores): workers that each spin two OpenMP threads on two shared cores make
    every small tensor operation tens of times slower. maml_ref's results do not depend on the
    thread count (tests/maml_ref/test_evaluation.py, test_query_pass.py)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if os.environ.get("PYTEST_XDIST_WORKER") and workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


# A test that asks for none of these (and carries no `django_db` marker) cannot reach the
# database: its outcome is the same whichever DATABASE_URL the run has.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "django_db_setup",
        "live_server",
    }
)


def pytest_addoption(parser):
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that reach the database (the second database's run: "
        "the others' outcome does not depend on DATABASE_URL)",
    )


def uses_database(item) -> bool:
    return bool(item.get_closest_marker("django_db")) or bool(
        DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def pytest_collection_modifyitems(config, items):
    """With --database-tests-only, the tests that never reach the database are deselected.
    Tests marked `gpu` are skipped, with a reason naming the marker, where no CUDA exists."""
    if config.getoption("--database-tests-only"):
        kept = [item for item in items if uses_database(item)]
        dropped = [item for item in items if not uses_database(item)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_tests:
        return
    import torch

    if torch.cuda.is_available():
        return
    for item in gpu_tests:
        item.add_marker(pytest.mark.skip(reason=GPU_SKIP))


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters (Django's cache, and each process's own while it is down) and the
    response cache (its alias ``responses``) start empty in every test."""
    from leaderboard.throttles import LOCAL

    for alias in ("default", "responses"):
        caches[alias].clear()
    LOCAL.clear()
    yield
    for alias in ("default", "responses"):
        caches[alias].clear()
    LOCAL.clear()


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path_factory):
    """The export files of each test in a folder of its own, never the worktree's var/."""
    settings.EXPORT_DIR = tmp_path_factory.mktemp("exports")
    return settings.EXPORT_DIR


@pytest.fixture(autouse=True)
def no_read_throttles(settings):
    """The read API's throttles (anonymous reads, searches, the export) are off unless a test
    sets their rates (tests/leaderboard/test_throttles.py): a test of something else reads the
    API more often than a reader would."""
    settings.THROTTLE_ANON_READS = settings.THROTTLE_SEARCH = settings.THROTTLE_EXPORT = ""


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of the test's own on a free port (tests/redis_servers.py)."""
    from tests.redis_servers import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("owner", "owner@example.org", "owner-pass-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("other", "other@example.org", "other-pass-123")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "staff", "staff@example.org", "staff-pass-123", is_staff=True, is_superuser=True
    )


def omniglot_or_skip() -> Path:
    """The Omniglot folder by maml_ref's rule, or a skip naming MAML_DATA_DIR (``.ci/run``
    refuses to start without the data, so CI never skips these)."""
    root = datadir.data_dir()
    found = datadir.omniglot_dir(root)
    if found is None:
        pytest.skip(
            f"needs Omniglot: none in {root}; set MAML_DATA_DIR (or run `{datadir.FETCH_COMMAND}`)"
        )
    return found


@pytest.fixture
def omniglot_data() -> Path:
    return omniglot_or_skip()
