"""``model-index`` blocks (leaderboard/core/model_index.py): a verified result exported for a model
card, and a block submitted back as claims (the form and the API), one claim per entry, each
checked on the artefact; hostile blocks refused with a 400 and nothing stored."""

import pytest
import yaml
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run, Submission
from leaderboard.core import model_index
from tests.evaluator.evidence_helpers import finished_run
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)
from tests.evaluator.web_helpers import checkpoint_bytes, upload


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def api(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


@pytest.fixture
def verified(owner):
    return finished_run(owner, scores=[60.0, 62.0] * 300, claimed=61.3).result


def _exported(client, result) -> str:
    response = client.get(f"/results/{result.pk}/model-index.yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/yaml")
    return response.content.decode()


def test_a_verified_result_exported_and_submitted_back_gives_the_same_claim(
    client, api, verified, paper
):
    text = _exported(client, verified)
    block = yaml.safe_load(text)
    (model,) = block["model-index"]
    (entry,) = model["results"]
    assert model["name"] == "MAML"
    assert entry["dataset"] == {"type": verified.benchmark.slug, "name": verified.benchmark.name}
    assert entry["metrics"][0]["value"] == verified.value == 61.0
    assert entry["source"]["url"].endswith(f"/results/{verified.pk}/evidence/")

    response = api.post(
        "/api/submissions/",
        {"model_index": text, "paper": paper.slug, "checkpoint": upload(checkpoint_bytes(seed=7))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    submission = Submission.objects.get(pk=body["id"])
    assert (submission.benchmark, submission.metric) == (verified.benchmark, verified.metric)
    assert submission.claimed_value == verified.value
    assert submission.model_name == verified.model.name
    assert body["batch"] == [submission.pk]


def test_the_form_takes_a_block_pasted_one_submission_per_claim(
    client, owner, verified, paper, omniglot
):
    text = _exported(client, verified)
    block = yaml.safe_load(text)
    second = dict(block["model-index"][0]["results"][0])
    second["metrics"] = [{"name": "Accuracy", "value": 60.5}]
    block["model-index"].append({"name": "MAML (second run)", "results": [second]})
    before = Submission.objects.count()
    client.force_login(owner)
    response = client.post(
        "/submit/",
        {
            "model_index": yaml.safe_dump(block),
            "evaluation_mode": "transductive",
            "paper": paper.pk,
            "kind": "evaluate",
            "checkpoint": upload(checkpoint_bytes(seed=8)),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    new = list(Submission.objects.order_by("id")[before:])
    assert [(s.model_name, s.claimed_value, s.benchmark_id) for s in new] == [
        ("MAML", verified.value, omniglot.pk),
        ("MAML (second run)", 60.5, omniglot.pk),
    ]
    assert Run.objects.filter(submission__in=new).count() == 2


def test_the_form_takes_a_block_uploaded(client, owner, verified, paper):
    client.force_login(owner)
    before = Submission.objects.count()
    response = client.post(
        "/submit/",
        {
            "model_index_file": upload(_exported(client, verified).encode(), "card.yaml"),
            "evaluation_mode": "transductive",
            "paper": paper.pk,
            "kind": "evaluate",
            "checkpoint": upload(checkpoint_bytes(seed=9)),
        },
    )
    assert response.status_code == 302
    assert Submission.objects.count() == before + 1


HOSTILE = {
    "python object": "!!python/object/apply:os.system ['touch /tmp/pwned']",
    "not yaml": "model-index: [unclosed",
    "not a list": "model-index: 3",
    "deep": "model-index: " + "[" * 40 + "]" * 40,
    "alias bomb": "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
    + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )  # fmt: skip
    + "model-index: [*i]\n",
    "too many": yaml.safe_dump(
        {
            "model-index": [
                {
                    "name": f"M{i}",
                    "results": [
                        {
                            "dataset": {"name": "OMNIGLOT - 1-Shot, 5-way"},
                            "metrics": [{"name": "Accuracy", "value": 50}],
                        }
                    ],
                }
                for i in range(model_index.MAX_ENTRIES + 1)
            ]
        }
    ),
    "unknown benchmark": "model-index:\n- name: M\n  results:\n  - dataset: {name: Nowhere}\n"
    "    metrics: [{name: Accuracy, value: 50}]\n",
    "text value": "model-index:\n- name: M\n  results:\n  - dataset: {name: 'OMNIGLOT - 1-Shot, "
    "5-way'}\n    metrics: [{name: Accuracy, value: lots}]\n",
    "huge exponent": "model-index:\n- name: M\n  results:\n  - dataset: {name: 'OMNIGLOT - 1-Shot,"
    " 5-way'}\n    metrics: [{name: Accuracy, value: 1e999}]\n",
    "out of range": "model-index:\n- name: M\n  results:\n  - dataset: {name: 'OMNIGLOT - 1-Shot,"
    " 5-way'}\n    metrics: [{name: Accuracy, value: 250}]\n",
    "NUL": 'model-index:\n- name: "M\\0"\n',
    "too large": "# " + "x" * model_index.MAX_BYTES + "\nmodel-index: []\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_block_is_a_400_and_stores_nothing(api, omniglot, paper, name):
    response = api.post(
        "/api/submissions/",
        {
            "model_index": HOSTILE[name],
            "paper": paper.slug,
            "checkpoint": upload(checkpoint_bytes(seed=3)),
        },
        format="multipart",
    )
    assert response.status_code == 400, (name, response.content)
    assert "model_index" in response.json(), response.json()
    assert Submission.objects.count() == 0


def test_a_block_and_the_claims_fields_together_are_refused(api, omniglot, paper):
    response = api.post(
        "/api/submissions/",
        {
            "model_index": "model-index: []",
            "claimed_value": "50",
            "paper": paper.slug,
            "checkpoint": upload(checkpoint_bytes(seed=3)),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert Submission.objects.count() == 0


def test_without_a_block_the_claims_fields_are_required(api, omniglot, paper):
    response = api.post(
        "/api/submissions/",
        {"paper": paper.slug, "checkpoint": upload(checkpoint_bytes(seed=3))},
        format="multipart",
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"benchmark", "metric", "claimed_value", "model_name"}


def test_only_verified_results_are_exported(client, omniglot, accuracy):
    from leaderboard.models import MLModel, Result

    archive = Result.objects.create(
        benchmark=omniglot, metric=accuracy, model=MLModel.objects.create(name="X", slug="x"),
        value=50.0,
    )  # fmt: skip
    assert client.get(f"/results/{archive.pk}/model-index.yaml").status_code == 404
    assert client.get(f"/badges/results/{archive.pk}.svg").status_code == 404
