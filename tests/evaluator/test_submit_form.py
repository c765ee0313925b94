"""The submission form at /submit/: login, CSRF, field errors, nothing stored on a refusal."""

from pathlib import Path

import pytest
import torch
from django.test import Client

from evaluator.models import Run, Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, pickle_bytes, upload

URL = "/submit/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def form_data(benchmark, metric, paper, **extra):
    data = {
        "benchmark": benchmark.pk,
        "metric": metric.pk,
        "claimed_value": "48.7",
        "model_name": "MAML",
        "evaluation_mode": "transductive",
        "paper": paper.pk,
        "kind": "evaluate",
        "checkpoint": upload(checkpoint_bytes()),
    }
    data.update(extra)
    return data


def assert_nothing_stored(media_root=None):
    assert Submission.objects.count() == 0
    assert Run.objects.count() == 0
    if media_root is not None:
        assert not any(Path(media_root).rglob("*.safetensors"))


def test_it_needs_a_login(client, db):
    r = client.get(URL)
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")


def test_it_shows_the_form(logged_in, omniglot):
    r = logged_in.get(URL)
    assert r.status_code == 200
    page = r.content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert "OMNIGLOT - 1-Shot, 5-way" in page
    assert "csrfmiddlewaretoken" in page


def _menu_groups(page: str) -> list[tuple[str, list[str]]]:
    """The benchmark menu's option groups and their options, in the page's order."""
    import re

    menu = page.split('id="id_benchmark"')[1].split("</select>")[0]
    return [
        (label, re.findall(r"<option[^>]*>([^<]*)</option>", body))
        for label, body in re.findall(r'<optgroup label="([^"]*)">(.*?)</optgroup>', menu, re.S)
    ]


def test_it_lists_the_verifiable_benchmarks_first_under_their_mark(
    logged_in, omniglot, mini_imagenet, sinusoid
):
    groups = _menu_groups(logged_in.get(URL).content.decode())
    assert [label.split(":")[0] for label, _ in groups] == ["Verifiable now", "No reference runner"]
    assert sorted(groups[0][1]) == ["OMNIGLOT - 1-Shot, 5-way", "Sinusoid Regression (10-shot)"]
    assert groups[1][1] == ["Mini-Imagenet 5-way (1-shot)"]


def test_it_marks_omniglot_benchmarks_unverifiable_without_the_data(
    logged_in, settings, tmp_path, omniglot, mini_imagenet, sinusoid
):
    settings.MAML_DATA_DIR = str(tmp_path)  # no Omniglot files there
    groups = dict(_menu_groups(logged_in.get(URL).content.decode()))
    assert [label.split(":")[0] for label in groups] == [
        "Verifiable now",
        "Not verifiable now",
        "No reference runner",
    ]
    assert list(groups.values()) == [
        ["Sinusoid Regression (10-shot)"],  # generated tasks: no data needed
        ["OMNIGLOT - 1-Shot, 5-way"],
        ["Mini-Imagenet 5-way (1-shot)"],
    ]


def test_it_gives_the_script_each_benchmarks_metrics(logged_in, omniglot, accuracy, mse):
    import html
    import json

    page = logged_in.get(URL).content.decode()
    attr = page.split('id="id_benchmark"')[0].rsplit("<select", 1)[1]
    attr += page.split('id="id_benchmark"')[1].split(">")[0]
    raw = attr.split('data-metrics="')[1].split('"')[0]
    metrics = json.loads(html.unescape(raw))
    sinusoid = omniglot.__class__.objects.get(name="Sinusoid Regression (10-shot)")
    assert metrics[str(omniglot.pk)] == [str(accuracy.pk)]
    assert metrics[str(sinusoid.pk)] == [str(mse.pk)]
    assert 'src="/static/evaluator/submit.js"' in page
    assert "<script>" not in page  # no inline script: the map is an escaped attribute


