"""The two entry points a verifier calls: evaluate a checkpoint, or reproduce a configuration."""

from __future__ import annotations

import dataclasses
import logging
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .checkpoint import Checkpoint, load_checkpoint, metadata_for, save_checkpoint
from .data.loading import load_pool
from .evaluate import evaluate_params
from .model import Params
from .protocols import Protocol, get_protocol
from .state import StateError, TrainState, load_state
from .train import STATE_EVERY_SECONDS, TrainConfig, TrainProgress, meta_train

Progress = Callable[[str, int, int], None]
log = logging.getLogger(__name__)
VALIDATION_EPISODES = 100  # episodes of each validation during a reproduction
VALIDATION_SEED_OFFSET = 1  # sinusoid validation tasks: eval_seed + 1 (no class split to use)

__all__ = ["EvalResult", "TrainConfig", "pick_device", "run_evaluate", "run_reproduce"]


@dataclass(frozen=True)
class EvalResult:
    """A figure on a protocol's fixed episodes, with what produced it."""

    mean: float  # accuracy in percent (classification) or mean squared error (sinusoid)
    ci95: float  # half-width of the 95% interval: 1.96 * std / sqrt(episodes)
    scores: list[float]  # per-episode scores, in episode order
    episodes: int  # episodes evaluated
    protocol: str  # protocol name
    transductive: bool  # batch-norm statistics over the whole query set (True) or per example
    queries: int  # query examples per class per episode
    seed: int  # eval_seed of the episodes
    device: str  # where it ran
    seconds: float  # wall time, data loading included
    metric: str = "accuracy"  # "accuracy" or "mse"
    inner_steps: int = 0  # test-time inner steps
    inner_lr: float = 0.0  # test-time step size (official K-summed loss)
    episodes_sha256: str = ""  # fingerprint of the episodes (equal means identical episodes)
    maml_ref_version: str = __version__  # version of this package
    train: dict[str, Any] | None = None  # the TrainConfig of a reproduction

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _load_split(
    protocol: Protocol, split: str, data_dir: str | Path | None, progress: Progress | None
):
    """The class pool of ``split`` (None for sinusoid, which samples its tasks), with progress."""
    if protocol.dataset == "sinusoid":
        return None
    if progress:
        progress("loading data", 0, 1)
    pool = load_pool(protocol, split, data_dir)
    if progress:
        progress("loading data", 1, 1)
    return pool


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else cuda when available, else cpu. On CUDA, TF32 is turned off for
    convolutions and matrix products (PyTorch allows it for cuDNN convolutions by default): float32
    is then float32 as on the CPU, which the `gpu` test's comparison with the CPU relies on."""
    dev = torch.device(
        device if device is not None else "cuda" if torch.cuda.is_available() else "cpu"
    )
    if dev.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return dev


