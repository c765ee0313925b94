"""Float32 logit error of maml_ref's evaluation and of learn2learn's MAML against float64, on the
same fixed Omniglot episodes from the same checkpoint.

    python benchmarks/float32_error.py --checkpoint CKPT [--episodes 600] [--peers-venv DIR]

learn2learn runs in its own virtualenv (benchmarks/setup_peers.sh; default: $VERISOTA_PEERS_VENV
or the cache folder the tests and .ci/run use) through benchmarks/peers/learn2learn_eval.py.
Prints, for each implementation, the per-episode largest absolute logit error (float32 against
that implementation's float64 run): median, 90th, 99th percentile, largest and its episode, and
the episodes whose prediction changed. The largest episode is decided by ReLU kinks (a
pre-activation within round-off of 0 after an adaptation step; docs/maml_ref.md), the quantiles
by round-off.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maml_ref.checkpoint import load_checkpoint  # noqa: E402
from maml_ref.data.loading import load_pool  # noqa: E402
from maml_ref.evaluate import _query_outputs, fixed_episodes  # noqa: E402
from maml_ref.maml import InnerLoop, adapt  # noqa: E402
from maml_ref.protocols import get_protocol  # noqa: E402

PROTOCOL = get_protocol("omniglot-5w1s")


def default_venv() -> Path:
    if os.environ.get("VERISOTA_PEERS_VENV"):
        return Path(os.environ["VERISOTA_PEERS_VENV"])
    key = hashlib.sha256((ROOT / "benchmarks" / "setup_peers.sh").read_bytes()).hexdigest()[:12]
    return Path.home() / ".cache" / "verisota" / "peers" / f"venv-{key}"


def maml_ref_logits(params, batch, dtype):
    inner = InnerLoop(PROTOCOL.inner_steps_test, PROTOCOL.inner_lr_test)
    p = {k: v.to(dtype) for k, v in params.items()}
    b = type(batch)(
        batch.support_x.to(dtype), batch.support_y, batch.query_x.to(dtype), batch.query_y
    )
    fast = adapt(p, b.support_x, b.support_y, PROTOCOL.arch, inner, tasks=True, meta=False)
    with torch.no_grad():
        return _query_outputs(fast, b, PROTOCOL, True).double().numpy()


def summary(name: str, l32: np.ndarray, l64: np.ndarray) -> None:
    e = np.abs(l32 - l64).max(axis=(1, 2))
    flips = int((l32.argmax(-1) != l64.argmax(-1)).sum())
    q = np.percentile(e, [50, 90, 99])
    print(
        f"{name:12s} median {q[0]:.2e}  p90 {q[1]:.2e}  p99 {q[2]:.2e}  "
        f"max {e.max():.2e} (episode {int(e.argmax())})  predictions changed: {flips}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--episodes", type=int, default=600)
    ap.add_argument("--peers-venv", type=Path, default=None)
    ap.add_argument("--data-dir", default=None, help="default: $MAML_DATA_DIR")
    args = ap.parse_args()
    torch.set_num_threads(1)
    params = load_checkpoint(args.checkpoint, PROTOCOL).params
    pool = load_pool(PROTOCOL, "test", args.data_dir)
    n = args.episodes
    batch = fixed_episodes(PROTOCOL, pool, n).chunk(pool, 0, n, PROTOCOL.shots)
    ours = {d: maml_ref_logits(params, batch, d) for d in (torch.float64, torch.float32)}
    python = (args.peers_venv or default_venv()) / "bin" / "python"
    with tempfile.TemporaryDirectory() as work:
        src, dst = Path(work) / "in.npz", Path(work) / "out.npz"
        np.savez(
            src,
            support_x=batch.support_x.double().numpy(),
            support_y=batch.support_y.numpy(),
            query_x=batch.query_x.double().numpy(),
            query_y=batch.query_y.numpy(),
            config=np.array(
                [PROTOCOL.ways, PROTOCOL.shots, PROTOCOL.inner_steps_test, PROTOCOL.inner_lr_test]
            ),
            **{f"p:{k}": v.double().numpy() for k, v in params.items()},
        )
        script = ROOT / "benchmarks" / "peers" / "learn2learn_eval.py"
        subprocess.run([python, script, src, dst], check=True, cwd=work)
        peer = dict(np.load(dst))
    print(f"{PROTOCOL.name}, {n} fixed test episodes, checkpoint {args.checkpoint}, 1 thread")
    print(f"float64 runs agree to {np.abs(ours[torch.float64] - peer['logits_float64']).max():.1e}")
    print(f"largest |logit| {np.abs(ours[torch.float64]).max():.1f}")
    summary("maml_ref", ours[torch.float32], ours[torch.float64])
    summary("learn2learn", peer["logits_float32"], peer["logits_float64"])


if __name__ == "__main__":
    main()
