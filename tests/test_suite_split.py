"""`make test`'s SQLite run keeps every test that reaches the database and only those
(tests/conftest.py, --database-tests-only)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def collected(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {line for line in done.stdout.splitlines() if "::" in line}


def test_the_database_run_keeps_database_tests_and_drops_the_others():
    files = [
        "tests/maml_ref/test_cli.py",  # no database: dropped
        "tests/evaluator/test_one_row.py",  # the `db` fixture or marker: kept
        "tests/leaderboard/test_throttles.py",  # gunicorn on the test database: kept
    ]
    every = collected(*files)
    kept = collected("--database-tests-only", *files)
    assert kept < every
    assert not any(t.startswith("tests/maml_ref/") for t in kept)
    assert {t for t in every if t.startswith("tests/evaluator/test_one_row.py")} <= kept
    assert (
        "tests/leaderboard/test_throttles.py::"
        "test_concurrent_readers_on_several_processes_get_exactly_the_rate" in kept
    )
    assert (
        "tests/leaderboard/test_throttles.py::test_the_counter_is_atomic_across_threads_in_redis"
        not in kept
    )
