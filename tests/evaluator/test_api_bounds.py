"""Hostile input to the API and the form: every one a clear 4xx (JSON with ``detail`` under
/api/, a form error on /submit/), with nothing stored, queued or left in the upload folder.

The cases of issue 11: JSON nested 3,000 deep (body, config text, config file, form), a
5,000-digit integer in a configuration, a 10 MB multipart ``config`` field, an over-large JSON
body, a POST to an unknown /api/ path, a session POST without its CSRF token, 405, a 500.
"""

import json
import os
from pathlib import Path

import pytest
from django.test import RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config import api_errors
from evaluator.models import Run, Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, upload

URL = "/api/submissions/"
DEEP = "[" * 3000 + "]" * 3000
HUGE_INT = '{"seed": ' + "9" * 5000 + "}"


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    settings.SUBMISSION_RATE = settings.SUBMISSION_ATTEMPT_RATE = "1000/hour"
    return tmp_path


@pytest.fixture
def api(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


def claim(benchmark, paper, **extra):
    data = {
        "benchmark": benchmark.slug,
        "metric": "Accuracy",
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.slug if paper else None,
        "kind": "reproduce",
    }
    data.update(extra)
    return data


def assert_nothing_left(folders, dispatched=()):
    assert Submission.objects.count() == 0
    assert Run.objects.count() == 0
    assert not dispatched
    uploads = Path(folders) / "uploads"
    assert not (uploads.exists() and os.listdir(uploads)), os.listdir(uploads)
    assert not any((Path(folders) / "media").rglob("*"))


def assert_json_error(response, status):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_it_refuses_a_json_body_nested_3000_deep(
    api, omniglot, folders, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        r = api.post(URL, data=DEEP, content_type="application/json")
    body = assert_json_error(r, 400)
    assert "nested deeper than the limit of 32 levels" in body["detail"]
    assert_nothing_left(folders, dispatched)


@pytest.mark.parametrize("config", [DEEP, '{"seed": ' + "[" * 3000 + "]" * 3000 + "}"])
def test_it_refuses_a_config_text_nested_3000_deep(
    api, omniglot, paper, folders, config, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        r = api.post(URL, claim(omniglot, paper, config=config), format="multipart")
    body = assert_json_error(r, 400)
    assert "nested deeper than the limit of 8 levels" in body["config"][0]
    assert_nothing_left(folders, dispatched)


def test_it_refuses_a_config_file_nested_3000_deep(
    api, omniglot, paper, folders, django_capture_on_commit_callbacks
):
    data = claim(omniglot, paper, config_file=upload(DEEP.encode(), "train.json"))
    with django_capture_on_commit_callbacks() as dispatched:
        r = api.post(URL, data, format="multipart")
    body = assert_json_error(r, 400)
    assert "nested deeper" in body["config"][0]
    assert_nothing_left(folders, dispatched)


@pytest.mark.parametrize("fmt", ["multipart", "json-text", "json-object", "file"])
def test_it_refuses_a_5000_digit_integer_in_a_config(
    api, omniglot, paper, folders, fmt, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        if fmt == "multipart":
            r = api.post(URL, claim(omniglot, paper, config=HUGE_INT), format="multipart")
        elif fmt == "file":
            data = claim(omniglot, paper, config_file=upload(HUGE_INT.encode(), "c.json"))
            r = api.post(URL, data, format="multipart")
        elif fmt == "json-text":
            r = api.post(URL, claim(omniglot, paper, config=HUGE_INT), format="json")
        else:
            body = json.dumps(claim(omniglot, paper))[:-1] + ', "config": ' + HUGE_INT + "}"
            r = api.post(URL, data=body, content_type="application/json")
    body = assert_json_error(r, 400)
    assert "integer of 5000 digits" in body["detail"]
    assert_nothing_left(folders, dispatched)


def test_a_21_digit_seed_is_refused_by_the_schema_bound(api, omniglot, paper, folders):
    r = api.post(URL, claim(omniglot, paper, config='{"seed": 123456789012}'), format="json")
    body = assert_json_error(r, 400)
    assert "over the budget limit" in body["config"][0]
    assert_nothing_left(folders)


def test_it_answers_413_json_for_a_10mb_multipart_config_field(
    api, omniglot, paper, folders, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        r = api.post(URL, claim(omniglot, paper, config="x" * (10 * 1024 * 1024)))
    body = assert_json_error(r, 413)
    assert "too large" in body["detail"]
    assert_nothing_left(folders, dispatched)


def test_it_answers_413_json_for_an_over_large_json_body(api, omniglot, folders, settings):
    r = api.post(URL, data='{"a": "' + "x" * 700_000 + '"}', content_type="application/json")
    body = assert_json_error(r, 413)
    assert "limited to" in body["detail"]
    assert_nothing_left(folders)


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(client, owner):
    client.force_login(owner)  # a session: Django's CSRF check would run first
    r = client.post("/api/no-such-thing/", {"a": 1})
    assert_json_error(r, 404)


def test_a_session_post_without_csrf_token_is_a_json_403(owner, omniglot, paper, folders):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    r = client.post(URL, claim(omniglot, paper, config="{}"))
    body = assert_json_error(r, 403)
    assert "CSRF" in body["detail"]
    assert_nothing_left(folders)


def test_a_wrong_method_is_a_json_405(api):
    assert_json_error(api.delete("/api/papers/"), 405)


def test_the_404_and_500_handlers_answer_json_under_api_and_html_elsewhere(db):
    factory = RequestFactory()
    r = api_errors.server_error(factory.get("/api/papers/"))
    assert r.status_code == 500 and json.loads(r.content)["detail"]
    assert r["Content-Type"] == "application/json"
    page = api_errors.server_error(factory.get("/papers/"))
    assert page.status_code == 500 and b"<html" in page.content
    r = api_errors.page_not_found(factory.get("/api/x/"), Exception())
    assert r.status_code == 404 and json.loads(r.content) == {"detail": "Not found."}


def test_a_validation_error_keeps_its_fields_beside_detail(api, omniglot, paper, folders):
    r = api.post(URL, claim(omniglot, paper, claimed_value="abc", config="{}"), format="json")
    body = assert_json_error(r, 400)
    assert body["claimed_value"] == ["A valid number is required."]
    assert body["detail"].startswith("claimed_value: A valid number is required.")
    assert_nothing_left(folders)


# --- the form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, message",
    [(DEEP, "nested deeper than the limit"), (HUGE_INT, "integer of 5000 digits")],
)
def test_the_form_shows_the_bound_a_config_hit(
    client, owner, omniglot, paper, folders, config, message, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    data = {
        "benchmark": omniglot.pk,
        "metric": omniglot.metrics.get().pk,
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.pk,
        "kind": "reproduce",
        "config": config,
        "evaluation_mode": "transductive",
    }
    with django_capture_on_commit_callbacks() as dispatched:
        r = client.post("/submit/", data)
    assert r.status_code == 400
    assert message in r.content.decode()
    assert_nothing_left(folders, dispatched)


def test_the_form_answers_a_10mb_config_field_with_its_limit(client, owner, omniglot, folders):
    client.force_login(owner)
    r = client.post("/submit/", {"benchmark": omniglot.pk, "config": "x" * (10 * 1024 * 1024)})
    assert r.status_code == 413
    assert "limited to 5.0 MB" in r.content.decode()
    assert_nothing_left(folders)


def test_a_refused_checkpoint_names_the_users_file_not_the_servers(
    api, omniglot, paper, folders, settings
):
    import torch

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # the upload goes to a temporary file
    weights = torch.zeros(5)
    weights[1] = float("nan")
    data = claim(omniglot, paper, kind="evaluate")
    data["checkpoint"] = upload(checkpoint_bytes(head__bias=weights), "my-nan.safetensors")
    r = api.post(URL, data, format="multipart")
    body = assert_json_error(r, 400)
    assert "NaN" in body["checkpoint"][0]
    assert "tmp" not in json.dumps(body) and ".upload" not in json.dumps(body)
    assert_nothing_left(folders)


def test_a_message_naming_the_servers_file_is_rewritten_with_the_users_name():
    from evaluator.validation import _user_named

    class Uploaded:
        name = "mine.safetensors"

        def temporary_file_path(self):
            return "/var/uploads/tmp77p6pseq.upload.safetensors"

    message = "/tmp/tmpab12.safetensors: float64 weights in tmp77p6pseq.upload.safetensors"
    named = _user_named(message, "/tmp/tmpab12.safetensors", Uploaded())
    assert named == "mine.safetensors: float64 weights in mine.safetensors"


def test_an_accepted_upload_leaves_no_temporary_file(
    api, omniglot, paper, folders, settings, django_capture_on_commit_callbacks
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    data = claim(omniglot, paper, kind="evaluate")
    data["checkpoint"] = upload(checkpoint_bytes())
    with django_capture_on_commit_callbacks():
        r = api.post(URL, data, format="multipart")
    assert r.status_code == 201, r.content
    assert Submission.objects.count() == 1
    uploads = Path(folders) / "uploads"
    assert not (uploads.exists() and os.listdir(uploads))


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "ftp://a.org/p"])
def test_the_api_refuses_a_paper_url_that_is_not_http(api, omniglot, folders, url):
    data = claim(omniglot, None, config="{}")
    data.pop("paper")
    data.update(paper_title="New", paper_url=url)
    r = api.post(URL, data, format="json")
    body = assert_json_error(r, 400)
    assert "paper_url" in body
    assert_nothing_left(folders)


def test_the_form_refuses_a_paper_url_that_is_not_http(client, owner, omniglot, folders):
    client.force_login(owner)
    r = client.post(
        "/submit/",
        {
            "benchmark": omniglot.pk,
            "metric": omniglot.metrics.get().pk,
            "claimed_value": "48.7",
            "model_name": "MAML",
            "paper_title": "New",
            "paper_url": "javascript:alert(1)",
            "kind": "reproduce",
            "config": "{}",
        },
    )
    assert r.status_code == 400
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("query", ["page_size=null", "page_size=0", "page=0", "page_size=101"])
def test_the_submission_list_refuses_a_page_outside_the_schema(api, query):
    body = assert_json_error(api.get(f"{URL}?{query}"), 400)
    assert query.split("=")[0] in body
