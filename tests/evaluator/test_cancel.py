"""Cancelling a submission from its page (button) and the API; the checkpoint_public choice."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator import services
from evaluator.models import Run
from tests.evaluator import catalogue
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def submission(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        return services.create_submission(
            owner,
            benchmark=catalogue.benchmark("OMNIGLOT - 1-Shot, 5-way"),
            metric=catalogue.metric("Accuracy"),
            claimed_value=50.0,
            model_name="MAML",
            kind="evaluate",
            checkpoint_file=SimpleUploadedFile("init.safetensors", checkpoint_bytes()),
            paper=catalogue.maml_paper(),
        )


def test_the_owner_cancels_a_queued_submission_with_the_button(client, owner, submission):
    client.force_login(owner)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert 'id="cancel-button"' in page
    r = client.post(f"/submissions/{submission.pk}/cancel/")
    assert r.status_code == 302
    run = submission.current_run
    assert run.status == Run.Status.CANCELLED
    event = run.events.get(kind="cancelled")
    assert event.actor == owner and "its owner" in event.message
    assert 'id="cancel-button"' not in client.get(submission.get_absolute_url()).content.decode()


def test_another_user_cannot_cancel_it(client, other_user, submission):
    client.force_login(other_user)
    assert client.post(f"/submissions/{submission.pk}/cancel/").status_code == 404
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    assert api.post(f"/api/submissions/{submission.pk}/cancel/").status_code == 404
    assert submission.current_run.status == Run.Status.QUEUED


def test_cancel_needs_a_post_and_a_log_in(client, owner, submission):
    assert client.post(f"/submissions/{submission.pk}/cancel/").status_code == 302  # log-in
    client.force_login(owner)
    assert client.get(f"/submissions/{submission.pk}/cancel/").status_code == 405
    assert submission.current_run.status == Run.Status.QUEUED


def test_staff_may_cancel_and_are_recorded_as_curators(client, staff, submission):
    client.force_login(staff)
    client.post(f"/submissions/{submission.pk}/cancel/")
    event = submission.current_run.events.get(kind="cancelled")
    assert event.actor == staff and "a curator" in event.message


def test_the_checkpoint_is_public_by_default_and_private_on_request(
    owner, omniglot, paper, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    claim = {
        "benchmark": omniglot.slug,
        "metric": "Accuracy",
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.slug,
    }
    with django_capture_on_commit_callbacks():
        public = api.post(
            "/api/submissions/", {**claim, "checkpoint": upload(checkpoint_bytes())}, "multipart"
        )
        private = api.post(
            "/api/submissions/",
            {**claim, "checkpoint": upload(checkpoint_bytes()), "checkpoint_public": "false"},
            "multipart",
        )
    assert public.json()["checkpoint_public"] is True
    assert private.json()["checkpoint_public"] is False
    assert public.json()["verification_level"] == "evaluated"
