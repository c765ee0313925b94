"""Command line: ``python -m maml_ref protocols | train | evaluate | download``."""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from . import datadir, download
from .api import evaluate_initialisation, pick_device, run_evaluate
from .checkpoint import CheckpointError, metadata_for, save_checkpoint
from .data.loading import load_pool
from .evaluate import evaluate_params
from .protocols import PROTOCOLS, get_protocol
from .state import load_state
from .train import QUERY_MODES, STATE_EVERY_SECONDS, TrainConfig, TrainProgress, meta_train

TRAIN_OPTIONS = {  # option -> (TrainConfig field, type)
    "--meta-batch": ("meta_batch", int),
    "--shots": ("shots", int),
    "--queries": ("queries", int),
    "--inner-steps": ("inner_steps", int),
    "--inner-lr": ("inner_lr", float),
    "--meta-lr": ("meta_lr", float),
    "--grad-clip": ("grad_clip", float),
    "--seed": ("seed", int),
    "--task-pool": ("task_pool", int),
}


class _Bar:
    """A tqdm bar per phase (evaluation, loading), on stderr; created at the phase's first
    report with what is done already as its start, so its rate counts only what it saw."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.phase, self.bar = enabled, None, None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, initial=done, desc=phase, file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _TrainBar:
    """The training bar: opened before the first meta-update (so it shows at once and its rate
    is iterations really done over the time they took: tqdm's average, smoothing 0), moved by
    ``meta_train``'s TrainProgress, the running meta-loss and query accuracy as its postfix.
    Time spent in ``--eval-every`` evaluations is left out of the rate."""

    def __init__(self, total: int, start: int, enabled: bool = True):
        self.bar = tqdm(
            total=total,
            initial=start,
            desc="training",
            unit="it",
            smoothing=0,
            file=sys.stderr,
            disable=not enabled,
        )

    def __call__(self, p: TrainProgress) -> None:
        postfix = {"meta_loss": f"{p.meta_loss:.4f}"}
        if p.query_accuracy is not None:
            postfix["query_acc"] = f"{p.query_accuracy:.1f}%"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(p.iteration - self.bar.n)

    def pause(self, what: str):
        """A context for work that is not training (an evaluation): shown, not counted."""
        return _Paused(self.bar, what)

    def write(self, line: str) -> None:
        self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


class _Paused:
    def __init__(self, bar, what: str):
        self.bar, self.what = bar, what

    def __enter__(self):
        self.began = time.perf_counter()
        self.bar.set_description_str(self.what)
        return self

    def __exit__(self, *exc) -> None:
        if not self.bar.disable:
            self.bar.start_t += time.perf_counter() - self.began
        self.bar.set_description_str("training")


def mean_ci95(scores: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% interval, 1.96 * std / sqrt(n) (as EvalResult's)."""
    mean = statistics.fmean(scores)
    if len(scores) < 2:
        return mean, 0.0
    return mean, 1.96 * statistics.pstdev(scores) / math.sqrt(len(scores))


def _status(line: str, quiet: bool) -> None:
    """A status line on stderr (before a bar exists), unless --quiet."""
    if not quiet:
        print(line, file=sys.stderr, flush=True)


def _load(protocol, split: str, data_dir: Path | None, quiet: bool):
    """The class pool of ``split``, with a status line before and after (the first use of the
    Omniglot files resizes every image and caches the result; later runs read the cache)."""
    where = datadir.data_dir(data_dir)
    _status(
        f"loading the {split} classes of {protocol.dataset} from {where} (the first use resizes "
        "every image once and caches the result) ...",
        quiet,
    )
    began = time.perf_counter()
    bar = _Bar(enabled=not quiet)  # a bar per source file while its images are resized
    try:
        pool = load_pool(protocol, split, data_dir, on_progress=bar)
    finally:
        bar.close()
    _status(
        f"loaded {pool.n_classes} {split} classes x {pool.per_class} images in "
        f"{time.perf_counter() - began:.1f} s",
        quiet,
    )
    return pool


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m maml_ref", description="Reference MAML (Finn et al., 2017)."
    )
    sub = p.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("protocols", help="list the protocols")
    sp.add_argument("--json", action="store_true", help="one JSON object per protocol")

    tr = sub.add_parser("train", help="meta-train (protocol defaults, each overridable)")
    tr.add_argument("--protocol", required=True)
    tr.add_argument("--out", required=True, type=Path, help="checkpoint to write (.safetensors)")
    tr.add_argument("--iterations", type=int, help="total meta-updates (default: the protocol's)")
    for opt, (_field, typ) in TRAIN_OPTIONS.items():
        tr.add_argument(opt, type=typ)
    tr.add_argument("--first-order", action=argparse.BooleanOptionalAction, default=None)
    tr.add_argument("--query-mode", choices=QUERY_MODES)
    tr.add_argument(
        "--resume",
        type=Path,
        nargs="?",
        const=True,
        help="continue from a training state: the one --state names (default) or this file; "
        "the same run's parameters, Adam moments, episode stream and RNGs; options given "
        "override the saved configuration (only --iterations may differ)",
    )
    tr.add_argument(
        "--state",
        type=Path,
        help="where to keep the full training state as it goes (default: OUT.state)",
    )
    tr.add_argument(
        "--state-every",
        type=float,
        default=STATE_EVERY_SECONDS,
        metavar="SECONDS",
        help="seconds between two saves of the state (0: every iteration; default "
        f"{STATE_EVERY_SECONDS:g}); also saved after the last iteration and on Ctrl-C",
    )
    tr.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="evaluate every N iterations: a line with the accuracy and its 95%% interval on "
        "stderr, a JSON line on stdout",
    )
    tr.add_argument("--eval-split", choices=("val", "test"), default="val")
    tr.add_argument("--eval-episodes", type=int, default=600)

    ev = sub.add_parser("evaluate", help="evaluate a checkpoint on the fixed test episodes")
    ev.add_argument("--checkpoint", required=True, type=Path)
    ev.add_argument("--protocol", required=True)
    ev.add_argument("--transductive", action=argparse.BooleanOptionalAction, default=True)
    ev.add_argument("--episodes", type=int, help="first N of the fixed episodes (default: all)")
    ev.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    dl = sub.add_parser("download", help="fetch a dataset (omniglot: the two original zips)")
    dl.add_argument("dataset", choices=("omniglot",))
    dl.add_argument(
        "--dir", type=Path, help="where to put it (default: as --data-dir of train/evaluate)"
    )
    dl.add_argument("--base-url", help=f"a mirror (default: ${download.BASE_URL_ENV}, else GitHub)")
    dl.add_argument(
        "--md5",
        action="append",
        default=[],
        metavar="NAME=SUM",
        help="expect this MD5 sum for NAME instead of the published one (a mirror that "
        "repacked the archives, or a test's own); repeat for each file",
    )
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    for cmd in (tr, ev):
        cmd.add_argument(
            "--data-dir",
            type=Path,
            help=f"default: ${datadir.ENV}, else {datadir.default_data_dir()}",
        )
        cmd.add_argument("--device", help="cpu or cuda (default: cuda if available)")
        cmd.add_argument("--quiet", action="store_true", help="no progress bar")
        cmd.add_argument(
            "--threads", type=int, help="CPU threads (default: torch's; 1 on a busy machine)"
        )
    return p


