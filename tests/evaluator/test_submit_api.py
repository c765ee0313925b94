"""POST/GET /api/submissions/: token auth, multipart checkpoints, JSON configs, refusals.

Every refusal is checked in the database: no submission, no run, no file, nothing queued.
"""

import json
import math
from pathlib import Path

import pytest
import torch
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run, Submission
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, pickle_bytes, torch_save_bytes, upload

URL = "/api/submissions/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


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
        "paper": paper.slug,
    }
    data.update(extra)
    return data


def post(api, data, fmt="multipart"):
    return api.post(URL, data, format=fmt)


def assert_nothing_stored(media_root=None, dispatched=()):
    assert Submission.objects.count() == 0
    assert Run.objects.count() == 0
    assert not dispatched
    if media_root is not None:
        assert not any(Path(media_root).rglob("*.safetensors"))


def test_it_creates_an_evaluate_submission(
    api, owner, omniglot, paper, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        r = post(api, claim(omniglot, paper, checkpoint=upload(checkpoint_bytes())))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "queued"
    assert body["kind"] == "evaluate"
    assert body["benchmark"] == omniglot.slug
    assert body["evaluation_mode"] == "transductive"
    assert body["run"]["protocol"] == "omniglot-5w1s"
    sub = Submission.objects.get()
    assert sub.owner == owner
    assert sub.claimed_value == 48.7
    assert sub.paper == paper
    assert len(sub.checkpoint_sha256) == 64
    assert Path(sub.checkpoint.path).read_bytes() == checkpoint_bytes()
    assert sub.runs.get().status == Run.Status.QUEUED
    assert len(dispatched) == 1  # one task, sent once the transaction commits
    # A paper given by its slug: the answer names it (its catalogue title), as the list does.
    assert body["paper"] == paper.slug
    assert body["paper_title"] == paper.title
    listed = api.get(URL).json()
    assert listed["results"][0]["paper_title"] == paper.title


def test_it_creates_a_reproduce_submission_from_json(
    api, omniglot, paper, django_capture_on_commit_callbacks
):
    data = claim(omniglot, paper, kind="reproduce", evaluation_mode="non-transductive")
    data["config"] = {"meta_iterations": 100, "meta_batch_size": 4}
    data["claimed_value"] = 48.7
    with django_capture_on_commit_callbacks() as dispatched:
        r = post(api, data, fmt="json")
    assert r.status_code == 201, r.content
    sub = Submission.objects.get()
    assert sub.kind == "reproduce"
    assert sub.transductive is False
    assert sub.config["meta_iterations"] == 100
    assert sub.config["inner_lr"] == 0.4  # defaults filled in by the protocol's schema
    assert not sub.checkpoint
    assert len(dispatched) == 1


def test_it_takes_a_config_file_in_multipart(api, omniglot, paper):
    config = upload(json.dumps({"meta_iterations": 10}).encode(), "config.json")
    r = post(api, claim(omniglot, paper, config_file=config))
    assert r.status_code == 201, r.content
    assert Submission.objects.get().kind == "reproduce"


def test_it_rejects_a_config_over_budget(api, omniglot, paper, django_capture_on_commit_callbacks):
    data = claim(omniglot, paper, config=json.dumps({"meta_iterations": 10**9}))
    with django_capture_on_commit_callbacks() as dispatched:
        r = post(api, data)
    assert r.status_code == 400
    assert "config" in r.json()
    assert_nothing_stored(dispatched=dispatched)


def test_it_accepts_a_benchmark_without_runner_as_unverifiable(
    api, mini_imagenet, paper, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        ckpt = upload(checkpoint_bytes("miniimagenet-5w1s"))
        r = post(api, claim(mini_imagenet, paper, checkpoint=ckpt))
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "unverifiable"
    assert "No reference runner" in r.json()["run"]["reason"]
    assert Run.objects.get().status == Run.Status.UNVERIFIABLE
    assert not dispatched


def test_it_rejects_pickled_checkpoint(api, omniglot, paper, media, tmp_path):
    marker = tmp_path / "created-by-unpickling"
    for name in ("model.pt", "model.safetensors"):
        r = post(api, claim(omniglot, paper, checkpoint=upload(pickle_bytes(marker), name)))
        assert r.status_code == 400
        assert "pickled/torch.save files are refused" in r.json()["checkpoint"][0]
    assert not marker.exists()
    assert_nothing_stored(media)


def test_it_rejects_torch_save_file(api, omniglot, paper, media):
    r = post(api, claim(omniglot, paper, checkpoint=upload(torch_save_bytes(), "model.pth")))
    assert r.status_code == 400
    assert "safetensors" in r.json()["checkpoint"][0]
    assert_nothing_stored(media)


def test_it_rejects_renamed_text_file(api, omniglot, paper, media):
    text = upload(b"just some notes about my model\n" * 10)
    r = post(api, claim(omniglot, paper, checkpoint=text))
    assert r.status_code == 400
    assert "not a safetensors file" in r.json()["checkpoint"][0]
    assert_nothing_stored(media)


def test_it_rejects_truncated_safetensors(api, omniglot, paper, media):
    content = checkpoint_bytes()
    r = post(api, claim(omniglot, paper, checkpoint=upload(content[:-4096])))
    assert r.status_code == 400
    assert "truncated" in r.json()["checkpoint"][0]
    assert_nothing_stored(media)


def test_it_rejects_wrong_shapes(api, omniglot, paper, media):
    content = checkpoint_bytes(conv1__weight=torch.zeros(32, 1, 3, 3))
    r = post(api, claim(omniglot, paper, checkpoint=upload(content)))
    assert r.status_code == 400
    assert "conv1.weight has shape [32, 1, 3, 3]" in r.json()["checkpoint"][0]
    assert_nothing_stored(media)


def test_it_rejects_nan_weights(api, omniglot, paper, media):
    bias = torch.zeros(5)
    bias[0] = math.nan
    r = post(api, claim(omniglot, paper, checkpoint=upload(checkpoint_bytes(head__bias=bias))))
    assert r.status_code == 400
    assert_nothing_stored(media)


def test_it_rejects_oversized_upload_with_413(api, omniglot, paper, media, settings):
    settings.MAX_CHECKPOINT_BYTES = 64 * 1024  # the checkpoint is ~450 KB
    r = post(api, claim(omniglot, paper, checkpoint=upload(checkpoint_bytes())))
    assert r.status_code == 413
    assert "too large" in r.json()["checkpoint"][0]
    assert_nothing_stored(media)


def test_it_refuses_a_declared_oversized_body_unread(api, omniglot, paper, media, settings):
    settings.MAX_CHECKPOINT_BYTES = 1024
    big = upload(b"\0" * (1024 * 1024 + 4096))  # over the limit plus the form overhead
    r = post(api, claim(omniglot, paper, checkpoint=big))
    assert r.status_code == 413
    assert_nothing_stored(media)


def test_it_requires_a_checkpoint_for_an_evaluate_run(api, omniglot, paper):
    r = post(api, claim(omniglot, paper, kind="evaluate"))
    assert r.status_code == 400
    assert "checkpoint" in r.json()
    assert_nothing_stored()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "100.5"])
