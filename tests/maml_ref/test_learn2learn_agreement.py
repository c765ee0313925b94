"""Cross-implementation check: learn2learn 0.2.0's MAML, in its own virtualenv (built by
benchmarks/setup_peers.sh, cached under ~/.cache/verisota/peers), adapts a maml_ref checkpoint on
the first fixed Omniglot test episodes and must give maml_ref.evaluate's per-episode scores in
both evaluation modes; the logits maml_ref.evaluate computes must be closer to float64 than
learn2learn's (plain float32 autograd) on the same inputs, and maml_ref's float32 fast path (what
training runs) as close as learn2learn's.

The peer runs in a subprocess of that virtualenv (benchmarks/peers/learn2learn_eval.py);
tensors go both ways through .npz files. In CI (CI=true) a missing or broken peer virtualenv
fails the test (.ci/run builds it first, with .ci/tool_venvs.sh); elsewhere the test is skipped
with a message naming that script.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.peers.learn2learn_io import run_learn2learn
from maml_ref import model
from maml_ref.checkpoint import load_checkpoint, metadata_for, save_checkpoint
from maml_ref.data.loading import load_pool
from maml_ref.evaluate import _query_outputs, episode_outputs, evaluate_params, fixed_episodes
from maml_ref.maml import InnerLoop, adapt
from maml_ref.protocols import get_protocol
from maml_ref.train import TrainConfig, meta_train
from tests.tool_venvs import PEERS, tool_python

pytestmark = pytest.mark.slow  # meta-trains a checkpoint, runs learn2learn in its venv
PROTOCOL = get_protocol("omniglot-5w1s")
EPISODES = 60  # a slice of the 600 fixed test episodes


@pytest.fixture(scope="session")
def peer_python() -> Path:
    """The peers' virtualenv, built by ``.ci/tool_venvs.sh`` (benchmarks/setup_peers.sh), never
    here: a failure in CI, a skip naming the script elsewhere (tests/tool_venvs.py)."""
    return tool_python(PEERS)


@pytest.fixture(scope="module")
def checkpoint(omniglot, tmp_path_factory):
    """A short maml_ref meta-training (better than chance, so scores are not all ties)."""
    config = TrainConfig.from_dict({"iterations": 40, "meta_batch": 4}, PROTOCOL)
    params = meta_train(PROTOCOL, config, load_pool(PROTOCOL, "train"))
    path = tmp_path_factory.mktemp("l2l") / "maml_ref.safetensors"
    save_checkpoint(path, params, metadata_for(PROTOCOL))
    return path


@pytest.fixture(scope="module")
def omniglot(maml_cache, tmp_path_factory):
    from .conftest import omniglot_dir

    path = omniglot_dir()
    if path is None:
        pytest.skip("Omniglot data not found: set MAML_DATA_DIR")
    mp = pytest.MonkeyPatch()
    mp.setenv("MAML_DATA_DIR", str(path))
    mp.setenv("MAML_CACHE_DIR", str(maml_cache))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def both(checkpoint, peer_python, tmp_path_factory):
    """maml_ref's and learn2learn's results on the same episodes from the same checkpoint."""
    params = load_checkpoint(checkpoint, PROTOCOL).params
    pool = load_pool(PROTOCOL, "test")
    batch = fixed_episodes(PROTOCOL, pool, EPISODES).chunk(pool, 0, EPISODES, PROTOCOL.shots)
    work = tmp_path_factory.mktemp("l2l-io")  # nothing of this repository on the peer's path
    peer = run_learn2learn(peer_python, params, batch, PROTOCOL, work)
    assert str(peer["torch_version"]).startswith("2.13.0")

    ours = {"float64": _maml_ref_logits(params, batch, torch.float64)}
    record = _ReluSides()
    ours["float32"] = _maml_ref_logits(params, batch, torch.float32, record)
    replay = _ReluSides(record.masks)
    ours["float64_sides"] = _maml_ref_logits(params, batch, torch.float64, replay)
    assert replay.masks == []  # the float64 run made the same ReLU calls
    return params, pool, batch, peer, ours


class _ReluSides:
    """maml_ref's ReLU (``maml_ref.model._act``) recording its masks, or, given masks, applying
    them in the same call order: a float64 run that replays a float32 run's masks takes the
    float32 run's side at every kink (benchmarks/float32_error.py does the same)."""

    def __init__(self, masks: list | None = None):
        self.replay = masks is not None
        self.masks = masks if masks is not None else []

    def __call__(self, x):
        if self.replay:
            return x * self.masks.pop(0).to(x.dtype)
        self.masks.append(x.detach() > 0)
        return torch.relu(x)


def _maml_ref_logits(params, batch, dtype, relu: _ReluSides | None = None) -> np.ndarray:
    """maml_ref's float32 fast path (the training's arithmetic: the batched adaptation and
    forward) in ``dtype``, all of it; evaluate itself adapts in float64 (``episode_outputs``)."""
    inner = InnerLoop(PROTOCOL.inner_steps_test, PROTOCOL.inner_lr_test)
    p = {k: v.to(dtype) for k, v in params.items()}
    b = type(batch)(batch.support_x.to(dtype), batch.support_y, batch.query_x.to(dtype),
                    batch.query_y)  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        if relu is not None:
            mp.setattr(model, "_act", lambda arch: relu)
        fast = adapt(p, b.support_x, b.support_y, PROTOCOL.arch, inner, tasks=True, meta=False)
        with torch.no_grad():
            return _query_outputs(fast, b, PROTOCOL, True).double().numpy()


