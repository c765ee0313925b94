"""``manage.py check_verified_rows`` and the database check report a verified row that no
verified run stands behind (``evaluator/checks.py``)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from leaderboard.models import Result
from tests.evaluator.evidence_helpers import finished_run

from . import catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_published_row_has_its_run(owner, capsys):
    finished_run(owner, scores=[50.0, 60.0] * 10)
    call_command("check_verified_rows")
    assert "Every verified row has its verified run." in capsys.readouterr().out
    call_command("check", databases=["default"])


def test_a_hand_made_verified_row_is_reported(owner, capsys):
    finished_run(owner, scores=[50.0, 60.0] * 10)
    forged = Result.objects.create(
        benchmark=catalogue.benchmark(),
        metric=catalogue.metric(),
        model=Result.objects.get().model,
        value=99.9,
        source=Result.Source.VERIFIED,
    )
    with pytest.raises(CommandError, match="1 verified row"):
        call_command("check_verified_rows")
    out = capsys.readouterr().out
    assert f"result #{forged.pk} " in out and "no verified run behind it" in out
    with pytest.raises(SystemCheckError, match="evaluator.E001"):
        call_command("check", databases=["default"])
    call_command("check")  # the plain check (no database) does not look
