"""Fixed episodes, the split, and evaluation: repeatable bit for bit, in both batch-norm modes."""

import json
import math
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from maml_ref import evaluate as evaluate_module
from maml_ref.api import evaluate_initialisation, run_evaluate
from maml_ref.checkpoint import metadata_for, save_checkpoint
from maml_ref.data.episodes import sample_indices
from maml_ref.data.loading import load_pool, resolve_data_dir, split_classes
from maml_ref.evaluate import _query_outputs, evaluate_params, fixed_episodes
from maml_ref.maml import InnerLoop, adapt
from maml_ref.protocols import PROTOCOLS, get_protocol

ROOT = Path(__file__).resolve().parents[2]
P5W1S = get_protocol("omniglot-5w1s")


@pytest.fixture
def chunks_of_10(monkeypatch):
    """Evaluation chunks of 10 episodes for omniglot-5w1s (100 at the real size): the threaded
    tests split a few dozen episodes into several chunks, as 600 are split into 6."""
    monkeypatch.setattr(evaluate_module, "IMAGES_PER_CHUNK", 100)
    assert evaluate_module._chunk_size(P5W1S, True) == 10


# sha256 of the indices of omniglot-5w1s's 600 test episodes over 423 classes x 20 drawers. If this
# changes, figures computed before are no longer comparable: change eval_seed's meaning knowingly.
EPISODES_5W1S = "4467bae7754d8fa8e963eac70b30d26e128479ca6e74acb6d1befd7d2854837f"


