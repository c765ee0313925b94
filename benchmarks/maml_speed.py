"""Meta-training speed of maml_ref against learn2learn's MAML and higher, and evaluation time.

Omniglot 5-way 1-shot, the paper's conv-4 (64 filters, batch norm with batch statistics),
meta-batch 32, 1 inner step of 0.4 on the official loss, Adam 1e-3; 15 and 1 query per class;
second and first order. Every contender runs on the same episodes (maml_ref's sampler on the
meta-train split) with the same network; contenders alternate within each round and the median
seconds per iteration is reported (timings on a shared machine drift between windows).

Before any timing, every contender is checked to train (``check_contenders``): one step on a
batch leaves a gradient on each of its meta-learned tensors (none is ``None``; higher's default
``copy_initial_weights=True`` left all of them ``None``, timing a model that never learned), the
step moves its weights, a few steps on one batch bring its meta-loss below the first (second
order: fo-MAML's update is not that loss's gradient and may raise it), and
contenders that compute the same algorithm agree on the first meta-gradient within 1% (maml_ref's
two paths; learn2learn and higher, which adapt every tensor, batch-norm scale and shift
included). A contender that fails stops the benchmark; ``--check`` runs these checks alone.

Peers are optional and live in their own virtual environment (benchmarks/setup_peers.sh):
    benchmarks/setup_peers.sh /tmp/maml-peers
    /tmp/maml-peers/bin/python benchmarks/maml_speed.py --data-dir ../shared/data/omniglot
Without them only maml_ref is timed. learn2learn's package __init__ imports torchvision (a CUDA
build on PyPI for this torch), so its MAML modules are loaded by file path.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maml_ref.api import run_evaluate  # noqa: E402
from maml_ref.checkpoint import metadata_for, save_checkpoint  # noqa: E402
from maml_ref.data.loading import load_pool  # noqa: E402
from maml_ref.maml import InnerLoop, meta_gradient, meta_gradient_per_task  # noqa: E402
from maml_ref.model import init_params  # noqa: E402
from maml_ref.protocols import get_protocol  # noqa: E402
from maml_ref.train import EpisodeStream, TrainConfig  # noqa: E402

PROTOCOL = get_protocol("omniglot-5w1s")
ARCH = PROTOCOL.arch
LR = 0.4  # inner step size (official loss: summed cross-entropy / K)
Step = Callable[[object], float]  # one meta-update on a batch; returns its meta-loss


@dataclass(frozen=True)
class Contender:
    """A meta-training step and the tensors it meta-learns, by maml_ref's names where the
    network has them (``bn{i}.weight``, the batch-norm scale, exists only in the peers')."""

    step: Step
    params: Callable[[], dict[str, torch.Tensor]]


def _module_params(model: nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for name, p in model.named_parameters():
        kind, _, rest = name.partition(".")
        if kind == "convs":
            i, _, what = rest.partition(".")
            out[f"conv{int(i) + 1}.{what}"] = p
        elif kind == "norms":
            i, _, what = rest.partition(".")
            out[f"bn{int(i) + 1}.{what}"] = p
        else:
            out[name.removeprefix("module.")] = p
    return out


class ConvNet(nn.Module):
    """The same network as maml_ref.model, as a module for the peers (as in learn2learn's own
    Omniglot example, batch norm is nn.BatchNorm2d with batch statistics; its scale, fixed at 1 in
    maml_ref, is a parameter here: 64 numbers, no measurable cost)."""

    def __init__(self, params: dict[str, torch.Tensor]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else 64, 64, 3, 2, 1) for i in range(4))
        self.norms = nn.ModuleList(
            nn.BatchNorm2d(64, 1e-3, track_running_stats=False) for _ in range(4)
        )
        self.head = nn.Linear(64, 5)
        with torch.no_grad():
            for i in range(4):
                self.convs[i].weight.copy_(params[f"conv{i + 1}.weight"])
                self.convs[i].bias.copy_(params[f"conv{i + 1}.bias"])
            self.head.weight.copy_(params["head.weight"])
            self.head.bias.copy_(params["head.bias"])

    def forward(self, x):
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.relu(norm(conv(x)))
        return self.head(x.mean(dim=(2, 3)))


def _loss(out, y, per_class):
    return F.cross_entropy(out, y, reduction="sum") / per_class


def maml_ref_step(first_order: bool, mode: str) -> Contender:
    params = {
        k: v.requires_grad_()
        for k, v in init_params(ARCH, torch.Generator().manual_seed(0)).items()
    }
    opt = torch.optim.Adam(params.values(), lr=1e-3)
    inner = InnerLoop(1, LR, first_order)

    def step(batch) -> float:
        if mode == "per_task":
            grads, loss = meta_gradient_per_task(params, batch, ARCH, inner)
        else:
            grads, loss = meta_gradient(params, batch, ARCH, inner, mode)
        for k, p in params.items():
            p.grad = grads[k]
        opt.step()
        return float(loss)

    return Contender(step, lambda: params)


def _load_learn2learn():
    if "learn2learn.algorithms.maml" in sys.modules:
        return sys.modules["learn2learn.algorithms.maml"].MAML
    spec = importlib.util.find_spec("learn2learn")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    pkg = types.ModuleType("learn2learn")
    pkg.__path__ = [str(root)]  # a bare package: its __init__ (torchvision) is not run
    sys.modules["learn2learn"] = pkg
    for name in ("utils", "algorithms.base_learner", "algorithms.maml"):
        full = f"learn2learn.{name}"
        path = root / (name.replace(".", "/") + ("/__init__.py" if name == "utils" else ".py"))
        if name.startswith("algorithms") and "learn2learn.algorithms" not in sys.modules:
            sub = types.ModuleType("learn2learn.algorithms")
            sub.__path__ = [str(root / "algorithms")]
            sys.modules["learn2learn.algorithms"] = sub
        mspec = importlib.util.spec_from_file_location(full, path)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[full] = module
        mspec.loader.exec_module(module)
    return sys.modules["learn2learn.algorithms.maml"].MAML


def learn2learn_step(first_order: bool) -> Contender | None:
    try:
        maml_cls = _load_learn2learn()
    except Exception as e:  # a broken peer install is reported, not fatal
        print(f"learn2learn unavailable: {e!r}", file=sys.stderr)
        return None
    if maml_cls is None:
        return None
    model = ConvNet(init_params(ARCH, torch.Generator().manual_seed(0)))
    maml = maml_cls(model, lr=LR, first_order=first_order)
    opt = torch.optim.Adam(maml.parameters(), lr=1e-3)

    def step(batch) -> float:
        opt.zero_grad()
        total = 0.0
        for t in range(batch.tasks):
            learner = maml.clone()
            learner.adapt(_loss(learner(batch.support_x[t]), batch.support_y[t], 1))
            # the official query loss: summed cross-entropy / K (1), whatever the query count
            total = total + _loss(learner(batch.query_x[t]), batch.query_y[t], 1) / batch.tasks
        total.backward()
        opt.step()
        return float(total.detach())

    return Contender(step, lambda: _module_params(model))


def higher_step(first_order: bool) -> Contender | None:
    """higher's MAML, as its documentation's example: ``copy_initial_weights=False``, so that the
    patched model starts from the model's own weights and the meta-gradient reaches them (higher's
    default, True, starts from detached copies: every gradient of the model stays ``None``).
    First order: ``track_higher_grads=False`` (no graph through the inner step; the adapted
    weights are new leaves), so the query gradient at the adapted weights is added to the
    model's by hand, which is what fo-MAML's meta-gradient is."""
    try:
        import higher
    except ImportError:
        return None
    model = ConvNet(init_params(ARCH, torch.Generator().manual_seed(0)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    inner_opt = torch.optim.SGD(model.parameters(), lr=LR)
    weights = list(model.parameters())

    def step(batch) -> float:
        opt.zero_grad()
        total = 0.0
        for t in range(batch.tasks):
            with higher.innerloop_ctx(
                model, inner_opt, copy_initial_weights=False, track_higher_grads=not first_order
            ) as (fmodel, diffopt):
                diffopt.step(_loss(fmodel(batch.support_x[t]), batch.support_y[t], 1))
                query = _loss(fmodel(batch.query_x[t]), batch.query_y[t], 1) / batch.tasks
                if first_order:
                    grads = torch.autograd.grad(query, list(fmodel.parameters()))
                    for w, g in zip(weights, grads, strict=True):
                        w.grad = g if w.grad is None else w.grad + g
                else:
                    query.backward()
                total += float(query.detach())
        opt.step()
        return total

    return Contender(step, lambda: _module_params(model))


CONTENDERS = ("maml_ref", "maml_ref per-task", "learn2learn", "higher")


def contenders(first_order: bool, only: tuple[str, ...] = CONTENDERS) -> dict[str, Contender]:
    """The contenders named in ``only`` that are installed, in a fixed order."""
    makers: dict[str, Callable[[bool], Contender | None]] = {
        "maml_ref": lambda fo: maml_ref_step(fo, "auto"),
        "maml_ref per-task": lambda fo: maml_ref_step(fo, "per_task"),
        "learn2learn": learn2learn_step,
        "higher": higher_step,
    }
    found = {}
    for name in CONTENDERS:
        s = makers[name](first_order) if name in only else None
        if s is not None:
            found[name] = s
    return found


#: Contenders that compute the same meta-gradient (same network, loss and adapted tensors).
SAME_ALGORITHM = (("maml_ref", "maml_ref per-task"), ("learn2learn", "higher"))
#: maml_ref's conv biases sit before a batch norm: exactly zero meta-gradient, so Adam leaves
#: them where they are (the peers' round-off moves them).
STILL = {f"conv{i}.bias" for i in range(1, 5)}


class ContenderError(AssertionError):
    """A contender that does not train: its figures would mean nothing."""


def check_contenders(
    found: dict[str, Contender], batch, second_order: bool, steps: int = 3
) -> dict[str, list[float]]:
    """Fail unless every contender really meta-trains (see the module docstring); returns each
    one's meta-losses over ``steps`` steps on ``batch``. Call on fresh contenders (the same
    initialisation): the first meta-gradients are compared."""
    first_grads: dict[str, dict[str, torch.Tensor]] = {}
    losses: dict[str, list[float]] = {}
    for name, c in found.items():
        before = {k: v.detach().clone() for k, v in c.params().items()}
        losses[name] = [c.step(batch)]
        params = c.params()
        missing = sorted(k for k, v in params.items() if v.grad is None)
        if missing:
            raise ContenderError(f"{name}: no gradient (None) for {', '.join(missing)}")
        bad = sorted(k for k, v in params.items() if not torch.isfinite(v.grad).all())
        if bad:
            raise ContenderError(f"{name}: non-finite gradient for {', '.join(bad)}")
        first_grads[name] = {k: v.grad.detach().clone() for k, v in params.items()}
        still = sorted(
            k for k, v in params.items() if torch.equal(v.detach(), before[k]) and k not in STILL
        )
        if still:
            raise ContenderError(f"{name}: the step left {', '.join(still)} unchanged")
        losses[name] += [c.step(batch) for _ in range(steps - 1)]
        # Second order only: fo-MAML's update is not the meta-loss's gradient, and with large
        # inner steps it can raise that loss (learn2learn, 15 queries, 32 tasks: 642 -> 656).
        if second_order and not min(losses[name][1:]) < losses[name][0]:
            raise ContenderError(f"{name}: meta-loss did not fall on one batch: {losses[name]}")
    for a, b in SAME_ALGORITHM:
        if a in first_grads and b in first_grads:
            for k, g in first_grads[a].items():
                if k in STILL:  # zero but for round-off, which the two paths differ in
                    continue
                h = first_grads[b][k]
                scale = max(float(g.abs().max()), float(h.abs().max()), 1e-12)
                err = float((g - h).abs().max()) / scale
                if err > 1e-2:  # float32 paths; a missing term or scale is far off that
                    raise ContenderError(f"{a} and {b} disagree on {k}'s gradient ({err:.2e})")
    return losses


def batches(pool, queries: int, n: int, meta_batch: int = 32):
    cfg = TrainConfig.from_dict({"queries": queries, "meta_batch": meta_batch}, PROTOCOL)
    stream = EpisodeStream(PROTOCOL, cfg, pool, start=1)
    return [stream.next() for _ in range(n)]


def time_training(
    pool, queries: int, first_order: bool, rounds: int, iters: int, only: tuple[str, ...]
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall-clock and calling-thread CPU seconds per iteration of each contender. With
    one torch thread every contender computes in the calling thread, so the CPU seconds are
    its work without the time it spent descheduled (on a loaded machine: the fairer figure)."""
    found = contenders(first_order, only)
    data = batches(pool, queries, iters)
    check_contenders(found, data[0], not first_order)  # also the warm-up
    wall: dict[str, list[float]] = {k: [] for k in found}
    cpu: dict[str, list[float]] = {k: [] for k in found}
    for _ in range(rounds):
        for name, c in found.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            for b in data:
                c.step(b)
            wall[name].append((time.perf_counter() - t0) / iters)
            cpu[name].append((time.thread_time() - c0) / iters)
    med = statistics.median
    return {k: med(v) for k, v in wall.items()}, {k: med(v) for k, v in cpu.items()}


def time_evaluation(data_dir: str, rounds: int, tmp: Path) -> dict[str, float]:
    ckpt = tmp / "bench-init.safetensors"
    save_checkpoint(
        ckpt, init_params(ARCH, torch.Generator().manual_seed(0)), metadata_for(PROTOCOL)
    )
    run_evaluate(ckpt, PROTOCOL.name, data_dir=data_dir, episodes=10)  # data loaded and cached
    out = {}
    for transductive in (True, False):
        secs = [
            run_evaluate(ckpt, PROTOCOL.name, data_dir=data_dir, transductive=transductive).seconds
            for _ in range(rounds)
        ]
        out["transductive" if transductive else "non-transductive"] = statistics.median(secs)
    return out


def _peak_since_reset() -> float:
    """Peak resident memory (MB) since the last reset of the kernel's high-water mark."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: reset VmHWM to the current RSS
    except OSError:
        pass


def peak_memory(args) -> None:
    """Child process: peak resident memory of a few iterations of one contender (or of a
    600-episode evaluation), counted from after the data is loaded."""
    if args.peak == "evaluation":
        tmp = Path(tempfile.mkdtemp())
        time_evaluation(args.data_dir, 1, tmp)  # loads and caches the data
        _reset_peak()
        time_evaluation(args.data_dir, 1, tmp)
        print(json.dumps({"peak_rss_mb": _peak_since_reset()}))
        return
    pool = load_pool(PROTOCOL, "train", args.data_dir)
    first_order = args.peak_order == "first"
    data = batches(pool, args.peak_queries, 3)
    step = contenders(first_order)[args.peak].step
    _reset_peak()
    for b in data:
        step(b)
    print(json.dumps({"peak_rss_mb": _peak_since_reset()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="Omniglot directory (default: $MAML_DATA_DIR)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per setting")
    ap.add_argument("--iters", type=int, default=3, help="iterations per contender per round")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--queries", type=int, nargs="*", default=[15, 1])
    ap.add_argument(
        "--only", nargs="+", choices=CONTENDERS, default=CONTENDERS, help="contenders to time"
    )
    ap.add_argument("--skip-eval", action="store_true", help="no 600-episode evaluation timing")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-timing", action="store_true", help="memory probes only")
    ap.add_argument(
        "--check",
        action="store_true",
        help="only check that every contender trains (4-task batches), print the losses, exit",
    )
    ap.add_argument("--peak", help=argparse.SUPPRESS)
    ap.add_argument("--peak-order", default="second", help=argparse.SUPPRESS)
    ap.add_argument("--peak-queries", type=int, default=15, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.peak:
        peak_memory(args)
        return
    pool = load_pool(PROTOCOL, "train", args.data_dir)
    if args.check:
        for queries in args.queries:
            for first_order in (False, True):
                found = contenders(first_order, tuple(args.only))
                batch = batches(pool, queries, 1, meta_batch=4)[0]
                losses = check_contenders(found, batch, not first_order)
                order = "first" if first_order else "second"
                print(json.dumps({"queries": queries, "order": order, "meta_losses": losses}))
        return
    report = {"threads": torch.get_num_threads(), "torch": torch.__version__, "settings": []}
    for queries in args.queries:
        for first_order in (False, True):
            order = "first" if first_order else "second"
            load_before = os.getloadavg()
            if args.skip_timing:
                secs = dict.fromkeys(contenders(first_order, tuple(args.only)), float("nan"))
                cpu = secs
            else:
                secs, cpu = time_training(
                    pool, queries, first_order, args.rounds, args.iters, tuple(args.only)
                )
            row = {"queries": queries, "order": order, "threads": torch.get_num_threads()}
            row["load_avg_1min"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
            row["s_per_iter"] = secs
            if torch.get_num_threads() == 1:
                row["thread_cpu_s_per_iter"] = cpu
            row["tasks_per_s"] = {k: 32 / v for k, v in secs.items()}
            print(json.dumps(row), flush=True)
            if not args.skip_memory:
                row["peak_rss_mb"] = {}
                for name in secs:
                    cmd = [
                        sys.executable,
                        __file__,
                        "--peak",
                        name,
                        "--peak-order",
                        order,
                        "--peak-queries",
                        str(queries),
                    ]
                    cmd += ["--data-dir", args.data_dir] if args.data_dir else []
                    cmd += ["--threads", str(args.threads)] if args.threads else []
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    row["peak_rss_mb"][name] = json.loads(out.stdout.strip().splitlines()[-1])[
                        "peak_rss_mb"
                    ]
            report["settings"].append(row)
            print(json.dumps(row), flush=True)
    tmp = Path(tempfile.mkdtemp())
    if not args.skip_timing and not args.skip_eval:
        report["eval_600_s"] = time_evaluation(args.data_dir, args.rounds, tmp)
        print(json.dumps({"eval_600_s": report["eval_600_s"]}), flush=True)
    if not args.skip_memory:
        cmd = [sys.executable, __file__, "--peak", "evaluation"]
        cmd += ["--data-dir", args.data_dir] if args.data_dir else []
        cmd += ["--threads", str(args.threads)] if args.threads else []
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        report["eval_peak_rss_mb"] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        print(json.dumps({"eval_peak_rss_mb": report["eval_peak_rss_mb"]}), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
