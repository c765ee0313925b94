"""Where no CUDA device exists (CI, this machine), the `gpu` tests are a clean skip whose reason
names the marker: collected, none run, none fails."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here: the gpu tests run")
def test_the_gpu_tests_skip_cleanly_naming_their_marker():
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
        + [str(ROOT / "tests" / "maml_ref" / "test_gpu.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    summary = out.stdout.strip().splitlines()[-1]
    assert "skipped" in summary and "passed" not in summary and "failed" not in summary
    skips = [line for line in out.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skips) == 1 and "[5]" in skips[0]  # all five, for one reason
    assert "marker `gpu`: needs a CUDA device" in skips[0]