def test_fixed_episodes_are_identical_across_runs_and_processes():
    def indices():
        rng = np.random.default_rng(P5W1S.eval_seed)
        return sample_indices(rng, 423, 20, 600, 5, 1, P5W1S.test_queries, rotate=True)

    a, b = indices(), indices()
    assert np.array_equal(a.classes, b.classes) and np.array_equal(a.examples, b.examples)
    assert np.array_equal(a.rotations, b.rotations)
    code = (
        "import numpy as np; from maml_ref.data.episodes import sample_indices;"
        "rng = np.random.default_rng(20170306);"
        "print(sample_indices(rng, 423, 20, 600, 5, 1, 1, True).fingerprint())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == a.fingerprint() == EPISODES_5W1S


def test_episodes_have_distinct_classes_and_examples(synthetic_pool):
    fixed = fixed_episodes(P5W1S, synthetic_pool, 50)
    for t in range(50):
        assert len(set(fixed.index.classes[t])) == 5
        for j in range(5):
            assert len(set(fixed.index.examples[t, j])) == 2
    assert set(np.unique(fixed.index.rotations)) == {0, 1, 2, 3}


def test_fewer_episodes_are_a_prefix_of_the_full_set(synthetic_pool):
    full = fixed_episodes(P5W1S, synthetic_pool)
    part = fixed_episodes(P5W1S, synthetic_pool, 40)
    assert full.count == 600 and part.count == 40
    assert np.array_equal(full.index.examples[:40], part.index.examples)


def test_split_is_disjoint_and_complete():
    split = split_classes(1623, P5W1S)
    sets = {k: set(v.tolist()) for k, v in split.items()}
    assert [len(sets[k]) for k in ("train", "val", "test")] == [1100, 100, 423]
    assert not (
        sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"]
    )
    assert sets["train"] | sets["val"] | sets["test"] == set(range(1623))
    assert np.array_equal(split["test"], split_classes(1623, P5W1S)["test"])


def test_split_of_the_real_data_is_disjoint(omniglot):
    pools = {s: load_pool(P5W1S, s) for s in ("train", "val", "test")}
    ids = {s: set(p.class_ids) for s, p in pools.items()}
    assert [len(ids[s]) for s in ("train", "val", "test")] == [1100, 100, 423]
    assert not (ids["train"] & ids["test"] or ids["val"] & ids["test"] or ids["train"] & ids["val"])
    test = pools["test"].images
    assert test.shape == (423, 20, 1, 28, 28) and test.dtype == torch.uint8
    ink = test.float().mean().item() / 255
    assert 0.03 < ink < 0.3  # ink is high and sparse


def test_evaluation_is_repeatable_bit_for_bit(synthetic_pool, omniglot_params):
    for transductive in (True, False):
        a, fa = evaluate_params(
            omniglot_params, P5W1S, synthetic_pool, transductive=transductive, episodes=30
        )
        b, fb = evaluate_params(
            omniglot_params, P5W1S, synthetic_pool, transductive=transductive, episodes=30
        )
        assert a == b and fa.fingerprint == fb.fingerprint
        assert len(a) == 30 and all(0 <= s <= 100 for s in a)


def test_threaded_evaluation_gives_the_same_scores_for_any_worker_count(
    synthetic_pool, omniglot_params, chunks_of_10
):
    calls = []

    def progress(phase, done, total):
        calls.append((done, threading.current_thread() is threading.main_thread()))

    kw = {"transductive": True, "episodes": 25}  # 3 chunks of 10
    a, _ = evaluate_params(omniglot_params, P5W1S, synthetic_pool, workers=2, **kw)
    b, _ = evaluate_params(
        omniglot_params, P5W1S, synthetic_pool, workers=3, progress=progress, **kw
    )
    one, _ = evaluate_params(omniglot_params, P5W1S, synthetic_pool, workers=1, **kw)
    assert a == b and len(a) == 25
    assert statistics.mean(one) == pytest.approx(statistics.mean(a), abs=0.5)  # round-off only
    assert calls == [(0, True), (10, True), (20, True), (25, True)]


def test_a_progress_callback_that_raises_stops_the_evaluation(
    synthetic_pool, omniglot_params, chunks_of_10
):
    class Cancelled(Exception):
        pass

    seen = []

    def progress(phase, done, total):
        seen.append(done)
        if done >= 10:
            raise Cancelled

    with pytest.raises(Cancelled):
        evaluate_params(
            omniglot_params, P5W1S, synthetic_pool, episodes=50, workers=2, progress=progress
        )
    assert seen == [0, 10]


def test_run_evaluate_on_omniglot_is_repeatable_and_complete(omniglot, tmp_path, omniglot_params):
    path = tmp_path / "init.safetensors"
    save_checkpoint(path, omniglot_params, metadata_for(P5W1S))
    seen = []
    n = 30  # a few dozen of the 600 fixed episodes
    first = run_evaluate(path, "omniglot-5w1s", episodes=n, progress=lambda *a: seen.append(a))
    second = run_evaluate(path, "omniglot-5w1s", episodes=n, device="cpu")
    assert first.scores == second.scores and first.mean == second.mean
    assert first.episodes == n and first.protocol == "omniglot-5w1s" and first.transductive
    assert (
        first.queries == P5W1S.test_queries
        and first.seed == P5W1S.eval_seed
        and first.device == "cpu"
    )
    assert first.mean == pytest.approx(statistics.fmean(first.scores))
    assert first.ci95 == pytest.approx(1.96 * statistics.pstdev(first.scores) / math.sqrt(n))
    assert ("evaluating", n, n) in seen and seen[0][0] == "loading data"
    assert json.loads(json.dumps(first.to_dict()))["scores"] == first.scores


def test_non_transductive_mode_keeps_query_examples_apart(synthetic_pool, omniglot_params):
    fixed = fixed_episodes(P5W1S, synthetic_pool, 4)
    batch = fixed.chunk(synthetic_pool, 0, 4, P5W1S.shots)
    fast = adapt(
        omniglot_params,
        batch.support_x,
        batch.support_y,
        P5W1S.arch,
        InnerLoop(3, 0.4),
        tasks=True,
        meta=False,
    )
    changed = type(batch)(batch.support_x, batch.support_y, batch.query_x.clone(), batch.query_y)
    changed.query_x[:, 0] = 1.0 - changed.query_x[:, 0]
    with torch.no_grad():
        for transductive in (True, False):
            a = _query_outputs(fast, batch, P5W1S, transductive)
            b = _query_outputs(fast, changed, P5W1S, transductive)
            others_equal = torch.equal(a[:, 1:], b[:, 1:])
            assert others_equal is (not transductive)


def test_sinusoid_evaluation_needs_no_data(monkeypatch):
    monkeypatch.delenv("MAML_DATA_DIR", raising=False)
    protocol = get_protocol("sinusoid-10shot")
    from maml_ref.model import init_params

    params = init_params(protocol.arch, torch.Generator().manual_seed(0))
    result = evaluate_initialisation(params, protocol, episodes=50)
    assert result.metric == "mse" and result.episodes == 50 and result.mean > 0


def test_missing_data_dir_names_the_flag_the_variable_and_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv("MAML_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as exc:
        resolve_data_dir(P5W1S)
    message = str(exc.value)
    assert "$MAML_DATA_DIR" in message and "--data-dir" in message
    assert "python -m maml_ref download omniglot" in message and "pass data_dir" not in message
    with pytest.raises(FileNotFoundError, match="chosen by --data-dir"):
        resolve_data_dir(P5W1S, tmp_path)


def test_data_dir_is_the_flag_then_the_variable_then_the_shared_default(monkeypatch, tmp_path):
    from maml_ref import datadir

    monkeypatch.delenv("MAML_DATA_DIR", raising=False)
    root = Path(__file__).resolve().parents[2]
    assert datadir.data_dir() == root.parent / "shared" / "data" / "omniglot"
    monkeypatch.setenv("MAML_DATA_DIR", str(tmp_path / "env"))
    assert datadir.data_dir() == tmp_path / "env"
    assert datadir.data_dir(tmp_path / "flag") == tmp_path / "flag"


def test_protocol_registry_names_and_errors():
    assert list(PROTOCOLS) == [
        "omniglot-5w1s",
        "omniglot-5w5s",
        "omniglot-20w1s",
        "omniglot-20w5s",
        "sinusoid-10shot",
        "miniimagenet-5w1s",
        "miniimagenet-5w5s",
        "miniimagenet-5w1s-q15",
        "miniimagenet-5w5s-q15",
    ]
    with pytest.raises(KeyError, match="unknown protocol 'omniglot-5w2s'.*omniglot-5w1s"):
        get_protocol("omniglot-5w2s")
    p20 = get_protocol("omniglot-20w1s")
    assert (p20.meta_batch, p20.inner_steps_train, p20.inner_lr_train, p20.inner_steps_test) == (
        16,
        5,
        0.1,
        5,
    )
    assert (
        P5W1S.meta_batch,
        P5W1S.inner_lr_train,
        P5W1S.inner_steps_test,
        P5W1S.test_episodes,
    ) == (32, 0.4, 3, 600)