def test_it_rejects_bad_claimed_values(api, omniglot, paper, media, value):
    data = claim(omniglot, paper, claimed_value=value, checkpoint=upload(checkpoint_bytes()))
    r = post(api, data)
    assert r.status_code == 400
    assert "claimed_value" in r.json()
    assert_nothing_stored(media)


def test_it_accepts_an_mse_claim_and_rejects_a_negative_one(api, sinusoid, mse, paper):
    config = json.dumps({"meta_iterations": 10})
    data = claim(sinusoid, paper, metric="MSE", claimed_value="-0.1", config=config)
    assert post(api, data).status_code == 400
    assert_nothing_stored()
    data["claimed_value"] = "0.02"
    r = post(api, data)
    assert r.status_code == 201, r.content
    assert r.json()["run"]["protocol"] == "sinusoid-10shot"


def test_it_rejects_an_unknown_benchmark(api, omniglot, paper, media):
    data = claim(omniglot, paper, checkpoint=upload(checkpoint_bytes()))
    data["benchmark"] = "no-such-benchmark"
    r = post(api, data)
    assert r.status_code == 400
    assert "Unknown benchmark" in r.json()["benchmark"][0]
    assert_nothing_stored(media)


def test_it_rejects_a_metric_the_benchmark_lacks(api, omniglot, mse, paper, media):
    data = claim(omniglot, paper, metric="MSE", claimed_value="0.1")
    data["checkpoint"] = upload(checkpoint_bytes())
    r = post(api, data)
    assert r.status_code == 400
    assert "has no metric 'MSE'" in r.json()["metric"][0]
    assert_nothing_stored(media)


def test_it_creates_a_claim_for_a_new_paper(api, omniglot, accuracy):
    data = {
        "benchmark": omniglot.pk,
        "metric": accuracy.pk,
        "claimed_value": "90",
        "model_name": "MAML (ours)",
        "paper_title": "A New Paper",
        "paper_arxiv_id": "https://arxiv.org/abs/2401.01234v2",
        "paper_authors": "Ada Lovelace, Alan Turing",
        "paper_date": "2024-01-03",
        "checkpoint": upload(checkpoint_bytes()),
    }
    r = post(api, data)
    assert r.status_code == 201, r.content
    sub = Submission.objects.get()
    assert sub.paper is None
    assert sub.paper_arxiv_id == "2401.01234v2"
    assert sub.paper_url == "https://arxiv.org/abs/2401.01234v2"
    assert sub.paper_authors == ["Ada Lovelace", "Alan Turing"]
    assert str(sub.paper_date) == "2024-01-03"


def test_it_requires_a_paper(api, omniglot):
    data = {"benchmark": omniglot.slug, "metric": "Accuracy", "claimed_value": "50"}
    data.update(model_name="MAML", checkpoint=upload(checkpoint_bytes()))
    r = post(api, data)
    assert r.status_code == 400
    assert "paper" in r.json()
    assert_nothing_stored()


