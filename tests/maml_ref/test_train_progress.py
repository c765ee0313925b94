"""What meta_train reports to a progress bar (TrainProgress), and the bar of ``python -m maml_ref
train`` on the real Omniglot data: shown at once, a rate from real iterations, the running
meta-loss and query accuracy, ``--eval-every`` lines with the 95% interval."""

import json
import re

import pytest
import torch

from maml_ref.maml import InnerLoop, adapt
from maml_ref.model import forward, init_params
from maml_ref.protocols import get_protocol
from maml_ref.train import LOSS_WINDOW, EpisodeStream, TrainConfig, meta_train

from .test_cli import cli_process

PROTOCOL = get_protocol("omniglot-5w1s")


def small_config(**overrides) -> TrainConfig:
    return TrainConfig.from_dict({"iterations": 12, "meta_batch": 3, **overrides}, PROTOCOL)


def train_recording(pool, config, **kwargs):
    reports, losses = [], []
    params = meta_train(
        PROTOCOL,
        config,
        pool,
        on_iteration=lambda i, loss, _p: losses.append(loss),
        on_progress=reports.append,
        accuracy_every=5,
        **kwargs,
    )
    return params, reports, losses


def per_task_accuracy(params, batch, inner) -> float:
    """The query accuracy of the first batch, one task at a time (not the batched code path)."""
    right = total = 0
    for t in range(batch.tasks):
        fast = adapt(
            params,
            batch.support_x[t],
            batch.support_y[t],
            PROTOCOL.arch,
            inner,
            tasks=False,
            meta=False,
        )
        with torch.no_grad():
            out = forward(fast, batch.query_x[t], PROTOCOL.arch)
        right += int((out.argmax(-1) == batch.query_y[t]).sum())
        total += batch.query_y[t].numel()
    return 100.0 * right / total


def test_it_reports_every_iteration_with_the_running_loss_and_the_query_accuracy(synthetic_pool):
    config = small_config()
    _params, reports, losses = train_recording(synthetic_pool, config)
    assert [r.iteration for r in reports] == list(range(1, 13))
    assert all(r.total == 12 and r.start == 0 for r in reports)
    for r in reports:
        window = losses[max(0, r.iteration - LOSS_WINDOW) : r.iteration]
        assert r.meta_loss == pytest.approx(sum(window) / len(window))
    # Measured on the first iteration, every 5th and the last; carried in between.
    assert [r.accuracy_iteration for r in reports] == [1, 1, 1, 1, 5, 5, 5, 5, 5, 10, 10, 12]
    queries = config.meta_batch * PROTOCOL.ways * config.queries
    for r in reports:
        assert 0 <= r.query_accuracy <= 100
        assert (r.query_accuracy * queries / 100) == pytest.approx(
            round(r.query_accuracy * queries / 100)
        )
    # The first one is the query accuracy of the first batch's adapted weights.
    first = EpisodeStream(PROTOCOL, config, synthetic_pool).next()
    init = init_params(PROTOCOL.arch, torch.Generator().manual_seed(config.seed))
    inner = InnerLoop(config.inner_steps, config.inner_lr, config.first_order)
    expected = per_task_accuracy(init, first, inner)
    assert reports[0].query_accuracy == pytest.approx(expected, abs=100 / queries + 1e-9)


def test_its_rate_is_the_iterations_done_over_the_time_they_took(synthetic_pool):
    _params, reports, _losses = train_recording(synthetic_pool, small_config())
    seconds = [r.seconds for r in reports]
    assert seconds == sorted(seconds) and seconds[0] > 0
    for r in reports:
        assert r.rate == pytest.approx(r.iteration / r.seconds)


def test_a_resumed_run_counts_only_its_own_iterations_in_the_rate(synthetic_pool):
    _params, reports, _losses = train_recording(synthetic_pool, small_config(), start=8)
    assert [r.iteration for r in reports] == [9, 10, 11, 12]
    assert reports[0].accuracy_iteration == 9 and reports[0].start == 8
    assert reports[-1].rate == pytest.approx(4 / reports[-1].seconds)


def test_measuring_the_accuracy_leaves_the_training_unchanged(synthetic_pool):
    config = small_config(iterations=6)
    watched, _reports, _losses = train_recording(synthetic_pool, config)
    plain = meta_train(PROTOCOL, config, synthetic_pool)
    for name, value in plain.items():
        assert torch.equal(watched[name], value), name


