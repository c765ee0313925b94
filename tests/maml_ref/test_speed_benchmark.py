"""benchmarks/maml_speed.py times only contenders that really meta-train: every meta-learned
tensor gets a gradient (none ``None``), the weights move, the meta-loss falls, and contenders
that compute the same algorithm agree. In the project's venv with maml_ref's two paths and a
deliberately broken contender; in the peers' venv with learn2learn and higher (whose default
``copy_initial_weights=True`` trained nothing)."""

import json
import subprocess
from pathlib import Path

import pytest
import torch

from benchmarks import maml_speed
from maml_ref.train import EpisodeStream, TrainConfig
from tests.maml_ref.test_learn2learn_agreement import peer_python  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def a_batch(pool, queries: int = 1):
    cfg = TrainConfig.from_dict({"queries": queries, "meta_batch": 4}, maml_speed.PROTOCOL)
    return EpisodeStream(maml_speed.PROTOCOL, cfg, pool).next()


def test_maml_refs_two_paths_pass_the_check_and_agree(synthetic_pool):
    found = maml_speed.contenders(False, ("maml_ref", "maml_ref per-task"))
    losses = maml_speed.check_contenders(found, a_batch(synthetic_pool), True)
    assert set(losses) == {"maml_ref", "maml_ref per-task"}
    assert losses["maml_ref"][0] == pytest.approx(losses["maml_ref per-task"][0], rel=1e-5)


def test_a_contender_whose_gradients_are_none_is_refused(synthetic_pool):
    """What higher's default did: the inner loop starts from detached copies of the weights,
    so the meta-gradient never reaches them."""
    model = maml_speed.ConvNet(
        maml_speed.init_params(maml_speed.ARCH, torch.Generator().manual_seed(0))
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(batch) -> float:
        copy = maml_speed.ConvNet(
            {k: v.detach() for k, v in maml_speed._module_params(model).items()}
        )
        loss = maml_speed._loss(copy(batch.query_x[0]), batch.query_y[0], 1)
        loss.backward()  # into the copy: the model's .grad stays None
        opt.step()
        return float(loss.detach())

    broken = maml_speed.Contender(step, lambda: maml_speed._module_params(model))
    with pytest.raises(maml_speed.ContenderError, match=r"no gradient \(None\) for bn1.bias"):
        maml_speed.check_contenders({"broken": broken}, a_batch(synthetic_pool), True)


def test_contenders_that_disagree_are_refused(synthetic_pool):
    found = maml_speed.contenders(False, ("maml_ref",))
    found["maml_ref per-task"] = maml_speed.contenders(True, ("maml_ref per-task",))[
        "maml_ref per-task"
    ]  # first order against second order: not the same meta-gradient
    with pytest.raises(maml_speed.ContenderError, match="disagree"):
        maml_speed.check_contenders(found, a_batch(synthetic_pool, queries=5), False)


@pytest.mark.slow
def test_learn2learn_and_higher_really_train_in_the_benchmark(peer_python, omniglot):  # noqa: F811
    out = subprocess.run(
        [str(peer_python), str(ROOT / "benchmarks" / "maml_speed.py"), "--check"]
        + ["--threads", "1", "--queries", "1", "--data-dir", str(omniglot)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["order"] for r in rows] == ["second", "first"]
    for row in rows:
        losses = row["meta_losses"]
        assert set(losses) == {"maml_ref", "maml_ref per-task", "learn2learn", "higher"}
        # higher computes learn2learn's algorithm: the same meta-losses, step after step.
        assert losses["higher"] == pytest.approx(losses["learn2learn"], rel=1e-4)
