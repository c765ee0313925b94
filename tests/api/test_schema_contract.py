"""The OpenAPI schema is the API's contract: schemathesis runs every operation against the site
served as in production (gunicorn, DEBUG off, on the test database) with ``--checks all``
(status codes, bodies and headers as documented, negative data rejected, auth enforced...) and
every phase, the stateful one included (it follows the schema's OpenAPI links: a created
submission to its page and its cancel, a list to its objects and their sub-lists), and must find
nothing. It prints its count of operations and cases.

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
from tests.live_gunicorn import Gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 12
SEED = 1103


UNSERVED = "-schemathesis-unserved"


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    if script.exists():
        return [str(script)]
    found = shutil.which("schemathesis")
    if not found:
        pytest.fail("schemathesis is not installed (pip install -r requirements-dev.txt)")
    return [found]


def test_the_api_answers_as_its_schema_says_under_schemathesis(django_user_model, tmp_path, capsys):
    call_command("load_seed", verbosity=0)
    user = django_user_model.objects.create_user("fuzzer", "fuzz@example.org", "fuzz-pass-123")
    token = Token.objects.create(user=user)
    server = Gunicorn(
        tmp_path,
        workers=2,
        threads=4,
        # The limits would answer most requests 429 (documented, but their logic left
        # untested): tests/evaluator/test_limits.py and tests/leaderboard/test_throttles.py.
        SUBMISSION_RATE="100000/hour",
        SUBMISSION_ATTEMPT_RATE="100000/hour",
        EVALUATOR_MAX_ACTIVE_CPU_RUNS="0",
        EVALUATOR_MAX_ACTIVE_GPU_RUNS="0",
        THROTTLE_ANON_READS="off",
        THROTTLE_SEARCH="off",
        THROTTLE_EXPORT="off",
        EVALUATOR_QUEUE_SUFFIX=UNSERVED,  # no worker runs what it queues (a file-system broker)
    )
    server.start()
    command = [
        *schemathesis_command(),
        "--config-file",
        str(CONFIG),
        "run",
        f"http://127.0.0.1:{server.port}/api/schema/",
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
        server.stop()
    output = done.stdout + done.stderr
    log = server.log.read_text()
    tested = re.search(r"Tested:\s+(\d+)", output)
    cases = re.search(r"(\d+) generated, ([^\n]*)", output)
    scenarios = re.search(r"Scenarios:\s+(\d+)", output)
    links = re.search(r"API Links:\s+([^\n]*)", output)
    with capsys.disabled():  # into the test log, passed or not (CI shows it)
        print(
            f"\nschemathesis --checks all: {tested.group(1) if tested else '?'} operations "
            f"tested, {cases.group(1) if cases else '?'} cases generated "
            f"({cases.group(2) if cases else '?'}); stateful: "
            f"{scenarios.group(1) if scenarios else '?'} scenarios, links "
            f"{links.group(1).strip() if links else '?'}; exit status {done.returncode}"
        )
    assert done.returncode == 0, output[-20000:]
    assert "Failures:" not in output, output[-20000:]
    assert "Traceback" not in log, log[-5000:]
    # The stateful phase ran scenarios along the schema's links.
    assert scenarios and int(scenarios.group(1)) > 0, output[-3000:]
    assert links and int(links.group(1).split()[0]) > 0, output[-3000:]
    assert tested and int(tested.group(1)) >= 14, output[-3000:]
    assert cases and int(cases.group(1)) > 100, output[-3000:]
    # What the fuzzer got accepted is a real submission of the fuzzing user, each with its one
    # run; nothing was stored for anyone else.
    assert not Submission.objects.exclude(owner=user).exists()
    assert Run.objects.count() == Submission.objects.count()
