"""A training on the run's page: iteration and total, meta-loss, time per 100 iterations and
time left, the validation curve (server-drawn SVG) in the page and in the JSON status the page
polls; a queued run's place in its queue."""

import re

import pytest

from evaluator.models import Run, Submission
from evaluator.training_chart import duration
from tests.evaluator.web_helpers import *  # noqa: F403 (fixtures)

TRAINING = {
    "iteration": 1200,
    "total": 60000,
    "resumed_from": 1000,
    "meta_loss": 0.84213,
    "query_accuracy": 71.25,
    "validation": [[0, 20.4], [500, 55.2], [1000, 71.9]],
    "seconds_per_100": 21.4,
    "seconds_left": 12642.0,
    "saved_at": 1100,
}


def reproduction(user, benchmark, paper, **run_fields) -> Submission:
    sub = Submission.objects.create(
        owner=user,
        benchmark=benchmark,
        metric=benchmark.metrics.get(),
        claimed_value=98.7,
        model_name="MAML",
        kind="reproduce",
        config={"meta_iterations": 60000},
        paper=paper,
        protocol="omniglot-5w1s",
    )
    Run.objects.create(submission=sub, protocol="omniglot-5w1s", **run_fields)
    return sub


def test_a_running_training_shows_its_figures_and_curve(client, owner, omniglot, paper):
    sub = reproduction(owner, omniglot, paper, status=Run.Status.RUNNING, training=TRAINING)
    client.force_login(owner)
    page = client.get(f"/submissions/{sub.pk}/").content.decode()
    assert re.search(r'id="training-iteration">1200 / 60000', page)
    assert "resumed from the state saved at iteration 1000" in page
    assert 'id="training-loss">0.8421' in page
    assert 'id="training-per-100">21 s<' in page
    assert 'id="training-left">3 h 30 min<' in page
    assert 'id="training-saved">iteration 1100' in page
    svg = re.search(r'<svg id="validation-curve".*?</svg>', page, re.S).group(0)
    assert svg.count("<circle") == 3 and 'class="curve"' in svg
    assert "iteration 1000: 71.9" in svg
    assert "<script" not in svg  # nothing for the strict CSP to refuse
    assert 'id="validation-latest">71.9%' in page
    # The curve's x axis is the whole run: the last point sits at 1000/60000 of the plot.
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    xs = [float(p.split(",")[0]) for p in points]
    assert xs == sorted(xs) and xs[-1] - xs[0] < 0.05 * 640


def test_the_status_json_carries_the_training_html(client, owner, omniglot, paper):
    sub = reproduction(owner, omniglot, paper, status=Run.Status.RUNNING, training=TRAINING)
    client.force_login(owner)
    data = client.get(f"/submissions/{sub.pk}/status/").json()
    assert 'id="validation-curve"' in data["training_html"]
    assert "3 h 30 min" in data["training_html"]
    assert data["queue_position"] is None
    Run.objects.filter(submission=sub).update(training={})
    data = client.get(f"/submissions/{sub.pk}/status/").json()
    assert data["training_html"].strip() == ""


def test_before_the_first_validation_it_says_the_curve_comes(client, owner, omniglot, paper):
    early = {**TRAINING, "validation": [], "seconds_per_100": None, "seconds_left": None}
    sub = reproduction(owner, omniglot, paper, status=Run.Status.RUNNING, training=early)
    client.force_login(owner)
    page = client.get(f"/submissions/{sub.pk}/").content.decode()
    assert 'id="validation-pending"' in page and 'id="validation-curve"' not in page
    assert 'id="training-left">—<' in page


def test_a_queued_run_shows_its_place_among_every_users_queued_runs(
    client, owner, other_user, omniglot, paper
):
    first = reproduction(other_user, omniglot, paper)
    mine = reproduction(owner, omniglot, paper)
    evaluation = Submission.objects.create(
        owner=other_user,
        benchmark=omniglot,
        metric=omniglot.metrics.get(),
        claimed_value=1,
        model_name="x",
        kind="evaluate",
        protocol="omniglot-5w1s",
    )
    Run.objects.create(submission=evaluation, protocol="omniglot-5w1s")  # the other queue
    client.force_login(owner)
    data = client.get(f"/submissions/{mine.pk}/status/").json()
    assert data["queue_position"] == 2
    page = client.get(f"/submissions/{mine.pk}/").content.decode()
    assert re.search(r'id="queue-position" class="queue-position">2<', page)
    assert "training (gpu) queue" in page
    Run.objects.filter(submission=first).update(status=Run.Status.RUNNING)
    assert client.get(f"/submissions/{mine.pk}/status/").json()["queue_position"] == 1
    Run.objects.filter(submission=mine).update(status=Run.Status.RUNNING)
    data = client.get(f"/submissions/{mine.pk}/status/").json()
    assert data["queue_position"] is None


def test_a_mse_curve_is_labelled_mse_without_percent(client, owner, sinusoid):
    training = {**TRAINING, "validation": [[0, 3.2], [500, 0.61]]}
    sub = Submission.objects.create(
        owner=owner,
        benchmark=sinusoid,
        metric=sinusoid.metrics.get(),
        claimed_value=0.5,
        model_name="MAML",
        kind="reproduce",
        config={},
        protocol="sinusoid-10shot",
    )
    Run.objects.create(submission=sub, status=Run.Status.RUNNING, training=training)
    client.force_login(owner)
    page = client.get(f"/submissions/{sub.pk}/").content.decode()
    assert "Validation MSE of" in page and 'id="validation-latest">0.61<' in page


@pytest.mark.parametrize(
    "seconds,words",
    [(None, ""), (0.4, "0 s"), (59.6, "1 min 00 s"), (3599, "59 min 59 s"), (7500, "2 h 05 min")],
)
def test_durations_read_as_words(seconds, words):
    assert duration(seconds) == words


def test_the_api_gives_the_training_of_a_run(owner, omniglot, paper):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    sub = reproduction(owner, omniglot, paper, status=Run.Status.RUNNING, training=TRAINING)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    run = api.get(f"/api/submissions/{sub.pk}/").json()["run"]
    assert run["training"] == TRAINING
    listed = api.get("/api/submissions/").json()["results"][0]["run"]
    assert "training" not in listed  # the list stays light: the curve is on the detail
