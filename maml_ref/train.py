"""Meta-training: Adam on the MAML meta-gradient, episodes from a seeded sampler."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import query
from .data.episodes import ClassPool, EpisodeIndex, Episodes, build_episodes, sample_indices
from .data.sinusoid import sample_sinusoid
from .maml import InnerLoop, adapt, meta_gradient, meta_gradient_per_task
from .model import Params, forward, forward_tasks, init_params
from .protocols import Protocol
from .state import TrainState, save_state

Progress = Callable[[str, int, int], None]
MAX_ITERATIONS = 1_000_000  # refuse configurations beyond this many meta-updates
MAX_TASK_POOL = 10_000_000  # refuse a fixed task pool beyond this many tasks
ORIGINAL_TASK_POOL = 200_000  # the official code's pool of pre-generated training tasks (images)
STATE_EVERY_SECONDS = 300.0  # default interval between two saves of the training state
POOL_STREAM = 1  # tag of the task-pool generators in their seed: [seed, POOL_STREAM, task]
QUERY_MODES = ("auto", "manual", "grouped", "loop", "per_task")
LOG_EVERY = 100  # iterations between meta-loss log lines
LOSS_WINDOW = 10  # iterations the running meta-loss of TrainProgress is the mean over
ACCURACY_EVERY = 10  # iterations between query-accuracy measurements (an extra adaptation)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainProgress:
    """What ``meta_train`` reports after each meta-update (to a progress bar: it prints nothing).

    The rate is computed from iterations really done since the loop began, so it is the same
    figure whichever bar shows it."""

    iteration: int  # meta-updates done, counting those of a resumed checkpoint
    total: int  # the run's last iteration
    start: int  # iterations done before this run (0 unless resumed)
    meta_loss: float  # mean meta-loss over the last LOSS_WINDOW iterations (or fewer at first)
    query_accuracy: float | None  # % of query examples right after adaptation, see below
    accuracy_iteration: int | None  # the iteration ``query_accuracy`` was measured at
    seconds: float  # wall time since the loop began (callbacks included)
    validation: tuple[tuple[int, float], ...] = ()  # (iteration, metric on validation episodes)
    saved_at: int | None = None  # iteration of the last training state written, if any

    @property
    def rate(self) -> float:
        """Iterations per second of this run (0 before the first one ends)."""
        done = self.iteration - self.start
        return done / self.seconds if done and self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """The time the iterations left would take at this run's rate (None before a rate)."""
        rate = self.rate
        return (self.total - self.iteration) / rate if rate > 0 else None


