"""The verification protocols: which benchmark the reference implementation can check, and how.

A protocol is data, not a code path: the leaderboard benchmark it serves, the ``maml_ref``
protocol that runs it, the metric its output is compared against (and that metric's direction),
the tolerance of the decision, the kinds of run it supports, time limits per kind, and the
budget a training configuration (a ``reproduce`` run) may ask for.

The tolerance rule (see ``evaluator.decision.decide``): a claim is verified when it lies within
the reproduced 95% interval widened by ``tolerance`` on the side the claim may exceed it. For a
higher-is-better metric: ``claimed <= reproduced_mean + ci95 + tolerance``. For a
lower-is-better metric (MSE): ``claimed >= reproduced_mean - ci95 - tolerance``. A claim that is
more modest than the reproduction (lower accuracy, higher MSE) is verified: the published figure
never overstates what was reproduced. Tolerances are absolute, in the metric's unit
(percentage points of accuracy; MSE units).

A benchmark without a protocol (miniImageNet here: no data on the workers) is not an error: its
submissions are stored as ``unverifiable`` and never published.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ValidationError

EVALUATE = "evaluate"
REPRODUCE = "reproduce"

#: Which Celery queue serves which kind of run: a long training never holds up a checkpoint check.
QUEUES = MappingProxyType({EVALUATE: "cpu", REPRODUCE: "gpu"})


@dataclass(frozen=True)
class Param:
    """One key of a training configuration: its type, bounds, and the maml_ref TrainConfig field
    it sets (whose default, the paper's recipe for the protocol, applies when the key is absent).
    """

    type: type
    maml_field: str
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def check(self, key: str, value: Any) -> Any:
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValidationError(f"{key}: expected true or false, got {value!r}.")
            return value
        if isinstance(value, bool):
            raise ValidationError(f"{key}: expected a number, got {value!r}.")
        if self.type is int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                raise ValidationError(f"{key}: expected an integer, got {value!r}.")
        elif self.type is float:
            if not isinstance(value, int | float):
                raise ValidationError(f"{key}: expected a number, got {value!r}.")
            value = float(value)
            if not math.isfinite(value):
                raise ValidationError(f"{key}: expected a finite number, got {value!r}.")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"{key}: {value} is below the minimum {self.minimum}.")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"{key}: {value} is over the budget limit {self.maximum}.")
        return value


@dataclass(frozen=True)
class TimeLimits:
    """Celery time limits in seconds: the soft one raises in the task, the hard one kills it."""

    soft: int
    hard: int

    def __post_init__(self) -> None:
        if not 0 < self.soft < self.hard:
            raise ValueError("a hard time limit must lie above the soft one")


@dataclass(frozen=True)
class VerificationProtocol:
    benchmark_name: str  # leaderboard.Benchmark.name
    maml_protocol: str  # maml_ref.protocols name
    metric_name: str  # leaderboard.Metric.name the claim must be made in
    higher_is_better: bool
    tolerance: float  # absolute, in the metric's unit (see the module docstring)
    kinds: tuple[str, ...] = (EVALUATE, REPRODUCE)
    time_limits: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    config_schema: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    #: Upper bound of meta_iterations x meta_batch_size (tasks seen in meta-training).
    max_meta_tasks: int = 0
    unit: str = ""

    def supports(self, kind: str) -> bool:
        return kind in self.kinds

    def queue_for(self, kind: str) -> str:
        return QUEUES[kind]

    def limits_for(self, kind: str) -> TimeLimits:
        return self.time_limits[kind]


#: The largest fixed task pool a configuration may ask for (the official code's is 200,000).
MAX_TASK_POOL = 1_000_000


def _schema(
    max_iterations: int, max_meta_batch: int, max_inner_lr: float, task_pool: bool = False
) -> MappingProxyType:
    """The keys of a training configuration; ``task_pool`` for image datasets only (the official
    code draws fresh sinusoid tasks every iteration, and so does maml_ref)."""
    pool = {}
    if task_pool:
        pool["task_pool"] = Param(
            int,
            "task_pool",
            0,
            MAX_TASK_POOL,
            "0: fresh tasks every iteration (the default); N: cycle through a fixed pool of N "
            "pre-generated tasks, as the official code (200,000)",
        )
    return MappingProxyType(
        {
            "meta_iterations": Param(int, "iterations", 1, max_iterations, "outer-loop updates"),
            "meta_batch_size": Param(int, "meta_batch", 1, max_meta_batch, "tasks per update"),
            "inner_steps": Param(int, "inner_steps", 1, 10, "inner gradient steps in training"),
            "inner_lr": Param(float, "inner_lr", 1e-6, max_inner_lr, "inner step size"),
            "meta_lr": Param(float, "meta_lr", 1e-7, 0.1, "Adam step size of the outer loop"),
            "first_order": Param(bool, "first_order", help="first-order MAML (fo-MAML)"),
            "seed": Param(int, "seed", 0, 2**31 - 1, "random seed of meta-training"),
            **pool,
        }
    )


def _limits(evaluate: tuple[int, int], reproduce: tuple[int, int]) -> MappingProxyType:
    return MappingProxyType({EVALUATE: TimeLimits(*evaluate), REPRODUCE: TimeLimits(*reproduce)})


_HOUR = 3600
_OMNIGLOT_TOLERANCE = 0.5  # percentage points of accuracy below the reproduced interval


def _omniglot(
    benchmark_name: str, maml_protocol: str, evaluate_soft: int, train_hours: int, tasks: int
) -> VerificationProtocol:
    """An Omniglot benchmark: accuracy, the shared tolerance, 60,000 iterations at most, up to
    ``tasks`` per update in the budget, the paper's meta-batch size 32 at most in a config."""
    return VerificationProtocol(
        benchmark_name=benchmark_name,
        maml_protocol=maml_protocol,
        metric_name="Accuracy",
        higher_is_better=True,
        tolerance=_OMNIGLOT_TOLERANCE,
        time_limits=_limits(
            (evaluate_soft, evaluate_soft + 60), (train_hours * _HOUR, train_hours * _HOUR + 600)
        ),
        config_schema=_schema(60000, 32, 10.0, task_pool=True),
        max_meta_tasks=60000 * tasks,
        unit="%",
    )


PROTOCOLS: MappingProxyType = MappingProxyType(
    {
        p.benchmark_name: p
        for p in (
            _omniglot("OMNIGLOT - 1-Shot, 5-way", "omniglot-5w1s", 600, 12, 32),
            _omniglot("OMNIGLOT - 5-Shot, 5-way", "omniglot-5w5s", 900, 12, 32),
            _omniglot("OMNIGLOT - 1-Shot, 20-way", "omniglot-20w1s", 1200, 24, 16),
            _omniglot("OMNIGLOT - 5-Shot, 20-way", "omniglot-20w5s", 1800, 24, 16),
            VerificationProtocol(
                benchmark_name="Sinusoid Regression (10-shot)",
                maml_protocol="sinusoid-10shot",
                metric_name="MSE",
                higher_is_better=False,
                tolerance=0.05,
                time_limits=_limits((300, 360), (6 * _HOUR, 6 * _HOUR + 600)),
                config_schema=_schema(70000, 100, 1.0),
                max_meta_tasks=70000 * 25,
            ),
        )
    }
)

#: The longest hard time limit of any protocol: a broker's visibility timeout must exceed it.
MAX_HARD_TIME_LIMIT = max(
    limits.hard for p in PROTOCOLS.values() for limits in p.time_limits.values()
)


def protocol_for_benchmark(benchmark: Any) -> VerificationProtocol | None:
    """The protocol of a benchmark (a Benchmark, or its name); None where none can check it."""
    name = benchmark if isinstance(benchmark, str) else getattr(benchmark, "name", None)
    return PROTOCOLS.get(name)


def protocol_by_maml_name(maml_protocol: str) -> VerificationProtocol | None:
    for protocol in PROTOCOLS.values():
        if protocol.maml_protocol == maml_protocol:
            return protocol
    return None


def unverifiable_reason(
    protocol: VerificationProtocol | None, kind: str, metric_name: str
) -> str | None:
    """Why a claim cannot be checked by the reference runner, or None when it can."""
    if protocol is None:
        return "No reference runner for this benchmark (no data on the workers): not verifiable."
    if not protocol.supports(kind):
        return f"The reference runner of this benchmark cannot {kind} a submission."
    if metric_name != protocol.metric_name:
        return (
            f"The reference runner reports {protocol.metric_name}, not {metric_name}: "
            "this claim cannot be checked."
        )
    return None


def validate_training_config(protocol: VerificationProtocol, config: Any) -> dict:
    """The configuration with the paper's recipe (maml_ref's defaults for the protocol) filling
    every absent key, or ValidationError listing every problem found.

    Unknown keys, wrong types, values out of bounds and a total budget over the protocol's limit
    are refused; a reproduce run never starts on a configuration this did not accept.
    """
    if not protocol.supports(REPRODUCE):
        raise ValidationError(f"{protocol.benchmark_name} cannot be reproduced from a config.")
    if not isinstance(config, dict):
        raise ValidationError("The training configuration must be a JSON object.")
    schema = protocol.config_schema
    errors: list[str] = []
    unknown = sorted(str(k) for k in config if k not in schema)
    if unknown:
        errors.append(
            f"Unknown key(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(schema))}."
        )
    defaults = recipe_defaults(protocol)
    clean: dict = {}
    for key, param in schema.items():
        if key not in config:
            clean[key] = defaults[key]
            continue
        try:
            clean[key] = param.check(key, config[key])
        except ValidationError as exc:
            errors.extend(exc.messages)
    if not errors:
        tasks = clean["meta_iterations"] * clean["meta_batch_size"]
        if tasks > protocol.max_meta_tasks:
            errors.append(
                f"Budget: meta_iterations x meta_batch_size = {tasks} tasks, over the limit of "
                f"{protocol.max_meta_tasks}."
            )
    if errors:
        raise ValidationError(errors)
    return clean


def recipe_defaults(protocol: VerificationProtocol) -> dict:
    """The paper's recipe for the protocol (maml_ref's defaults), under this schema's keys."""
    from maml_ref.protocols import get_protocol
    from maml_ref.train import TrainConfig

    base = TrainConfig.from_protocol(get_protocol(protocol.maml_protocol)).to_dict()
    return {key: base[param.maml_field] for key, param in protocol.config_schema.items()}


def to_train_config(protocol: VerificationProtocol, config: dict) -> dict:
    """A validated configuration under maml_ref's TrainConfig field names."""
    return {protocol.config_schema[key].maml_field: value for key, value in config.items()}


# --- What the data present lets run -----------------------------------------------------------

#: maml_ref protocols whose network a benchmark's checkpoints must match, also for a benchmark
#: with no verification protocol (its claims are stored unverifiable, but never with a network
#: of another benchmark: a miniImageNet claim with an Omniglot checkpoint is refused).
ARCHITECTURES: MappingProxyType = MappingProxyType(
    {
        "Mini-Imagenet 5-way (1-shot)": "miniimagenet-5w1s",
        "Mini-Imagenet 5-way (5-shot)": "miniimagenet-5w5s",
    }
)


def architecture_protocol(benchmark: Any) -> str | None:
    """The maml_ref protocol whose network the benchmark's checkpoints must have, if known."""
    protocol = protocol_for_benchmark(benchmark)
    if protocol is not None:
        return protocol.maml_protocol
    name = benchmark if isinstance(benchmark, str) else getattr(benchmark, "name", None)
    return ARCHITECTURES.get(name)


def data_problem(protocol: VerificationProtocol) -> str | None:
    """Why the protocol cannot run with the data the workers read (settings.MAML_DATA_DIR, the
    same setting for the web and the workers), or None when it can. Names no server path."""
    from django.conf import settings

    from maml_ref import datadir
    from maml_ref.protocols import get_protocol

    dataset = get_protocol(protocol.maml_protocol).dataset
    if dataset != "omniglot":
        return None  # sinusoid tasks are generated
    if datadir.omniglot_dir(Path(settings.MAML_DATA_DIR)) is not None:
        return None
    return (
        "No Omniglot data on the verification workers, so this benchmark cannot be verified "
        f"now: the site's operator must run `{datadir.FETCH_COMMAND}` (or set "
        f"{datadir.ENV} to a directory holding the Omniglot files) and restart the workers."
    )


def data_report() -> list[str]:
    """One line per protocol: runs with the data present, or not and why (paths included:
    this is for the operator's log, not for users)."""
    from django.conf import settings

    from maml_ref import datadir

    root = Path(settings.MAML_DATA_DIR)
    found = datadir.omniglot_dir(root)
    lines = []
    for protocol in PROTOCOLS.values():
        problem = data_problem(protocol)
        if problem is None:
            where = f" (data in {found})" if found and protocol.metric_name == "Accuracy" else ""
            lines.append(f"can verify: {protocol.benchmark_name} [{protocol.maml_protocol}]{where}")
        else:
            lines.append(
                f"cannot verify: {protocol.benchmark_name} [{protocol.maml_protocol}]: "
                f"no Omniglot data found in {root} (the {datadir.ENV} setting); fetch it with "
                f"`{datadir.FETCH_COMMAND} --dir {root}`"
            )
    for benchmark in ARCHITECTURES:
        lines.append(f"cannot verify: {benchmark}: no reference runner (stored unverifiable)")
    return lines


def log_data_report(logger) -> None:
    for line in data_report():
        (logger.info if line.startswith("can ") else logger.warning)("verification: %s", line)
