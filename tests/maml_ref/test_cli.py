"""``python -m maml_ref``: protocols, train (and resume), evaluate --json, run as subprocesses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maml_ref.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maml_ref", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_protocols_lists_every_protocol():
    out = cli("protocols")
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


def test_train_resume_and_evaluate_json_on_sinusoid(tmp_path):
    first = tmp_path / "a.safetensors"
    out = cli(
        "train",
        "--protocol",
        "sinusoid-10shot",
        "--iterations",
        "5",
        "--meta-batch",
        "4",
        "--out",
        str(first),
    )
    assert out.returncode == 0, out.stderr
    meta = load_checkpoint(first).metadata
    assert (
        meta["iterations"] == 5
        and meta["train"]["meta_batch"] == 4
        and meta["protocol"] == "sinusoid-10shot"
    )

    second = tmp_path / "b.safetensors"
    out = cli(
        "train",
        "--protocol",
        "sinusoid-10shot",
        "--iterations",
        "8",
        "--resume",
        str(first),
        "--out",
        str(second),
    )
    assert out.returncode == 0, out.stderr
    assert load_checkpoint(second).metadata["iterations"] == 8

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
