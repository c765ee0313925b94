"""The project's side of benchmarks/peers/learn2learn_eval.py: write its input, run it in the
peers' virtualenv, read its output. Used by benchmarks/float32_error.py and by the suite's
cross-implementation test (tests/maml_ref/test_learn2learn_agreement.py), so both hand the peer
exactly the same file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np

PEER = Path(__file__).resolve().parent / "learn2learn_eval.py"
SETUP = Path(__file__).resolve().parent.parent / "setup_peers.sh"


def peers_venv() -> Path:
    """The peers' virtualenv: $VERISOTA_PEERS_VENV, else the cache folder named after
    setup_peers.sh's content (a changed script builds a new one), as ``.ci/tool_venvs.sh``
    names it (under $VERISOTA_CACHE_DIR, else ~/.cache/verisota)."""
    if os.environ.get("VERISOTA_PEERS_VENV"):
        return Path(os.environ["VERISOTA_PEERS_VENV"])
    digest = hashlib.sha256(SETUP.read_bytes()).hexdigest()[:12]
    root = Path(os.environ.get("VERISOTA_CACHE_DIR") or Path.home() / ".cache" / "verisota")
    return root / "peers" / f"venv-{digest}"


def write_input(path: Path, params: dict, batch, protocol) -> None:
    """Episodes (float64 images), the protocol's test-time inner loop and the weights (float64,
    ``p:<name>``), in the layout learn2learn_eval.py reads."""
    np.savez(
        path,
        support_x=batch.support_x.double().numpy(),
        support_y=batch.support_y.numpy(),
        query_x=batch.query_x.double().numpy(),
        query_y=batch.query_y.numpy(),
        config=np.array(
            [protocol.ways, protocol.shots, protocol.inner_steps_test, protocol.inner_lr_test]
        ),
        **{f"p:{k}": v.detach().double().numpy() for k, v in params.items()},
    )


def run_learn2learn(python: Path, params: dict, batch, protocol, work: Path) -> dict:
    """learn2learn's logits for ``batch`` (every array learn2learn_eval.py writes), computed by
    ``python`` (the peers' virtualenv) in ``work``, a folder with nothing of this repository in
    it. Raises ``RuntimeError`` with the peer's stderr if it fails."""
    src, dst = work / "in.npz", work / "out.npz"
    write_input(src, params, batch, protocol)
    run = subprocess.run(
        [str(python), str(PEER), str(src), str(dst)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=work,
    )
    if run.returncode != 0:
        raise RuntimeError(f"learn2learn_eval.py failed: {run.stderr[-2000:]}")
    return dict(np.load(dst))
