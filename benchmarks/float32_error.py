"""Logit error against float64 of maml_ref's evaluation, of maml_ref's float32 fast path and of
learn2learn's MAML in float32, on the same fixed Omniglot episodes from the same checkpoint.

    python benchmarks/float32_error.py --checkpoint CKPT [--episodes 600] [--peers-venv DIR]
        [--eval-seeds 20170306 1 2 ...]

learn2learn runs in its own virtualenv (benchmarks/setup_peers.sh; default: $VERISOTA_PEERS_VENV
or the cache folder the tests and .ci/run use) through benchmarks/peers/learn2learn_eval.py.
Prints, for each set of episodes, the per-episode largest absolute logit error against float64
(median, 90th, 99th, 99.9th percentile, largest and its episode, and the query predictions that
changed) of:
- "maml_ref evaluate": what ``maml_ref.evaluate`` computes (each episode adapted in float64, one
  float32 forward of the query set: ``evaluate.episode_outputs``);
- "maml_ref float32": the float32 fast path throughout (the training's arithmetic), and
  "learn2learn float32": plain float32 autograd; each also against a float64 run that takes the
  float32 run's side at every ReLU ("sides": round-off alone).
Under float32 adaptation the largest episodes are decided by ReLU kinks (a pre-activation within
round-off of 0 after an adaptation step, where float32 may take the other side:
docs/maml_ref.md), the "sides" figures by round-off.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maml_ref import model  # noqa: E402
from maml_ref.checkpoint import load_checkpoint  # noqa: E402
from maml_ref.data.loading import load_pool  # noqa: E402
from maml_ref.evaluate import (  # noqa: E402
    _chunk_size,
    _query_outputs,
    episode_outputs,
    fixed_episodes,
)
from maml_ref.maml import InnerLoop, adapt  # noqa: E402
from maml_ref.protocols import get_protocol  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))
from learn2learn_io import peers_venv, run_learn2learn  # noqa: E402

PROTOCOL = get_protocol("omniglot-5w1s")


class ReluSides:
    """maml_ref's activation replaced (``maml_ref.model._act``) by a ReLU that records its masks
    or replays recorded ones, in call order: a float64 run that replays a float32 run's masks
    takes the float32 run's side at every kink, so the difference is round-off alone."""

    def __init__(self, mode: str, masks: list | None = None):
        self.mode, self.masks = mode, masks if masks is not None else []

    def __call__(self, x):
        if self.mode == "replay":
            return x * self.masks.pop(0).to(x.dtype)
        self.masks.append(x.detach() > 0)
        return F.relu(x)

    @contextmanager
    def installed(self):
        real = model._act
        model._act = lambda arch: self
        try:
            yield self
        finally:
            model._act = real


def maml_ref_logits(params, batch, dtype, relu: ReluSides | None = None):
    inner = InnerLoop(PROTOCOL.inner_steps_test, PROTOCOL.inner_lr_test)
    p = {k: v.to(dtype) for k, v in params.items()}
    b = type(batch)(
        batch.support_x.to(dtype), batch.support_y, batch.query_x.to(dtype), batch.query_y
    )
    with relu.installed() if relu else nullcontext():
        fast = adapt(p, b.support_x, b.support_y, PROTOCOL.arch, inner, tasks=True, meta=False)
        with torch.no_grad():
            return _query_outputs(fast, b, PROTOCOL, True).double().numpy()


def maml_ref_runs(params, batch) -> dict[str, np.ndarray]:
    """What ``maml_ref.evaluate`` computes (``evaluate``: float64 adaptation, float32 query
    forward); the float32 fast path throughout (``float32``, the training's arithmetic), float64,
    and float64 on the float32 run's side of every ReLU; in the evaluation's chunks of episodes
    (``evaluate._chunk_size``)."""
    size = _chunk_size(PROTOCOL, True)
    inner = InnerLoop(PROTOCOL.inner_steps_test, PROTOCOL.inner_lr_test)
    out: dict[str, list] = {"evaluate": [], "float32": [], "float64": [], "float64_sides": []}
    for a in range(0, batch.tasks, size):
        part = batch.slice(a, min(batch.tasks, a + size))
        logits = episode_outputs(params, part, PROTOCOL, inner, transductive=True)
        out["evaluate"].append(logits.double().numpy())
        rec = ReluSides("record")
        out["float32"].append(maml_ref_logits(params, part, torch.float32, rec))
        out["float64"].append(maml_ref_logits(params, part, torch.float64))
        replay = ReluSides("replay", rec.masks)
        out["float64_sides"].append(maml_ref_logits(params, part, torch.float64, replay))
        assert not replay.masks
    return {k: np.concatenate(v) for k, v in out.items()}


def learn2learn_runs(python: Path, params, batch) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as work:
        peer = run_learn2learn(python, params, batch, PROTOCOL, Path(work))
    return {k: peer[f"logits_{k}"] for k in ("float32", "float64", "float64_sides")}


QUANTILES = (50, 90, 99, 99.9)


def summary(name: str, l32: np.ndarray, l64: np.ndarray) -> str:
    e = np.abs(l32 - l64).max(axis=(1, 2))
    flips = int((l32.argmax(-1) != l64.argmax(-1)).sum())
    qs = zip(QUANTILES, np.percentile(e, QUANTILES), strict=True)
    q = "  ".join(f"p{p:g} {v:.2e}" for p, v in qs)
    return f"  {name:28s} {q}  max {e.max():.2e} (episode {int(e.argmax())})  flips {flips}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--episodes", type=int, default=600)
    ap.add_argument(
        "--eval-seeds",
        type=int,
        nargs="+",
        default=[PROTOCOL.eval_seed],
        help="episode sets: the protocol's fixed test episodes are eval seed "
        f"{PROTOCOL.eval_seed}; others draw other sets the same way",
    )
    ap.add_argument("--peers-venv", type=Path, default=None)
    ap.add_argument("--data-dir", default=None, help="default: $MAML_DATA_DIR")
    args = ap.parse_args()
    torch.set_num_threads(1)
    params = load_checkpoint(args.checkpoint, PROTOCOL).params
    pool = load_pool(PROTOCOL, "test", args.data_dir)
    n = args.episodes
    python = (args.peers_venv or peers_venv()) / "bin" / "python"
    print(f"{PROTOCOL.name}, {n} test episodes per set, checkpoint {args.checkpoint}, 1 thread")
    print("per-episode largest |logit error| (float32 against float64); 'sides': float64 taking")
    print("the float32 run's side at every ReLU (round-off alone); flips: changed predictions")
    for seed in args.eval_seeds:
        prot = dataclasses.replace(PROTOCOL, eval_seed=seed)
        batch = fixed_episodes(prot, pool, n).chunk(pool, 0, n, PROTOCOL.shots)
        ours = maml_ref_runs(params, batch)
        peer = learn2learn_runs(python, params, batch)
        agree = np.abs(ours["float64"] - peer["float64"]).max()
        print(
            f"eval seed {seed}: float64 runs agree to {agree:.1e}, "
            f"largest |logit| {np.abs(ours['float64']).max():.1f}"
        )
        print(summary("maml_ref evaluate", ours["evaluate"], ours["float64"]))
        for name, runs in (("maml_ref float32", ours), ("learn2learn float32", peer)):
            print(summary(name, runs["float32"], runs["float64"]))
            print(summary(name + " (sides)", runs["float32"], runs["float64_sides"]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