def _summary(scores: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(scores)
    if len(scores) < 2:
        return mean, 0.0
    return mean, 1.96 * statistics.pstdev(scores) / math.sqrt(len(scores))


def evaluate_initialisation(
    params: Params,
    protocol: Protocol,
    *,
    transductive: bool = True,
    data_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    episodes: int | None = None,
    progress: Progress | None = None,
    started: float | None = None,
    train: dict[str, Any] | None = None,
) -> EvalResult:
    """Evaluate in-memory parameters on the protocol's fixed test episodes."""
    t0 = time.perf_counter() if started is None else started
    dev = pick_device(device)
    pool = _load_split(protocol, "test", data_dir, progress)
    if pool is not None:
        log.info(
            "%s test split: %d classes x %d examples", protocol.name, pool.n_classes, pool.per_class
        )
    mode = "transductive" if transductive else "non-transductive"
    log.info(
        "evaluating on %s fixed episodes (%s, %s)", episodes or protocol.test_episodes, mode, dev
    )
    scores, fixed = evaluate_params(
        params,
        protocol,
        pool,
        transductive=transductive,
        episodes=episodes,
        device=dev,
        progress=progress,
    )
    mean, ci = _summary(scores)
    log.info(
        "%s %s: %.4f +/- %.4f over %d episodes",
        protocol.name,
        protocol.metric,
        mean,
        ci,
        fixed.count,
    )
    return EvalResult(
        mean=mean,
        ci95=ci,
        scores=scores,
        episodes=fixed.count,
        protocol=protocol.name,
        transductive=transductive,
        queries=protocol.test_queries,
        seed=protocol.eval_seed,
        device=str(dev),
        seconds=time.perf_counter() - t0,
        metric=protocol.metric,
        inner_steps=protocol.inner_steps_test,
        inner_lr=protocol.inner_lr_test,
        episodes_sha256=fixed.fingerprint,
        train=train,
    )


def run_evaluate(
    checkpoint_path: str | Path,
    protocol_name: str,
    *,
    transductive: bool = True,
    data_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    episodes: int | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Load a checkpoint (refusing anything but a matching safetensors file) and evaluate it."""
    t0 = time.perf_counter()
    protocol = get_protocol(protocol_name)
    ckpt: Checkpoint = load_checkpoint(checkpoint_path, protocol)
    return evaluate_initialisation(
        ckpt.params,
        protocol,
        transductive=transductive,
        data_dir=data_dir,
        device=device,
        episodes=episodes,
        progress=progress,
        started=t0,
    )


def validator(
    protocol: Protocol,
    data_dir: str | Path | None,
    episodes: int,
    device: torch.device | str,
) -> Callable[[Params], float]:
    """The protocol's metric on fixed validation episodes, adapted as at test: the first
    ``episodes`` of the meta-validation classes' episodes (image datasets), or of sinusoid
    tasks from another seed than the test tasks'."""
    if protocol.dataset == "sinusoid":
        val_protocol = dataclasses.replace(
            protocol, eval_seed=protocol.eval_seed + VALIDATION_SEED_OFFSET
        )
        pool = None
    else:
        val_protocol, pool = protocol, load_pool(protocol, "val", data_dir)

    def validate(params: Params) -> float:
        scores, _ = evaluate_params(params, val_protocol, pool, episodes=episodes, device=device)
        return statistics.fmean(scores)

    return validate


def resumable_state(path: Path, config: TrainConfig, protocol: Protocol) -> TrainState | None:
    """The training state at ``path`` if a run can continue from it, else None (logged why)."""
    if not path.exists():
        return None
    try:
        state = load_state(path)
    except StateError as e:
        log.warning("the saved training state cannot be read (%s): training from the start", e)
        return None
    why = state.config_mismatch(config.to_dict(), protocol.name)
    if why:
        log.warning("the saved training state does not fit (%s): training from the start", why)
        return None
    return state


def run_reproduce(
    config: dict[str, Any],
    protocol_name: str,
    *,
    data_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
    checkpoint_out: str | Path | None = None,
    transductive: bool = True,
    episodes: int | None = None,
    state_path: str | Path | None = None,
    state_every: float = STATE_EVERY_SECONDS,
    validate_every: int = 0,
    validate_episodes: int = VALIDATION_EPISODES,
    on_train: Callable[[TrainProgress], None] | None = None,
) -> EvalResult:
    """Meta-train with ``config`` (the protocol's defaults, overridden; see ``TrainConfig``),
    optionally save the result, then evaluate it on the fixed episodes.

    With ``state_path``, the full training state is kept there (every ``state_every`` seconds,
    see ``meta_train``), and a state already there (a previous attempt that died) is resumed
    from: the result is the one an uninterrupted run gives. ``validate_every`` > 0 measures the
    metric on ``validate_episodes`` validation episodes as it trains (the curve in each
    ``on_train(TrainProgress)``)."""
    t0 = time.perf_counter()
    protocol = get_protocol(protocol_name)
    cfg = TrainConfig.from_dict(config, protocol)
    dev = pick_device(device)
    pool = _load_split(protocol, "train", data_dir, progress)
    resume = None
    if state_path is not None:
        state_path = Path(state_path)
        resume = resumable_state(state_path, cfg, protocol)
        if resume is not None:
            log.info(
                "resuming from the training state saved at iteration %d of %d",
                resume.iteration,
                cfg.iterations,
            )
    validate = None
    if validate_every > 0:
        validate = validator(protocol, data_dir, validate_episodes, dev)
    params = meta_train(
        protocol,
        cfg,
        pool,
        resume=resume,
        device=dev,
        progress=None if on_train else progress,  # on_train reports every iteration
        on_progress=on_train,
        state_path=state_path,
        state_every=state_every,
        validate=validate,
        validate_every=validate_every,
    )
    if checkpoint_out is not None:
        log.info("saving the meta-trained weights to %s", checkpoint_out)
        save_checkpoint(
            checkpoint_out,
            params,
            metadata_for(protocol, iterations=cfg.iterations, train=cfg.to_dict()),
        )
    return evaluate_initialisation(
        params,
        protocol,
        transductive=transductive,
        data_dir=data_dir,
        device=dev,
        episodes=episodes,
        progress=progress,
        started=t0,
        train=cfg.to_dict(),
    )
