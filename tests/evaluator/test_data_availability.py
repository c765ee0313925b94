"""What the data present lets verify: the start-up report, the refusal at submit time (API 400,
form error) of a claim whose protocol cannot run, and the shape check of an unverifiable
benchmark's checkpoint."""

import logging

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run, Submission
from evaluator.protocols import data_report, log_data_report
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, upload

URL = "/api/submissions/"


@pytest.fixture
def no_data(settings, tmp_path):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    settings.MAML_DATA_DIR = str(empty)
    return empty


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def api(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


def claim(benchmark, paper, checkpoint):
    return {
        "benchmark": benchmark.slug,
        "metric": "Accuracy",
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.slug,
        "checkpoint": upload(checkpoint),
    }


def test_the_report_says_what_cannot_run_and_the_command_that_fetches_the_data(no_data):
    lines = data_report()
    omniglot = [line for line in lines if "OMNIGLOT" in line]
    assert len(omniglot) == 4
    for line in omniglot:
        assert line.startswith("cannot verify")
        assert f"python -m maml_ref download omniglot --dir {no_data}" in line
        assert "MAML_DATA_DIR" in line
    assert any(line.startswith("can verify: Sinusoid") for line in lines)


def test_the_report_says_what_can_run_when_the_data_is_there(settings, tmp_path, caplog):
    for name in ("images_background.zip", "images_evaluation.zip"):
        (tmp_path / name).write_bytes(b"")
    settings.MAML_DATA_DIR = str(tmp_path)
    with caplog.at_level(logging.INFO):
        log_data_report(logging.getLogger("test"))
    assert sum("can verify: OMNIGLOT" in r.getMessage() for r in caplog.records) == 4


def test_an_omniglot_claim_is_refused_at_submit_time_without_the_data(
    api, omniglot, paper, no_data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        r = api.post(URL, claim(omniglot, paper, checkpoint_bytes()), format="multipart")
    assert r.status_code == 400, r.content
    message = r.json()["benchmark"][0]
    assert "No Omniglot data" in message and "python -m maml_ref download omniglot" in message
    assert str(no_data) not in message  # no server path shown to users
    assert Submission.objects.count() == 0 and Run.objects.count() == 0 and not dispatched


def test_the_form_refuses_it_with_the_same_reason(
    client, owner, omniglot, accuracy, paper, no_data
):
    client.force_login(owner)
    r = client.post(
        "/submit/",
        {
            "benchmark": omniglot.pk,
            "metric": accuracy.pk,
            "claimed_value": "48.7",
            "model_name": "MAML",
            "evaluation_mode": "transductive",
            "paper": paper.pk,
            "kind": "evaluate",
            "checkpoint": upload(checkpoint_bytes()),
        },
    )
    assert r.status_code == 400
    assert "No Omniglot data on the verification workers" in r.content.decode()
    assert Submission.objects.count() == 0


def test_a_sinusoid_claim_needs_no_data(api, sinusoid, mse, paper, no_data):
    data = claim(sinusoid, paper, checkpoint_bytes("sinusoid-10shot"))
    data.update(metric="MSE", claimed_value="0.5")
    r = api.post(URL, data, format="multipart")
    assert r.status_code == 201, r.content


def test_an_omniglot_checkpoint_for_a_mini_imagenet_claim_is_a_shape_error(
    api, mini_imagenet, paper
):
    r = api.post(URL, claim(mini_imagenet, paper, checkpoint_bytes()), format="multipart")
    assert r.status_code == 400, r.content
    assert "miniimagenet-5w1s" in r.json()["checkpoint"][0]
    assert Submission.objects.count() == 0