def _protocols(args: argparse.Namespace) -> int:
    for p in PROTOCOLS.values():
        if args.json:
            print(
                json.dumps(
                    {
                        "name": p.name,
                        "dataset": p.dataset,
                        "ways": p.ways,
                        "shots": p.shots,
                        "metric": p.metric,
                    }
                )
            )
        else:
            print(f"{p.name:20s} {p.dataset:13s} {p.ways:2d}-way {p.shots:2d}-shot  {p.metric}")
    return 0


def _train(args: argparse.Namespace) -> int:
    protocol = get_protocol(args.protocol)
    overrides: dict[str, Any] = {
        f: getattr(args, opt[2:].replace("-", "_")) for opt, (f, _t) in TRAIN_OPTIONS.items()
    }
    overrides |= {
        "iterations": args.iterations,
        "first_order": args.first_order,
        "query_mode": args.query_mode,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    state_path = args.state or Path(f"{args.out}.state")
    resume = None
    if args.resume:
        resume = load_state(state_path if args.resume is True else args.resume)
        given = {**resume.config, **given}
        _status(f"resuming from the training state at iteration {resume.iteration}", args.quiet)
    config = TrainConfig.from_dict(given, protocol)
    device = pick_device(args.device)
    start = resume.iteration if resume else 0
    image_data = protocol.dataset != "sinusoid"
    pool = _load(protocol, "train", args.data_dir, args.quiet) if image_data else None
    eval_pool = None
    if args.eval_every and image_data:
        eval_pool = _load(protocol, args.eval_split, args.data_dir, args.quiet)
    bar = _TrainBar(config.iterations, start, not args.quiet)

    def on_iteration(i: int, loss: float, params: dict) -> None:
        if not args.eval_every or (i % args.eval_every and i != config.iterations):
            return
        with bar.pause(f"evaluating ({args.eval_split})"):
            scores, _ = evaluate_params(
                params, protocol, eval_pool, episodes=args.eval_episodes, device=device
            )
        mean, ci95 = mean_ci95(scores)
        unit = "%" if protocol.metric == "accuracy" else ""
        bar.write(
            f"iteration {i}: {args.eval_split} {protocol.metric} {mean:.2f}{unit} +/- "
            f"{ci95:.2f} (95% interval, {len(scores)} episodes); meta-loss {loss:.4f}"
        )
        record = {"iteration": i, "meta_loss": loss, "split": args.eval_split}
        record |= {protocol.metric: mean, "ci95": ci95, "episodes": len(scores)}
        print(json.dumps(record), flush=True)

    began = time.perf_counter()
    try:
        params = meta_train(
            protocol,
            config,
            pool,
            resume=resume,
            device=device,
            on_iteration=on_iteration,
            on_progress=bar,
            state_path=state_path,
            state_every=args.state_every,
        )
    except KeyboardInterrupt:
        bar.close()
        print(
            f"interrupted; the training state is in {state_path}: continue with --resume",
            file=sys.stderr,
        )
        return 130
    finally:
        bar.close()
    seconds = time.perf_counter() - began
    save_checkpoint(
        args.out,
        params,
        metadata_for(protocol, iterations=config.iterations, train=config.to_dict()),
    )
    done = config.iterations - start
    print(
        f"wrote {args.out} after {config.iterations} iterations ({done} in {seconds:.1f} s)",
        file=sys.stderr,
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    bar = _Bar(not args.quiet)
    result = run_evaluate(
        args.checkpoint,
        args.protocol,
        transductive=args.transductive,
        data_dir=args.data_dir,
        device=args.device,
        episodes=args.episodes,
        progress=bar,
    )
    bar.close()
    if args.json:
        summary = {"mean": result.mean, "ci95": result.ci95, "episodes": result.episodes}
        print(json.dumps({result.metric: summary, **result.to_dict()}))
    else:
        unit = "%" if result.metric == "accuracy" else ""
        mode = "transductive" if result.transductive else "non-transductive"
        print(
            f"{result.protocol}: {result.metric} {result.mean:.2f}{unit} +/- {result.ci95:.2f} "
            f"({result.episodes} episodes, {mode}, {result.seconds:.1f} s on {result.device})"
        )
    return 0


def _md5_overrides(pairs: list[str]) -> dict[str, str] | None:
    """``--md5 NAME=SUM`` options over the published sums; ValueError naming a bad one."""
    if not pairs:
        return None
    sums = dict(download.MD5)
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in download.MD5 or not re.fullmatch(r"[0-9a-f]{32}", value):
            raise ValueError(
                f"--md5 {pair!r}: expected NAME=SUM, NAME one of {', '.join(download.MD5)} and "
                "SUM 32 lower-case hex digits"
            )
        sums[name] = value
    return sums


def _download(args: argparse.Namespace) -> int:
    sums = _md5_overrides(args.md5)
    directory = download.download_omniglot(
        args.dir, url=args.base_url, progress=not args.quiet, expected_md5=sums
    )
    print(f"Omniglot is in {directory} (the original zips; resized on first use)", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    try:
        commands = {
            "protocols": _protocols,
            "train": _train,
            "evaluate": _evaluate,
            "download": _download,
        }
        return commands[args.command](args)
    except (CheckpointError, download.DownloadError, FileNotFoundError, KeyError, ValueError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


__all__ = ["evaluate_initialisation", "main"]
