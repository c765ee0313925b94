"""The OpenAPI schema is the API's contract: schemathesis runs every operation against the live
test server with ``--checks all`` (status codes, bodies and headers as documented, negative data
rejected, auth enforced...) and must find nothing. It prints its count of operations and cases.

The write operation gets a real user's token; the seed catalogue gives the reads real objects.
Bounded: a fixed number of examples per operation and a fixed seed, a few minutes on 2 cores.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from evaluator.models import Run, Submission

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 12
SEED = 1103


UNSERVED = "-schemathesis-unserved"


def purge_queues(names: list[str]) -> None:
    """Drop the messages the accepted submissions sent (no worker serves these queues)."""
    from config.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for name in names:
            try:
                channel.queue_purge(name)
            except Exception:  # never declared: nothing was sent to it
                pass


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    if script.exists():
        return [str(script)]
    found = shutil.which("schemathesis")
    if not found:
        pytest.fail("schemathesis is not installed (pip install -r requirements-dev.txt)")
    return [found]


def test_the_api_answers_as_its_schema_says_under_schemathesis(
    live_server, django_user_model, tmp_path, capsys, settings
):
    # The throttle would answer most writes 429 (documented, but their logic left untested).
    settings.SUBMISSION_RATE = settings.SUBMISSION_ATTEMPT_RATE = "100000/hour"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.EVALUATOR_QUEUE_SUFFIX = UNSERVED  # no worker runs what it queues
    call_command("load_seed", verbosity=0)
    user = django_user_model.objects.create_user("fuzzer", "fuzz@example.org", "fuzz-pass-123")
    token = Token.objects.create(user=user)
    command = [
        *schemathesis_command(),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--header",
        f"Authorization: Token {token.key}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--generation-database",
        "none",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    finally:
        purge_queues(["cpu" + UNSERVED, "gpu" + UNSERVED])
    output = done.stdout + done.stderr
    tested = re.search(r"Tested:\s+(\d+)", output)
    cases = re.search(r"(\d+) generated, ([^\n]*)", output)
    with capsys.disabled():  # into the test log, passed or not (CI shows it)
        print(
            f"\nschemathesis --checks all: {tested.group(1) if tested else '?'} operations "
            f"tested, {cases.group(1) if cases else '?'} cases generated "
            f"({cases.group(2) if cases else '?'}), exit status {done.returncode}"
        )
    assert done.returncode == 0, output[-20000:]
    assert "Failures:" not in output, output[-20000:]
    assert tested and int(tested.group(1)) >= 14, output[-3000:]
    assert cases and int(cases.group(1)) > 100, output[-3000:]
    # What the fuzzer got accepted is a real submission of the fuzzing user, each with its one
    # run; nothing was stored for anyone else.
    assert not Submission.objects.exclude(owner=user).exists()
    assert Run.objects.count() == Submission.objects.count()