def test_it_rejects_a_bad_arxiv_id(api, omniglot):
    data = {"benchmark": omniglot.slug, "metric": "Accuracy", "claimed_value": "50"}
    data.update(model_name="MAML", paper_title="T", paper_arxiv_id="tomorrow")
    data["checkpoint"] = upload(checkpoint_bytes())
    r = post(api, data)
    assert r.status_code == 400
    assert "paper_arxiv_id" in r.json()
    assert_nothing_stored()


def test_it_requires_a_token(omniglot, paper, media):
    r = APIClient().post(URL, claim(omniglot, paper, checkpoint=upload(checkpoint_bytes())))
    assert r.status_code == 401
    assert "detail" in r.json()
    assert_nothing_stored(media)


def test_it_rejects_a_wrong_token(omniglot, paper, media):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    r = client.post(URL, claim(omniglot, paper, checkpoint=upload(checkpoint_bytes())))
    assert r.status_code == 401
    assert client.get(URL).status_code == 401
    assert_nothing_stored(media)


def make_submission(user, benchmark, paper, value=48.7):
    sub = Submission.objects.create(
        owner=user,
        benchmark=benchmark,
        metric=benchmark.metrics.get(),
        claimed_value=value,
        model_name="MAML",
        kind="evaluate",
        paper=paper,
        protocol="omniglot-5w1s",
    )
    Run.objects.create(submission=sub, protocol="omniglot-5w1s")
    return sub


def test_it_lists_only_the_callers_submissions(api, owner, other_user, omniglot, paper):
    mine = make_submission(owner, omniglot, paper)
    make_submission(other_user, omniglot, paper)
    r = api.get(URL)
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    assert [s["id"] for s in body["results"]] == [mine.pk]
    assert body["results"][0]["status"] == "queued"


def test_the_list_is_paginated(api, owner, omniglot, paper, settings):
    for i in range(3):
        make_submission(owner, omniglot, paper, value=40 + i)
    r = api.get(URL, {"page_size": 1})
    assert r.json()["count"] == 3
    assert len(r.json()["results"]) == 1
    assert r.json()["next"] is not None
    assert api.get("/api/submissions").status_code == 200  # no trailing slash needed


def test_it_hides_another_users_submission(api, other_user, omniglot, paper):
    theirs = make_submission(other_user, omniglot, paper)
    assert api.get(f"{URL}{theirs.pk}/").status_code == 404


def test_staff_may_read_any_submission(staff, other_user, omniglot, paper):
    theirs = make_submission(other_user, omniglot, paper)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert client.get(f"{URL}{theirs.pk}/").status_code == 200
    assert client.get(URL).json()["count"] == 0  # the list holds one's own


def test_detail_shows_the_run_record(api, owner, omniglot, paper):
    sub = make_submission(owner, omniglot, paper)
    Run.objects.filter(submission=sub).update(
        status=Run.Status.REJECTED,
        phase="done",
        progress_done=600,
        progress_total=600,
        log_tail="episode 600/600",
        reproduced_value=44.1,
        ci95=1.2,
        reason="The claim lies above the reproduced interval.",
        maml_ref_version="0.1.0",
        device="cpu",
        wall_seconds=12.5,
        evaluation_mode="transductive",
        episode_scores=[40.0, 48.2],
    )
    r = api.get(f"{URL}{sub.pk}/")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "rejected"
    run = body["run"]
    assert run["progress_percent"] == 100
    assert run["reproduced_value"] == 44.1
    assert run["ci95"] == 1.2
    assert run["reason"].startswith("The claim lies above")
    assert run["maml_ref_version"] == "0.1.0"
    assert run["device"] == "cpu"
    assert run["wall_seconds"] == 12.5
    assert run["evaluation_mode"] == "transductive"
    assert run["log_tail"] == "episode 600/600"
    assert run["episode_scores"] == [40.0, 48.2]
    assert "host" not in run and "worker" not in run


def test_it_stores_the_upload_under_media(api, omniglot, paper, media):
    r = post(api, claim(omniglot, paper, checkpoint=upload(checkpoint_bytes())))
    assert r.status_code == 201
    path = Path(Submission.objects.get().checkpoint.path)
    assert str(path).startswith(str(media))
    assert settings.MEDIA_ROOT == media


def test_it_rejects_an_unknown_evaluation_mode(api, omniglot, paper):
    data = claim(omniglot, paper, evaluation_mode="semi", checkpoint=upload(checkpoint_bytes()))
    r = post(api, data)
    assert r.status_code == 400
    assert "evaluation_mode" in r.json()
    assert_nothing_stored()


def test_it_refuses_an_oversized_json_body(api, omniglot, paper):
    data = claim(omniglot, paper, kind="reproduce", config={"notes": "x" * 400_000})
    r = post(api, data, fmt="json")
    assert r.status_code == 413
    assert "limited" in r.json()["detail"]
    assert_nothing_stored()


def test_the_browsable_api_renders_for_a_logged_in_user(client, owner, omniglot, paper):
    make_submission(owner, omniglot, paper)
    client.force_login(owner)
    r = client.get(URL, HTTP_ACCEPT="text/html")
    assert r.status_code == 200
    assert "claimed_value" in r.content.decode()
