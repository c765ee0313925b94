"""Meta-training works: short runs on the CPU clearly beat their baselines on fixed episodes."""

import pytest
import torch

from maml_ref.api import evaluate_initialisation, run_reproduce
from maml_ref.data.loading import load_pool
from maml_ref.model import init_params
from maml_ref.protocols import get_protocol
from maml_ref.train import TrainConfig, meta_train, pretrain


def separated(better, worse, higher_is_better: bool) -> bool:
    """The two 95% intervals do not overlap, in the right direction."""
    if higher_is_better:
        return better.mean - better.ci95 > worse.mean + worse.ci95
    return better.mean + better.ci95 < worse.mean - worse.ci95


@pytest.mark.slow
@pytest.mark.parametrize("query_mode", ["auto", "manual"])
def test_short_omniglot_meta_training_beats_random_init(omniglot, query_mode):
    """400 meta-updates (8 tasks, 5 queries per class, meta step 3e-3 to get there in a couple of
    minutes) against the same network adapted from its random initialisation, both with the
    protocol's test-time inner loop on the first 200 fixed test episodes. "auto" takes the
    grouped autograd query pass for 25 query images, "manual" the hand-written one."""
    protocol = get_protocol("omniglot-5w1s")
    config = TrainConfig.from_dict(
        {
            "iterations": 400,
            "meta_batch": 8,
            "queries": 5,
            "meta_lr": 3e-3,
            "query_mode": query_mode,
        },
        protocol,
    )
    trained = meta_train(protocol, config, load_pool(protocol, "train"))
    random_init = init_params(protocol.arch, torch.Generator().manual_seed(config.seed))
    after = evaluate_initialisation(trained, protocol, episodes=200)
    before = evaluate_initialisation(random_init, protocol, episodes=200)
    assert after.mean > before.mean + 10, (after.mean, before.mean)
    assert separated(after, before, higher_is_better=True)


@pytest.mark.slow
def test_sinusoid_maml_beats_pretraining():
    """The paper's Figure 2 comparison, shortened: MAML and a network pretrained on all tasks,
    same initialisation, tasks and number of updates, each adapted with K=10 and 10 steps."""
    protocol = get_protocol("sinusoid-10shot")
    config = TrainConfig.from_dict({"iterations": 3000}, protocol)
    maml = evaluate_initialisation(meta_train(protocol, config, None), protocol)
    baseline = evaluate_initialisation(pretrain(protocol, config), protocol)
    assert maml.mean < 0.5 * baseline.mean, (maml.mean, baseline.mean)
    assert separated(maml, baseline, higher_is_better=False)


def test_run_reproduce_trains_then_evaluates_and_saves(tmp_path):
    seen = []
    out = tmp_path / "repro.safetensors"
    result = run_reproduce(
        {"iterations": 20, "meta_batch": 5},
        "sinusoid-10shot",
        progress=lambda *a: seen.append(a),
        checkpoint_out=out,
        episodes=30,
    )
    assert out.is_file() and result.episodes == 30 and result.metric == "mse"
    assert result.train["iterations"] == 20 and result.train["meta_batch"] == 5
    assert ("training", 20, 20) in seen and ("evaluating", 30, 30) in seen


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"iterations": 0}, "iterations must be an integer"),
        ({"inner_lr": "fast"}, "inner_lr must be a number"),
        ({"first_order": "yes"}, "first_order must be true or false"),
        ({"learning_rate": 0.1}, "unknown field"),
        ({"grad_clip": -1}, "grad_clip must be a positive number"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_train_config_names_the_bad_field(config, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(config, get_protocol("omniglot-5w1s"))


def test_train_config_defaults_are_the_protocols():
    p = get_protocol("miniimagenet-5w5s")
    cfg = TrainConfig.from_dict({}, p)
    assert (cfg.meta_batch, cfg.inner_steps, cfg.inner_lr, cfg.queries, cfg.grad_clip) == (
        2,
        5,
        0.01,
        15,
        10.0,
    )
    assert TrainConfig.from_dict({"first_order": True}, p).first_order is True