def test_it_submits_a_checkpoint(
    logged_in, owner, omniglot, accuracy, paper, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        r = logged_in.post(URL, form_data(omniglot, accuracy, paper, uses_additional_data="on"))
    sub = Submission.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/submissions/{sub.pk}/"
    assert sub.owner == owner
    assert sub.uses_additional_data is True
    assert sub.transductive is True
    assert Path(sub.checkpoint.path).is_file()
    assert sub.runs.get().status == Run.Status.QUEUED
    assert len(dispatched) == 1


def test_it_submits_a_configuration(logged_in, omniglot, accuracy, paper):
    data = form_data(omniglot, accuracy, paper, kind="reproduce", checkpoint="")
    data["config"] = '{"meta_iterations": 20, "first_order": true}'
    data["evaluation_mode"] = "non-transductive"
    r = logged_in.post(URL, data)
    assert r.status_code == 302, r.content.decode()[:2000]
    sub = Submission.objects.get()
    assert sub.kind == "reproduce"
    assert sub.config["first_order"] is True
    assert sub.transductive is False


def test_it_refuses_a_post_without_csrf(owner, omniglot, accuracy, paper, media):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    r = client.post(URL, form_data(omniglot, accuracy, paper))
    assert r.status_code == 403
    assert_nothing_stored(media)


def test_it_accepts_a_post_with_its_csrf_token(owner, omniglot, accuracy, paper):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get(URL)
    token = client.cookies["csrftoken"].value
    r = client.post(URL, form_data(omniglot, accuracy, paper, csrfmiddlewaretoken=token))
    assert r.status_code == 302
    assert Submission.objects.count() == 1


def test_it_rejects_pickled_checkpoint(logged_in, omniglot, accuracy, paper, media, tmp_path):
    marker = tmp_path / "created-by-unpickling"
    data = form_data(omniglot, accuracy, paper, checkpoint=upload(pickle_bytes(marker), "m.pt"))
    r = logged_in.post(URL, data)
    assert r.status_code == 400
    assert "pickled/torch.save files are refused" in r.content.decode()
    assert not marker.exists()
    assert_nothing_stored(media)


def test_it_rejects_wrong_shapes(logged_in, omniglot, accuracy, paper, media):
    bad = checkpoint_bytes(head__weight=torch.zeros(20, 64))
    r = logged_in.post(URL, form_data(omniglot, accuracy, paper, checkpoint=upload(bad)))
    assert r.status_code == 400
    assert "head.weight has shape [20, 64], expected [5, 64]" in r.content.decode()
    assert_nothing_stored(media)


def test_it_rejects_an_oversized_upload(logged_in, omniglot, accuracy, paper, media, settings):
    settings.MAX_CHECKPOINT_BYTES = 32 * 1024
    r = logged_in.post(URL, form_data(omniglot, accuracy, paper))
    assert r.status_code == 413
    assert "too large" in r.content.decode()
    assert_nothing_stored(media)


@pytest.mark.parametrize("value", ["nan", "inf", "-3", "101"])
def test_it_rejects_bad_claimed_values(logged_in, omniglot, accuracy, paper, media, value):
    r = logged_in.post(URL, form_data(omniglot, accuracy, paper, claimed_value=value))
    assert r.status_code == 400
    assert 'id="field-claimed_value"' in r.content.decode()
    assert "field-error" in r.content.decode()
    assert_nothing_stored(media)


def test_it_rejects_a_metric_the_benchmark_lacks(logged_in, omniglot, mse, paper, media):
    r = logged_in.post(URL, form_data(omniglot, mse, paper, claimed_value="0.1"))
    assert r.status_code == 400
    assert "has no metric" in r.content.decode()
    assert_nothing_stored(media)


def test_it_rejects_an_unknown_benchmark(logged_in, omniglot, accuracy, paper, media):
    data = form_data(omniglot, accuracy, paper)
    data["benchmark"] = 999999
    r = logged_in.post(URL, data)
    assert r.status_code == 400
    assert "Select a valid choice" in r.content.decode()
    assert_nothing_stored(media)


def test_it_needs_a_paper(logged_in, omniglot, accuracy, paper, media):
    data = form_data(omniglot, accuracy, paper)
    data["paper"] = ""
    r = logged_in.post(URL, data)
    assert r.status_code == 400
    assert "existing paper or give the new one" in r.content.decode()
    assert_nothing_stored(media)


def test_it_escapes_what_it_echoes(logged_in, omniglot, accuracy, paper):
    data = form_data(omniglot, accuracy, paper, claimed_value="nan")
    data["model_name"] = "<script>alert(1)</script>"
    page = logged_in.post(URL, data).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_it_refuses_a_declared_oversized_body_unread(
    logged_in, omniglot, accuracy, paper, media, settings
):
    settings.MAX_CHECKPOINT_BYTES = 1024
    big = upload(b"\0" * (1024 * 1024 + 4096))  # over the limit plus the form overhead
    r = logged_in.post(URL, form_data(omniglot, accuracy, paper, checkpoint=big))
    assert r.status_code == 413
    assert 'id="upload-error"' in r.content.decode()
    assert_nothing_stored(media)
