"""``python -m maml_ref``: protocols, train (and resume), evaluate --json. The entry point and
Ctrl-C run as subprocesses (the process is what they test); the other calls run
``maml_ref.cli.main`` in this process (tests/maml_cli.py): arguments, output, exit codes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from maml_ref.checkpoint import load_checkpoint
from maml_ref.state import load_state
from tests.maml_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
cli = run_cli


def cli_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m maml_ref *args`` as a user runs it: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "maml_ref", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_protocols_lists_every_protocol():
    out = cli_process("protocols")
    assert out.returncode == 0, out.stderr
    names = [line.split()[0] for line in out.stdout.splitlines()]
    assert names == [
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


def train_sinusoid(out: Path, iterations: int, *extra: str) -> subprocess.CompletedProcess:
    return cli(
        "train",
        "--protocol",
        "sinusoid-10shot",
        "--iterations",
        str(iterations),
        "--meta-batch",
        "4",
        "--threads",
        "1",
        "--out",
        str(out),
        *extra,
    )


def same_weights(a: Path, b: Path) -> bool:
    pa, pb = load_checkpoint(a).params, load_checkpoint(b).params
    return pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)


def test_train_resume_and_evaluate_json_on_sinusoid(tmp_path):
    first = tmp_path / "a.safetensors"
    out = train_sinusoid(first, 5)
    assert out.returncode == 0, out.stderr
    meta = load_checkpoint(first).metadata
    assert (
        meta["iterations"] == 5
        and meta["train"]["meta_batch"] == 4
        and meta["protocol"] == "sinusoid-10shot"
    )
    assert load_state(tmp_path / "a.safetensors.state").iteration == 5  # beside the checkpoint

    # --resume continues the whole state (Adam's moments, the episode stream, the saved
    # configuration: --meta-batch is not repeated): the same weights as 8 iterations in one go.
    second = tmp_path / "b.safetensors"
    out = cli(
        "train",
        "--protocol",
        "sinusoid-10shot",
        "--iterations",
        "8",
        "--threads",
        "1",
        "--state",
        str(tmp_path / "a.safetensors.state"),
        "--resume",
        "--out",
        str(second),
    )
    assert out.returncode == 0, out.stderr
    assert "resuming from the training state at iteration 5" in out.stderr
    assert load_checkpoint(second).metadata["iterations"] == 8
    whole = tmp_path / "whole.safetensors"
    assert train_sinusoid(whole, 8).returncode == 0
    assert same_weights(second, whole)

    out = cli(
        "evaluate",
        "--checkpoint",
        str(second),
        "--protocol",
        "sinusoid-10shot",
        "--episodes",
        "20",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["mse"]["episodes"] == 20 and result["protocol"] == "sinusoid-10shot"
    assert result["mse"]["mean"] == pytest.approx(sum(result["scores"]) / 20)


def test_train_and_evaluate_omniglot_with_tiny_settings(tmp_path, omniglot):
    ckpt = tmp_path / "o.safetensors"
    out = cli(
        "train",
        "--protocol",
        "omniglot-5w1s",
        "--iterations",
        "2",
        "--meta-batch",
        "2",
        "--out",
        str(ckpt),
        "--threads",
        "1",
    )
    assert out.returncode == 0, out.stderr
    runs = []
    for mode in ("--transductive", "--no-transductive"):
        out = cli(
            "evaluate",
            "--checkpoint",
            str(ckpt),
            "--protocol",
            "omniglot-5w1s",
            "--episodes",
            "10",
            mode,
            "--json",
        )
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0]["accuracy"]["episodes"] == 10 and 0 <= runs[0]["accuracy"]["mean"] <= 100
    assert runs[0]["transductive"] is True and runs[1]["transductive"] is False
    assert runs[0]["queries"] == 1 and runs[0]["protocol"] == "omniglot-5w1s"


def test_evaluate_refuses_a_pickle_with_a_clear_error(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x04\x95\x00\x00")
    out = cli("evaluate", "--checkpoint", str(path), "--protocol", "omniglot-5w1s", "--json")
    assert out.returncode == 2
    assert "pickle or torch.save" in out.stderr and out.stdout == ""


def test_unknown_protocol_and_bad_option_values_are_errors(tmp_path):
    out = cli("train", "--protocol", "omniglot-9w9s", "--out", str(tmp_path / "x.safetensors"))
    assert out.returncode == 2 and "unknown protocol 'omniglot-9w9s'" in out.stderr
    out = cli(
        "train",
        "--protocol",
        "sinusoid-10shot",
        "--meta-batch",
        "0",
        "--out",
        str(tmp_path / "x.safetensors"),
    )
    assert out.returncode == 2 and "meta_batch must be an integer" in out.stderr


def test_resume_refuses_a_checkpoint_and_a_changed_recipe(tmp_path):
    first = tmp_path / "a.safetensors"
    assert train_sinusoid(first, 3).returncode == 0
    out = train_sinusoid(tmp_path / "b.safetensors", 6, "--resume", str(first))
    assert out.returncode == 2
    assert "a checkpoint (weights only), not a training state" in out.stderr
    state = str(tmp_path / "a.safetensors.state")
    out = train_sinusoid(tmp_path / "b.safetensors", 6, "--resume", state, "--meta-lr", "0.01")
    assert out.returncode == 2 and "differs in meta_lr" in out.stderr


def test_ctrl_c_keeps_the_state_and_resuming_it_ends_as_one_run(tmp_path):
    """SIGINT mid-training: the state of the last finished iteration is written, the command
    says how to continue; resumed, the run ends with the weights of one uninterrupted run."""
    out = tmp_path / "a.safetensors"
    state = tmp_path / "a.safetensors.state"
    cmd = [sys.executable, "-m", "maml_ref", "train", "--protocol", "sinusoid-10shot"]
    cmd += ["--iterations", "1000000", "--meta-batch", "4", "--threads", "1", "--quiet"]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), "--state-every", "0.2"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, whatever this process inherited (a SIGINT ignored by the
        # process that started pytest would be ignored by the command too).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert state.exists(), "no state written"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # never leave a million-iteration run behind
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "continue with --resume" in err and not out.exists()
    stopped = load_state(state).iteration
    assert 0 < stopped < 1_000_000
    resumed = tmp_path / "r.safetensors"
    done = train_sinusoid(resumed, stopped + 7, "--state", str(state), "--resume")
    assert done.returncode == 0, done.stderr
    whole = tmp_path / "whole.safetensors"
    assert train_sinusoid(whole, stopped + 7).returncode == 0
    assert same_weights(resumed, whole)
