"""Hostile input to the submission API and form: a NUL character in any text field, Unicode
digits where an id goes, a 5,000-digit id. Each is a 400 naming the field (JSON under /api/, a
form error on /submit/), never a 500, and nothing is stored."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, upload

URL = "/api/submissions/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def api(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


def claim(benchmark, paper, /, **changes):
    body = {
        "benchmark": benchmark.slug,
        "metric": "Accuracy",
        "claimed_value": 48.7,
        "model_name": "MAML",
        "paper": paper.slug,
        "kind": "reproduce",
        "config": {"meta_iterations": 10},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


NEW_PAPER = {
    "paper": None,
    "paper_title": "A title",
    "paper_arxiv_id": "2611.00002",
    "paper_authors": "A. Author",
}

# (field, value): each with a NUL character where the field's text goes.
NUL_CASES = [
    ("benchmark", "omniglot\x00"),
    ("metric", "Accuracy\x00"),
    ("paper", "model-agnostic\x00"),
    ("model_name", "MAML\x00"),
    ("evaluation_mode", "transductive\x00"),
    ("kind", "reproduce\x00"),
    ("claimed_value", "48.7\x00"),
]
NEW_PAPER_NUL_CASES = [
    ("paper_title", "A\x00title"),
    ("paper_arxiv_id", "2611.\x0000002"),
    ("paper_url", "https://example.org/\x00"),
    ("paper_authors", "A. Author, B.\x00Author"),
    ("paper_authors", ["A. Author", "B.\x00Author"]),
]
CONFIG_NUL_CASES = [
    {"meta_iterations": 10, "note\x00": 1},
    {"meta_iterations": 10, "optimizer": "adam\x00"},
]


def assert_refused(response, field: str | None = None):
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert field in body, body
    assert Submission.objects.count() == 0


@pytest.mark.parametrize(("field", "value"), NUL_CASES)
def test_a_nul_in_a_claim_field_is_a_400_json(api, omniglot, paper, field, value):
    assert_refused(api.post(URL, claim(omniglot, paper, **{field: value}), format="json"), field)
    data = claim(omniglot, paper, **{"kind": "evaluate", "config": None, field: value})
    data["checkpoint"] = upload(checkpoint_bytes())
    assert_refused(api.post(URL, data, format="multipart"), field)


@pytest.mark.parametrize(("field", "value"), NEW_PAPER_NUL_CASES)
def test_a_nul_in_a_new_papers_field_is_a_400_json(api, omniglot, paper, field, value):
    body = claim(omniglot, paper, **{**NEW_PAPER, field: value})
    assert_refused(api.post(URL, body, format="json"), field)


@pytest.mark.parametrize("config", CONFIG_NUL_CASES)
def test_a_nul_in_a_configuration_is_a_400_json(api, omniglot, paper, config):
    assert_refused(api.post(URL, claim(omniglot, paper, config=config), format="json"), "config")
    import json

    text = json.dumps(config)
    data = {**claim(omniglot, paper, config=None), "config": text}
    assert_refused(api.post(URL, data, format="multipart"), "config")


@pytest.mark.parametrize("value", ["²", "١٢", "1²", "9" * 5000, "-1", "1e3"])
def test_a_benchmark_given_as_odd_digits_is_unknown_not_a_500(api, omniglot, paper, value):
    assert_refused(
        api.post(URL, claim(omniglot, paper, benchmark=value), format="json"), "benchmark"
    )


def test_the_form_refuses_a_nul_in_every_text_field(client, owner, omniglot, paper):
    client.force_login(owner)
    base = {
        "benchmark": omniglot.pk,
        "metric": omniglot.metrics.get().pk,
        "claimed_value": "48.7",
        "model_name": "MAML",
        "paper": paper.pk,
        "kind": "reproduce",
        "config": '{"meta_iterations": 10}',
        "evaluation_mode": "transductive",
    }
    cases = {
        "benchmark": f"{omniglot.pk}\x00",
        "metric": "\x00",
        "model_name": "MAML\x00",
        "config": '{"meta_iterations": 10, "x\\u0000": 1}',
        "paper_title": "A\x00title",
        "paper_authors": "A\x00Author",
        "paper_arxiv_id": "2611.\x0000002",
        "claimed_value": "48.7\x00",
    }
    for field, value in cases.items():
        data = {**base, field: value}
        if field.startswith("paper_"):
            data["paper"] = ""
            data.setdefault("paper_title", "A title")
        r = client.post("/submit/", data)
        assert r.status_code == 400, (field, r.status_code)
        # The form again, with the error under the field.
        assert f'<div class="field field-error" id="field-{field}">' in r.content.decode(), field
    assert Submission.objects.count() == 0


@pytest.mark.parametrize("value", ["²", "١", "9" * 5000, "\x00"])
def test_the_form_page_ignores_odd_preselected_ids(client, owner, omniglot, value):
    client.force_login(owner)
    assert client.get("/submit/", {"benchmark": value, "metric": value}).status_code == 200