def _scores(logits: np.ndarray, y: torch.Tensor) -> list[float]:
    return ((logits.argmax(-1) == y.numpy()).mean(-1) * 100.0).tolist()


@pytest.mark.parametrize("transductive", [True, False], ids=["transductive", "per-example"])
def test_learn2learn_gives_maml_ref_evaluate_scores_episode_by_episode(both, transductive):
    """learn2learn's MAML in float64 (the exact computation: maml_ref's evaluation adapts in
    float64 too) gives evaluate's score on every episode, in both modes; so does its float32
    run on these episodes (a float32 run can change a prediction where a ReLU kink makes its
    adapted weights jump: one query in 3,000 on one set of 600 episodes, docs/maml_ref.md)."""
    params, pool, batch, peer, _ = both
    scores, _ = evaluate_params(
        params, PROTOCOL, pool, transductive=transductive, episodes=EPISODES
    )
    mode = "" if transductive else "single_"
    exact = _scores(peer[f"logits_{mode}float64"], batch.query_y)
    assert len(scores) == len(exact) == EPISODES
    assert scores == exact
    assert scores == _scores(peer[f"logits_{mode}float32"], batch.query_y)
    assert 20.0 < float(np.mean(scores)) < 100.0  # trained: not all chance, not all perfect


def _per_episode_error(logits32: np.ndarray, logits64: np.ndarray) -> np.ndarray:
    return np.abs(logits32 - logits64).max(axis=(1, 2))


def test_maml_ref_evaluate_logits_are_closer_to_float64_than_learn2learns_float32(both):
    """What ``maml_ref.evaluate`` computes (float64 adaptation, float32 query forward) against
    float64, unmatched at the kinks, beside learn2learn's plain float32 autograd on the same
    inputs: evaluate's worst episode is no worse than learn2learn's worst (the issue's bar) and
    no worse than learn2learn's median. Evaluate's error is one float32 forward of weights
    rounded to float32, nothing amplified by adaptation and no kink jumps: its longest sums (64 *
    9 terms) leave at most about sqrt(576) u = 1.4e-6 of the logits' scale; 2e-6 of the largest
    |logit| bounds it (seen: 1.5e-7 of it, 3.2e-6 at most, on four sets of 600 episodes, where
    learn2learn's median episodes were 5.5e-6 to 5.9e-6: docs/maml_ref.md).
    """
    params, _, batch, peer, ours = both
    inner = InnerLoop(PROTOCOL.inner_steps_test, PROTOCOL.inner_lr_test)
    logits = episode_outputs(params, batch, PROTOCOL, inner, transductive=True).double().numpy()
    mine = _per_episode_error(logits, ours["float64"])
    theirs = _per_episode_error(peer["logits_float32"], peer["logits_float64"])
    assert mine.max() <= theirs.max(), (mine.max(), theirs.max())
    assert mine.max() <= np.median(theirs), (mine.max(), np.median(theirs))
    assert mine.max() <= 2e-6 * np.abs(ours["float64"]).max(), mine.max()


def test_maml_ref_float32_logits_are_as_close_to_float64_as_learn2learns(both):
    """Both implementations' float32 evaluation logits against float64 on the same inputs (the
    same checkpoint, the same episodes), each float64 run taking its float32 run's side at every
    ReLU (the masks recorded and replayed), so that what is compared is round-off.

    Why the sides are matched: an adaptation step can put a pre-activation within round-off of
    0; float32 may then take the other side of the kink, and the adapted weights, so the logits,
    jump by a sizeable amount (seen: up to 2.6e-1 for plain float32 autograd, 7.1e-3 for
    maml_ref). Both float32 results are then as valid as float64's. Such episodes are rare (about
    1 in 100) and fall to one implementation or the other at random: on the 600 fixed episodes
    of a 300-iteration checkpoint and four sets of them, the largest unmatched error was
    maml_ref's on some sets and learn2learn's on others (docs/maml_ref.md), so a comparison of
    unmatched maxima measures luck and would fail on some seeds whichever is more accurate.

    The criterion, paired by episode: d_i = log(maml_ref's error_i / learn2learn's error_i). If
    maml_ref's round-off is no larger than learn2learn's, E[d] <= 0, and the mean of n
    independent d_i exceeds 0 by 4 standard errors (4 s / sqrt(n), s the d_i's own standard
    deviation) with probability about 3e-5 (normal approximation; the d_i are near-normal,
    s = 0.52 on 600 episodes): the bound holds on any seed of episodes or checkpoint. It fails
    if maml_ref is systematically worse by more than exp(4 s / sqrt(n)): about 1.3x here
    (n = 60). Seen 2026-12-02 on 600 episodes: mean d = +0.004 (the per-stage pre-activation
    round-off of both is the same: docs/maml_ref.md).
    """
    _, _, _, peer, ours = both
    # The two float64 runs are the same computation: they agree far below float32 round-off.
    assert np.abs(ours["float64"] - peer["logits_float64"]).max() < 1e-9
    mine = _per_episode_error(ours["float32"], ours["float64_sides"])
    theirs = _per_episode_error(peer["logits_float32"], peer["logits_float64_sides"])
    assert (mine > 0).all() and (theirs > 0).all()
    d = np.log(mine / theirs)
    bound = 4 * d.std(ddof=1) / np.sqrt(len(d))
    assert d.mean() <= bound, (d.mean(), bound, mine, theirs)
    # Matched sides leave round-off alone: far below a kink jump, for both.
    for errors in (mine, theirs):
        assert errors.max() < 1e-3, errors.max()
