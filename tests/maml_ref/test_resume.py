"""Resumable meta-training: the full state (parameters, Adam's moments and steps, the episode
stream's position, torch's generators, the running loss, the validation curve) is written
atomically as a run goes; a run stopped at any iteration and resumed from its last state ends
with the same parameters, bit for bit on the CPU, as one that ran in one go. Also the fixed task
pool (``task_pool``), whose position is part of the state."""

import logging
import os
import struct

import pytest
import torch

from maml_ref.protocols import get_protocol
from maml_ref.state import StateError, load_state, save_state
from maml_ref.train import EpisodeStream, TrainConfig, meta_train

PROTOCOL = get_protocol("omniglot-5w1s")
SINUSOID = get_protocol("sinusoid-10shot")


class Stop(Exception):
    """Raised by a callback, as a cancelled run's progress report raises."""


def config(**overrides) -> TrainConfig:
    return TrainConfig.from_dict({"iterations": 9, "meta_batch": 3, **overrides}, PROTOCOL)


def stop_at(iteration: int):
    def on_progress(p):
        if p.iteration == iteration:
            raise Stop()

    return on_progress


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def validation_of(params) -> float:
    """A deterministic stand-in for a validation figure (no random numbers drawn)."""
    return float(sum(v.detach().double().abs().sum() for v in params.values()))


@pytest.mark.parametrize("stop", [1, 4, 8])
def test_a_run_stopped_at_any_iteration_and_resumed_equals_one_run_in_one_go(
    synthetic_pool, tmp_path, stop
):
    cfg = config()
    whole = meta_train(PROTOCOL, cfg, synthetic_pool)
    path = tmp_path / "run.state"
    with pytest.raises(Stop):
        meta_train(
            PROTOCOL, cfg, synthetic_pool, state_path=path, on_progress=stop_at(stop)
        )  # the default interval (minutes) has not passed: saved on stopping
    state = load_state(path)
    assert state.iteration == stop
    assert set(state.optimizer) == set(whole)
    for slots in state.optimizer.values():  # Adam's moments and its step count, not restarted
        assert set(slots) == {"step", "exp_avg", "exp_avg_sq"}
        assert float(slots["step"]) == stop
    resumed = meta_train(PROTOCOL, cfg, synthetic_pool, resume=state)
    assert_same(resumed, whole)


def test_a_resume_from_the_weights_alone_is_not_the_same_run(synthetic_pool, tmp_path):
    """What the old ``--resume`` did (weights and iteration, fresh Adam and a reseeded stream)
    differs: the state's other parts matter, so the equality above is not vacuous."""
    cfg = config()
    whole = meta_train(PROTOCOL, cfg, synthetic_pool)
    path = tmp_path / "run.state"
    with pytest.raises(Stop):
        meta_train(PROTOCOL, cfg, synthetic_pool, state_path=path, on_progress=stop_at(4))
    state = load_state(path)
    weights_only = meta_train(PROTOCOL, cfg, synthetic_pool, init=state.params, start=4)
    assert any(not torch.equal(weights_only[k], whole[k]) for k in whole)