def test_a_regression_run_reports_no_accuracy():
    protocol = get_protocol("sinusoid-10shot")
    reports = []
    config = TrainConfig.from_dict({"iterations": 3, "meta_batch": 2}, protocol)
    meta_train(protocol, config, None, on_progress=reports.append)
    assert [r.iteration for r in reports] == [1, 2, 3]
    assert all(r.query_accuracy is None and r.meta_loss > 0 for r in reports)


BAR = re.compile(r"training:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) \[[^,]*,\s*([\d.]+)(it/s|s/it)(.*)\]")
EVAL_LINE = re.compile(
    r"iteration (\d+): val accuracy ([\d.]+)% \+/- ([\d.]+) \(95% interval, (\d+) episodes\)"
)


def test_the_cli_shows_loading_then_a_bar_with_a_sane_rate_loss_and_accuracy(tmp_path, omniglot):
    out = cli_process(  # the bar as a terminal shows it: tqdm in a process of its own
        "train",
        "--protocol",
        "omniglot-5w1s",
        "--iterations",
        "6",
        "--meta-batch",
        "4",
        "--eval-every",
        "3",
        "--eval-episodes",
        "20",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "w.safetensors"),
    )
    assert out.returncode == 0, out.stderr
    frames = [f.strip() for f in re.split(r"[\r\n]", out.stderr) if f.strip()]
    loading = next(i for i, f in enumerate(frames) if f.startswith("loading the train classes"))
    loaded = next(i for i, f in enumerate(frames) if f.startswith("loaded 1100 train classes"))
    first_bar = next(i for i, f in enumerate(frames) if f.startswith("training:"))
    assert loading < loaded < first_bar
    assert "0/6" in frames[first_bar]  # shown before the first meta-update ends

    bars = [m for m in map(BAR.search, frames) if m]
    last = bars[-1]
    assert last.group(1, 2) == ("6", "6")
    assert re.search(r"meta_loss=\d+\.\d{4}", last.group(5))
    assert re.search(r"query_acc=\d+\.\d%", last.group(5))
    rate = float(last.group(3))
    its_per_s = rate if last.group(4) == "it/s" else 1 / rate
    seconds = float(re.search(r"\(6 in ([\d.]+) s\)", out.stderr).group(1))
    # The bar's time leaves out the two evaluations, so it is at most the whole loop's.
    assert 0.9 * 6 / seconds <= its_per_s <= 20 * 6 / seconds, (its_per_s, seconds)

    evals = [m.groups() for m in map(EVAL_LINE.search, frames) if m]
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [int(e[0]) for e in evals] == [r["iteration"] for r in records] == [3, 6]
    for (_i, mean, ci95, episodes), record in zip(evals, records, strict=True):
        assert int(episodes) == record["episodes"] == 20
        assert float(mean) == pytest.approx(record["accuracy"], abs=0.005)
        assert float(ci95) == pytest.approx(record["ci95"], abs=0.005)
        assert 0 < record["ci95"] < 50 and 0 <= record["accuracy"] <= 100


def test_the_cli_shows_a_bar_while_a_first_use_resizes_the_images(tmp_path, omniglot):
    # A process of its own: in this one the resized arrays may already be loaded.
    out = cli_process(
        *("train", "--protocol", "omniglot-5w1s", "--iterations", "1", "--meta-batch", "2"),
        *("--threads", "1", "--out", str(tmp_path / "w.safetensors")),
        env={"MAML_CACHE_DIR": str(tmp_path / "empty-cache")},  # no resized array yet
    )
    assert out.returncode == 0, out.stderr
    frames = [f.strip() for f in re.split(r"[\r\n]", out.stderr) if f.strip()]
    loading = next(i for i, f in enumerate(frames) if f.startswith("loading the train classes"))
    resizing = [i for i, f in enumerate(frames) if f.startswith("resizing images_")]
    loaded = next(i for i, f in enumerate(frames) if f.startswith("loaded 1100 train classes"))
    assert resizing and loading < resizing[0] and resizing[-1] < loaded
    names = {frames[i].split(":")[0] for i in resizing}
    assert names == {f"resizing images_{p}.{omniglot_suffix(omniglot)}" for p in PARTS}
    # Each bar counts its file's characters (npz) or drawings (zip): 964 + 659 characters.
    totals = {int(m.group(1)) for i in resizing if (m := re.search(r"\d+/(\d+) \[", frames[i]))}
    assert totals == ({964, 659} if omniglot_suffix(omniglot) == "npz" else {964 * 20, 659 * 20})
    assert list((tmp_path / "empty-cache").glob("omniglot28-*.npy"))  # and the cache is written


PARTS = ("background", "evaluation")


def omniglot_suffix(folder) -> str:
    return "npz" if (folder / "images_background.npz").is_file() else "zip"