@dataclass(frozen=True)
class TrainConfig:
    """A meta-training run; defaults are the protocol's (the paper's recipe)."""

    iterations: int  # meta-updates
    meta_batch: int  # tasks per meta-update
    shots: int  # support examples per class
    queries: int  # query examples per class (regression: query points)
    inner_steps: int  # inner gradient steps
    inner_lr: float  # inner step size, on the official (K-summed) loss
    meta_lr: float  # Adam learning rate
    first_order: bool  # fo-MAML
    grad_clip: float | None  # clip each meta-gradient element to [-c, c]; None: no clipping
    seed: int = 0  # initialisation and training episodes
    query_mode: str = "auto"  # implementation of the query pass (same result, different speed)
    task_pool: int = 0  # 0: fresh tasks every iteration; N: cycle through N fixed tasks

    @classmethod
    def from_protocol(cls, protocol: Protocol, **overrides: Any) -> TrainConfig:
        base = cls(
            iterations=protocol.iterations,
            meta_batch=protocol.meta_batch,
            shots=protocol.train_shots,
            queries=protocol.train_queries,
            inner_steps=protocol.inner_steps_train,
            inner_lr=protocol.inner_lr_train,
            meta_lr=protocol.meta_lr,
            first_order=protocol.first_order,
            grad_clip=protocol.grad_clip,
            task_pool=protocol.task_pool,
        )
        return cls.from_dict({**dataclasses.asdict(base), **overrides}, protocol)

    @classmethod
    def from_dict(cls, d: dict[str, Any], protocol: Protocol) -> TrainConfig:
        """The protocol's defaults overridden by ``d``; ValueError naming a bad or unknown field."""
        if not isinstance(d, dict):
            raise ValueError(
                f"a training configuration must be a JSON object, got {type(d).__name__}"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(fields)}")
        defaults = {
            "iterations": protocol.iterations,
            "meta_batch": protocol.meta_batch,
            "shots": protocol.train_shots,
            "queries": protocol.train_queries,
            "inner_steps": protocol.inner_steps_train,
            "inner_lr": protocol.inner_lr_train,
            "meta_lr": protocol.meta_lr,
            "first_order": protocol.first_order,
            "grad_clip": protocol.grad_clip,
            "seed": 0,
            "query_mode": "auto",
            "task_pool": protocol.task_pool,
        }
        values = {**defaults, **d}
        ints = {"iterations": (1, MAX_ITERATIONS), "meta_batch": (1, 1024), "shots": (1, 100)}
        ints |= {"queries": (1, 100), "inner_steps": (0, 100), "seed": (0, 2**31 - 1)}
        ints |= {"task_pool": (0, MAX_TASK_POOL)}
        for name, (lo, hi) in ints.items():
            v = values[name]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
        for name in ("inner_lr", "meta_lr"):
            v = values[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 100:
                raise ValueError(f"{name} must be a number in (0, 100], got {v!r}")
            values[name] = float(v)
        if not isinstance(values["first_order"], bool):
            raise ValueError(f"first_order must be true or false, got {values['first_order']!r}")
        clip = values["grad_clip"]
        if clip is not None and (
            isinstance(clip, bool) or not isinstance(clip, int | float) or not clip > 0
        ):
            raise ValueError(f"grad_clip must be a positive number or null, got {clip!r}")
        values["grad_clip"] = None if clip is None else float(clip)
        if values["query_mode"] not in QUERY_MODES:
            raise ValueError(
                f"query_mode must be one of {QUERY_MODES}, got {values['query_mode']!r}"
            )
        if values["query_mode"] == "manual" and not query.supports(protocol.arch):
            raise ValueError(f"query_mode 'manual' handles conv networks only, not {protocol.name}")
        if values["task_pool"] and protocol.dataset == "sinusoid":
            raise ValueError(
                "task_pool applies to image datasets: the official code draws fresh sinusoid "
                "tasks every iteration (leave task_pool at 0)"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class EpisodeStream:
    """Training episodes from a seeded generator (classes of the meta-train split).

    With ``config.task_pool`` = N > 0, the tasks are the official code's: a fixed pool of N
    tasks (classes and examples; task j drawn from its own generator, ``[seed, POOL_STREAM, j]``,
    so the pool needs no memory), taken in order, ``meta_batch`` per iteration, from the start
    again after the last; each class's rotation is drawn afresh every time a task is used, as the
    official code draws it in the graph. Otherwise every task is new.

    ``state()`` is the stream's position (the generator's state and the pool cursor) as JSON-able
    data; ``restore`` puts it back, so a resumed run draws the batches it would have drawn."""

    def __init__(
        self, protocol: Protocol, config: TrainConfig, pool: ClassPool | None, start: int = 0
    ):
        self.protocol, self.config, self.pool = protocol, config, pool
        self.rng = np.random.default_rng([config.seed, start])
        self.cursor = 0  # next task of the pool (task_pool > 0)

    def state(self) -> dict:
        return {"bit_generator": self.rng.bit_generator.state, "cursor": self.cursor}

    def restore(self, state: dict) -> None:
        """Continue from ``state()`` of a stream of the same configuration."""
        bit_state = state.get("bit_generator")
        if (
            not isinstance(bit_state, dict)
            or bit_state.get("bit_generator") != type(self.rng.bit_generator).__name__
        ):
            raise ValueError("the saved episode stream is not of this generator")
        self.rng.bit_generator.state = bit_state
        cursor = state.get("cursor", 0)
        size = max(1, self.config.task_pool)
        if isinstance(cursor, bool) or not isinstance(cursor, int) or not 0 <= cursor < size:
            raise ValueError(f"the saved task-pool position {cursor!r} is not in the pool")
        self.cursor = cursor

    def next(self) -> Episodes:
        p, c = self.protocol, self.config
        if p.dataset == "sinusoid":
            return sample_sinusoid(self.rng, c.meta_batch, c.shots, c.queries)
        if self.pool is None:
            raise ValueError(f"{p.name} needs the meta-train class pool")
        if c.task_pool:
            return build_episodes(self.pool, self._pool_tasks(), c.shots)
        idx = sample_indices(
            self.rng,
            self.pool.n_classes,
            self.pool.per_class,
            c.meta_batch,
            p.ways,
            c.shots,
            c.queries,
            p.rotate,
        )
        return build_episodes(self.pool, idx, c.shots)

    def _pool_tasks(self) -> EpisodeIndex:
        p, c = self.protocol, self.config
        tasks = [(self.cursor + t) % c.task_pool for t in range(c.meta_batch)]
        self.cursor = (self.cursor + c.meta_batch) % c.task_pool
        parts = [
            sample_indices(
                np.random.default_rng([c.seed, POOL_STREAM, j]),
                self.pool.n_classes,
                self.pool.per_class,
                1,
                p.ways,
                c.shots,
                c.queries,
                rotate=False,
            )
            for j in tasks
        ]
        classes = np.concatenate([x.classes for x in parts])
        examples = np.concatenate([x.examples for x in parts])
        rotations = np.zeros_like(classes)
        if p.rotate:
            rotations = self.rng.integers(0, 4, size=classes.shape)
        return EpisodeIndex(classes, rotations, examples)


def query_accuracy(params: Params, batch: Episodes, protocol: Protocol, inner: InnerLoop) -> float:
    """Percent of the batch's query examples classified right by the weights each task adapts
    to from ``params`` (the weights whose query loss is the meta-loss), without a graph."""
    fast = adapt(
        params, batch.support_x, batch.support_y, protocol.arch, inner, tasks=True, meta=False
    )
    with torch.no_grad():
        out = forward_tasks(fast, batch.query_x, protocol.arch)  # (T, Q, ways)
        return float((out.argmax(-1) == batch.query_y).to(torch.float64).mean()) * 100.0


def _optimizer_state(opt: torch.optim.Adam, names: list[str]) -> dict[str, dict[str, Tensor]]:
    """Adam's per-parameter state (step, exp_avg, exp_avg_sq) by parameter name."""
    state = opt.state_dict()["state"]
    return {
        names[i]: {slot: v.detach().clone() for slot, v in slots.items() if torch.is_tensor(v)}
        for i, slots in state.items()
    }


def _load_optimizer_state(
    opt: torch.optim.Adam, names: list[str], saved: dict[str, dict[str, Tensor]]
) -> None:
    unknown = set(saved) - set(names)
    if unknown:
        raise ValueError(f"the saved optimiser state names unknown parameters {sorted(unknown)}")
    current = opt.state_dict()
    opt.load_state_dict(
        {
            "state": {i: dict(saved[n]) for i, n in enumerate(names) if n in saved},
            "param_groups": current["param_groups"],
        }
    )


def meta_train(
    protocol: Protocol,
    config: TrainConfig,
    pool: ClassPool | None,
    *,
    init: Params | None = None,
    start: int = 0,
    resume: TrainState | None = None,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    on_iteration: Callable[[int, float, Params], None] | None = None,
    on_progress: Callable[[TrainProgress], None] | None = None,
    accuracy_every: int = ACCURACY_EVERY,
    state_path: str | Path | None = None,
    state_every: float = STATE_EVERY_SECONDS,
    validate: Callable[[Params], float] | None = None,
    validate_every: int = 0,
) -> Params:
    """Meta-train from ``init`` (default: the official initialisation from ``config.seed``) for
    iterations ``start+1 .. config.iterations``; ``on_iteration(i, meta_loss, params)`` after
    each, then ``on_progress(TrainProgress)``.

    With ``on_progress`` and a classification protocol, the query accuracy is measured on the
    first iteration, every ``accuracy_every`` and the last: the batch's tasks adapted again from
    the parameters before that meta-update (an inner loop without a graph; no effect on the
    training, which draws no random numbers for it).

    Resuming: ``resume`` (a ``TrainState``, see ``maml_ref.state``) continues a run exactly where
    it stopped: parameters, Adam's moments and steps, the episode stream's position, torch's
    generators, the running loss and the validation curve (``init`` and ``start`` are then
    ignored). With ``state_path`` the full state is written there atomically every
    ``state_every`` seconds (0: after every iteration), after the last iteration, and when an
    exception (a cancelled run, Ctrl-C) leaves the loop at an iteration boundary, so what is on
    disk is always a state a run can continue from.

    ``validate(params)`` (with ``validate_every`` > 0): the metric on validation episodes, before
    the first iteration of a fresh run, every ``validate_every`` iterations and after the last;
    the points are in every TrainProgress and in the saved state. It must not draw from torch's
    global generator (an evaluation on fixed episodes does not)."""
    arch = protocol.arch
    if resume is not None:
        why = resume.config_mismatch(config.to_dict(), protocol.name)
        if why:
            raise ValueError(f"cannot resume from this training state: {why}")
        init, start = resume.params, resume.iteration
    if init is None:
        init = init_params(arch, torch.Generator().manual_seed(config.seed))
    names = list(init)
    params = {
        k: v.detach().to(device=device, dtype=torch.float32).clone().requires_grad_()
        for k, v in init.items()
    }
    opt = torch.optim.Adam(params.values(), lr=config.meta_lr)
    inner = InnerLoop(config.inner_steps, config.inner_lr, config.first_order)
    stream = EpisodeStream(protocol, config, pool, start)
    total = config.iterations
    losses: deque[float] = deque(maxlen=LOSS_WINDOW)
    accuracy: float | None = None
    accuracy_at: int | None = None
    curve: list[tuple[int, float]] = []
    seconds_before = 0.0
    cuda = torch.device(device).type == "cuda"
    if resume is not None:
        _load_optimizer_state(opt, names, resume.optimizer)
        stream.restore(resume.stream)
        torch.set_rng_state(resume.torch_rng)
        if cuda and resume.cuda_rng and len(resume.cuda_rng) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(resume.cuda_rng)
        losses.extend(resume.losses)
        accuracy, accuracy_at = resume.accuracy, resume.accuracy_at
        curve = [(int(i), float(v)) for i, v in resume.validation]
        seconds_before = resume.seconds
    measure = on_progress is not None and protocol.is_classification
    began = time.perf_counter()
    saved_at: int | None = start if resume is not None else None
    last_save = time.monotonic()
    done_at: int | None = start  # the iteration whose state ``params`` etc. hold (None: mid-way)

    def snapshot(i: int) -> TrainState:
        return TrainState(
            protocol=protocol.name,
            config=config.to_dict(),
            iteration=i,
            params={k: v.detach().to("cpu") for k, v in params.items()},
            optimizer=_optimizer_state(opt, names),
            stream=stream.state(),
            torch_rng=torch.get_rng_state(),
            cuda_rng=list(torch.cuda.get_rng_state_all()) if cuda else [],
            losses=list(losses),
            accuracy=accuracy,
            accuracy_at=accuracy_at,
            validation=[[i_, v] for i_, v in curve],
            seconds=seconds_before + time.perf_counter() - began,
        )

    def save(i: int) -> None:
        nonlocal saved_at, last_save
        save_state(state_path, snapshot(i))
        saved_at, last_save = i, time.monotonic()
        # DEBUG: with a short interval this would fill a log tail; TrainProgress.saved_at says it
        log.debug("training state saved at iteration %d/%d", i, total)

    def validate_now(i: int) -> None:
        value = float(validate(params))
        curve.append((i, value))
        log.info("iteration %d/%d: validation %s %.4f", i, total, protocol.metric, value)

    log.info(
        "meta-training %s for iterations %d..%d: %s",
        protocol.name,
        start + 1,
        total,
        config.to_dict(),
    )
    if resume is not None:
        log.info("resumed from the training state at iteration %d", start)
    try:
        if validate is not None and validate_every > 0 and start == 0 and not curve:
            validate_now(0)
        for i in range(start + 1, total + 1):
            done_at = None
            batch = stream.next().to(device)
            if config.query_mode == "per_task":
                grads, loss = meta_gradient_per_task(params, batch, arch, inner)
            else:
                grads, loss = meta_gradient(params, batch, arch, inner, config.query_mode)
            if not math.isfinite(loss):
                raise FloatingPointError(f"meta-loss became {loss} at iteration {i}")
            if measure and (i == start + 1 or i % accuracy_every == 0 or i == total):
                accuracy, accuracy_at = query_accuracy(params, batch, protocol, inner), i
            for k, p in params.items():
                g = grads[k]
                p.grad = g.clamp(-config.grad_clip, config.grad_clip) if config.grad_clip else g
            opt.step()
            losses.append(loss)
            done_at = i
            if validate is not None and validate_every > 0:
                if i % validate_every == 0 or i == total:
                    validate_now(i)
            if on_iteration:
                on_iteration(i, loss, params)
            if on_progress:
                on_progress(
                    TrainProgress(
                        iteration=i,
                        total=total,
                        start=start,
                        meta_loss=sum(losses) / len(losses),
                        query_accuracy=accuracy,
                        accuracy_iteration=accuracy_at,
                        seconds=time.perf_counter() - began,
                        validation=tuple(curve),
                        saved_at=saved_at,
                    )
                )
            if i % LOG_EVERY == 0 or i == total:
                log.info("iteration %d/%d: meta-loss %.4f", i, total, loss)
            if progress and (i % 10 == 0 or i == total):
                progress("training", i, total)
            if state_path is not None and (
                i == total or time.monotonic() - last_save >= state_every
            ):
                save(i)
    except BaseException:
        # Stopped between iterations (a callback raised: a cancelled run, an interrupt): keep
        # what was done. Mid-iteration (done_at None) the last state on disk stays as it is.
        if state_path is not None and done_at is not None and done_at != saved_at:
            try:
                save(done_at)
            except Exception:
                log.warning("could not save the training state on stopping", exc_info=True)
        raise
    return {k: v.detach() for k, v in params.items()}


def pretrain(
    protocol: Protocol,
    config: TrainConfig,
    *,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> Params:
    """The paper's baseline for regression (Figure 2, "pretrained"): one network fit to all tasks
    at once, no inner loop in training; same initialisation, optimiser, tasks and iterations."""
    if protocol.is_classification:
        raise ValueError(
            "pretraining is the regression baseline; classification labels are per episode"
        )
    arch = protocol.arch
    init = init_params(arch, torch.Generator().manual_seed(config.seed))
    params = {k: v.to(device).requires_grad_() for k, v in init.items()}
    opt = torch.optim.Adam(params.values(), lr=config.meta_lr)
    stream = EpisodeStream(protocol, config, None)
    for i in range(1, config.iterations + 1):
        b = stream.next().to(device)
        x = torch.cat([b.support_x, b.query_x], dim=1)  # (T, K+Q, 1)
        y = torch.cat([b.support_y, b.query_y], dim=1)  # (T, K+Q, 1)
        loss = (
            (forward(params, x.reshape(-1, x.shape[-1]), arch) - y.reshape(-1, 1)).square().mean()
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress and (i % 10 == 0 or i == config.iterations):
            progress("pretraining", i, config.iterations)
    return {k: v.detach() for k, v in params.items()}