def test_the_state_is_saved_at_the_interval_and_at_the_end(synthetic_pool, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="maml_ref")
    path = tmp_path / "run.state"
    saved = []
    meta_train(
        PROTOCOL,
        config(iterations=5),
        synthetic_pool,
        state_path=path,
        state_every=0,
        on_progress=lambda p: saved.append(p.saved_at),
    )
    # Every iteration's report names the last state saved before it (0 = none yet).
    assert saved == [None, 1, 2, 3, 4]
    assert load_state(path).iteration == 5
    assert [r.getMessage() for r in caplog.records if "state saved" in r.getMessage()] == [
        f"training state saved at iteration {i}/5" for i in range(1, 6)
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["run.state"]  # no temporary file left


def test_a_killed_write_leaves_the_previous_state(synthetic_pool, tmp_path, monkeypatch):
    """The write is atomic: a failure before the rename (a killed process, a full disk) leaves
    the previous state whole and no temporary file."""
    path = tmp_path / "run.state"
    with pytest.raises(Stop):
        meta_train(PROTOCOL, config(), synthetic_pool, state_path=path, on_progress=stop_at(3))
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_state(path, load_state(path))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.state"]


def test_the_validation_curve_and_the_running_loss_survive_a_resume(synthetic_pool, tmp_path):
    cfg = config()
    reports = []
    meta_train(
        PROTOCOL,
        cfg,
        synthetic_pool,
        on_progress=reports.append,
        validate=validation_of,
        validate_every=3,
    )
    path = tmp_path / "run.state"
    with pytest.raises(Stop):
        meta_train(
            PROTOCOL,
            cfg,
            synthetic_pool,
            state_path=path,
            on_progress=stop_at(5),
            validate=validation_of,
            validate_every=3,
        )
    later = []
    meta_train(
        PROTOCOL,
        cfg,
        synthetic_pool,
        resume=load_state(path),
        on_progress=later.append,
        validate=validation_of,
        validate_every=3,
    )
    assert [i for i, _ in reports[-1].validation] == [0, 3, 6, 9]
    assert later[-1].validation == reports[-1].validation
    assert [r.meta_loss for r in later] == [r.meta_loss for r in reports[5:]]
    assert later[0].start == 5 and later[0].iteration == 6
    assert later[0].query_accuracy == reports[5].query_accuracy


def test_a_state_continues_only_the_same_recipe(synthetic_pool, tmp_path):
    path = tmp_path / "run.state"
    with pytest.raises(Stop):
        meta_train(PROTOCOL, config(), synthetic_pool, state_path=path, on_progress=stop_at(4))
    state = load_state(path)
    with pytest.raises(ValueError, match="differs in meta_lr"):
        meta_train(PROTOCOL, config(meta_lr=0.01), synthetic_pool, resume=state)
    with pytest.raises(ValueError, match="past the run's 3"):
        meta_train(PROTOCOL, config(iterations=3), synthetic_pool, resume=state)
    # A longer run of the same recipe continues it (iterations may grow).
    longer = meta_train(PROTOCOL, config(iterations=12), synthetic_pool, resume=state)
    assert_same(longer, meta_train(PROTOCOL, config(iterations=12), synthetic_pool))


def test_a_sinusoid_run_resumes_exactly_too(tmp_path):
    cfg = TrainConfig.from_dict({"iterations": 20, "meta_batch": 4}, SINUSOID)
    whole = meta_train(SINUSOID, cfg, None)
    path = tmp_path / "s.state"
    with pytest.raises(Stop):
        meta_train(SINUSOID, cfg, None, state_path=path, on_progress=stop_at(11))
    assert_same(meta_train(SINUSOID, cfg, None, resume=load_state(path)), whole)


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"\x80\x04K\x01." + raw[5:],  # a pickle's opening bytes
        lambda raw: struct.pack("<Q", 1 << 40) + raw[8:],  # a header length beyond the file
        lambda raw: raw.replace(b'\\"format\\": 1', b'\\"format\\": 9'),  # another layout
    ],
)
def test_a_damaged_state_is_refused_with_a_reason(synthetic_pool, tmp_path, damage):
    path = tmp_path / "run.state"
    with pytest.raises(Stop):
        meta_train(PROTOCOL, config(), synthetic_pool, state_path=path, on_progress=stop_at(2))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(StateError, match="run.state"):
        load_state(path)


def test_the_task_pool_cycles_through_fixed_tasks_with_fresh_rotations(synthetic_pool):
    cfg = config(task_pool=5, meta_batch=2)
    stream = EpisodeStream(PROTOCOL, cfg, synthetic_pool)
    first = [stream._pool_tasks() for _ in range(5)]  # 10 tasks: the pool of 5, twice
    again = EpisodeStream(PROTOCOL, cfg, synthetic_pool)
    assert all(
        (a.classes == b.classes).all()
        for a, b in zip(first, [again._pool_tasks() for _ in range(5)], strict=True)
    )  # the same seed names the same pool
    classes = [row for batch in first for row in batch.classes.tolist()]
    examples = [row for batch in first for row in batch.examples.tolist()]
    assert classes[:5] == classes[5:] and examples[:5] == examples[5:]  # cycled in order
    assert len({tuple(c) for c in classes[:5]}) == 5  # five different tasks
    rotations = [row for batch in first for row in batch.rotations.tolist()]
    assert rotations[:5] != rotations[5:]  # drawn afresh at each use


def test_a_pooled_run_resumes_at_its_pool_position(synthetic_pool, tmp_path):
    cfg = config(task_pool=7)
    whole = meta_train(PROTOCOL, cfg, synthetic_pool)
    path = tmp_path / "run.state"
    with pytest.raises(Stop):
        meta_train(PROTOCOL, cfg, synthetic_pool, state_path=path, on_progress=stop_at(4))
    state = load_state(path)
    assert state.stream["cursor"] == (4 * 3) % 7
    assert_same(meta_train(PROTOCOL, cfg, synthetic_pool, resume=state), whole)
    fresh = meta_train(PROTOCOL, config(), synthetic_pool)  # the default: fresh tasks
    assert any(not torch.equal(whole[k], v) for k, v in fresh.items())


def test_task_pool_is_refused_for_sinusoid_and_bounded():
    with pytest.raises(ValueError, match="fresh sinusoid tasks"):
        TrainConfig.from_dict({"task_pool": 10}, SINUSOID)
    with pytest.raises(ValueError, match="task_pool must be an integer"):
        TrainConfig.from_dict({"task_pool": -1}, PROTOCOL)
    assert TrainConfig.from_protocol(PROTOCOL).task_pool == 0  # fresh tasks by default
