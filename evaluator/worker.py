"""What a worker does with a claimed run: report progress and heartbeats, run maml_ref, decide.

The task in ``tasks.py`` claims the run and hands it here. Every write is conditional on the run
still being this worker's (status running, this claim token): a run cancelled by a curator or
re-queued by the reaper is abandoned at the next write, and its verdict is never recorded.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections import deque
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .decision import REJECTED, Decision, decide
from .device import DeviceUnavailable, worker_device
from .models import Run, Submission
from .protocols import REPRODUCE, data_problem, protocol_by_maml_name, to_train_config
from .services import fail_run, finish_run, site_fault, without_paths

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 50
PROGRESS_EVERY_SECONDS = 0.5


def setting(name: str, default):
    return getattr(settings, name, default)


def new_token() -> str:
    """A claim token naming the host and process, unique per claim."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


class StorageUnavailable(OSError):
    """The stored checkpoint could not be read for a reason a retry may cure (an I/O error, a
    storage mount away): retried as an infrastructure error (``tasks.INFRASTRUCTURE_ERRORS``)."""


def stored_checkpoint_problem(submission: Submission) -> str | None:
    """Why the site's stored copy of a submitted checkpoint cannot be evaluated, or None when it
    is there and is the file that was submitted (same SHA-256). A missing, unreadable or changed
    file is the site's fault, not the claim's. Raises ``StorageUnavailable`` for an error that a
    retry may cure."""
    name = submission.checkpoint.name
    if not name:
        return "The submitted checkpoint was not stored"
    digest = hashlib.sha256()
    try:
        with submission.checkpoint.storage.open(name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        return "The site's stored copy of the checkpoint is missing"
    except (PermissionError, IsADirectoryError) as exc:
        return f"The site cannot read its stored copy of the checkpoint ({exc.strerror})"
    except OSError as exc:
        raise StorageUnavailable(
            f"the checkpoint storage is unavailable ({exc.strerror or exc})"
        ) from exc
    if submission.checkpoint_sha256 and digest.hexdigest() != submission.checkpoint_sha256:
        return (
            "The site's stored copy of the checkpoint is damaged (its SHA-256 is no longer the "
            "submitted file's)"
        )
    return None


class RunAbandoned(Exception):
    """The run is no longer this worker's (cancelled, or re-queued as stale): stop quietly."""


class RunReporter:
    """Progress, log tail and heartbeat of one run, written through its claim token."""

    def __init__(self, run_pk: int, token: str):
        self.pk = run_pk
        self.token = token
        self.lines: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self.phase = ""
        self.last_write = 0.0
        self.last_logged_pct = -1
        self.abandoned = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_pk}", daemon=True)

    # Heartbeat: a thread, so that a long phase without progress still shows the worker alive.
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        interval = float(setting("EVALUATOR_HEARTBEAT_SECONDS", 5))
        try:
            while not self._stop.wait(interval):
                try:
                    alive = Run.objects.owned(self.pk, self.token).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a lost database: the next beat tries again
                    log.warning("heartbeat of run %s failed", self.pk, exc_info=True)
                    continue
                if not alive:
                    self.abandoned.set()
                    return
        finally:
            connection.close()

    # Log tail.
    def log(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self.lines.append(f"{stamp} {line}")

    def tail(self) -> str:
        """The last lines, as users see them (server paths cut to their last part)."""
        with self._lock:
            return without_paths("\n".join(self.lines))

    # Progress: called by maml_ref as progress(phase, done, total); throttled.
    def progress(self, phase: str, done: int, total: int, **fields) -> None:
        if self.abandoned.is_set():
            raise RunAbandoned()
        now = time.monotonic()
        changed = phase != self.phase
        if changed:
            self.log(f"{phase}: started ({total} to do)")
            self.phase = phase
            self.last_logged_pct = -1
        pct = int(100 * done / total) if total else 0
        if total and pct // 10 > self.last_logged_pct // 10:
            self.last_logged_pct = pct
            self.log(f"{phase}: {done}/{total}")
        if not changed and done < total and now - self.last_write < PROGRESS_EVERY_SECONDS:
            return
        self.last_write = now
        self.write(phase=phase, progress_done=done, progress_total=total, **fields)

    def training(self, p) -> None:
        """A meta-training report (maml_ref's TrainProgress, every iteration): the progress
        above with the run's ``training`` figures; raises RunAbandoned once cancelled."""
        self.progress("training", p.iteration, p.total, training=training_fields(p))

    def write(self, **fields) -> None:
        fields.setdefault("log_tail", self.tail())
        updated = Run.objects.owned(self.pk, self.token).update(
            heartbeat_at=timezone.now(), **fields
        )
        if not updated:
            self.abandoned.set()
            raise RunAbandoned()


class _TailHandler(logging.Handler):
    def __init__(self, reporter: RunReporter):
        super().__init__(logging.INFO)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        self.reporter.log(record.getMessage())


def execute(run_pk: int, token: str) -> str:
    """Run a claimed run to its end. Returns the final status (or "abandoned")."""
    import maml_ref
    from maml_ref.api import run_evaluate, run_reproduce
    from maml_ref.checkpoint import CheckpointError

    run = Run.objects.select_related("submission__benchmark", "submission__metric").get(pk=run_pk)
    submission: Submission = run.submission
    protocol = protocol_by_maml_name(run.protocol or submission.protocol)
    reporter = RunReporter(run_pk, token)
    handler = _TailHandler(reporter)
    maml_logger = logging.getLogger("maml_ref")
    maml_logger.addHandler(handler)
    if maml_logger.level == logging.NOTSET or maml_logger.level > logging.INFO:
        maml_logger.setLevel(logging.INFO)
    reporter.start()
    try:
        if protocol is None:
            fail_run(run_pk, token, f"No verification protocol named {run.protocol!r}.")
            return Run.Status.FAILED
        data_dir = str(settings.MAML_DATA_DIR)
        try:
            device = worker_device()
        except DeviceUnavailable as exc:
            fail_run(run_pk, token, f"This worker cannot run it: {exc}.")
            return Run.Status.FAILED
        mode = "transductive" if submission.transductive else "non-transductive"
        reporter.log(
            f"{submission.kind} {protocol.maml_protocol} ({mode}) with maml_ref "
            f"{maml_ref.__version__} on {socket.gethostname()}"
        )
        reporter.write(
            phase="starting",
            maml_ref_version=maml_ref.__version__,
            evaluation_mode=mode,
        )
        # Tests only (settings.MAML_EVAL_EPISODES): fewer episodes than the protocol's 600.
        episodes = setting("MAML_EVAL_EPISODES", None)
        try:
            if submission.kind == REPRODUCE:
                out = Path(settings.MEDIA_ROOT) / "reproduced" / f"run-{run_pk}.safetensors"
                out.parent.mkdir(parents=True, exist_ok=True)
                result = run_reproduce(
                    to_train_config(protocol, submission.config or {}),
                    protocol.maml_protocol,
                    data_dir=data_dir,
                    device=device,
                    progress=reporter.progress,
                    checkpoint_out=str(out),
                    transductive=submission.transductive,
                    episodes=int(episodes) if episodes else None,
                    state_path=state_path(run_pk),
                    state_every=float(setting("MAML_STATE_EVERY_SECONDS", 300)),
                    validate_every=int(setting("MAML_VALIDATE_EVERY", 500)),
                    validate_episodes=int(setting("MAML_VALIDATE_EPISODES", 100)),
                    on_train=reporter.training,
                )
            else:
                problem = stored_checkpoint_problem(submission)
                if problem is not None:
                    return _site_fault(run_pk, token, reporter, problem)
                result = run_evaluate(
                    submission.checkpoint.path,
                    protocol.maml_protocol,
                    transductive=submission.transductive,
                    data_dir=data_dir,
                    device=device,
                    episodes=int(episodes) if episodes else None,
                    progress=reporter.progress,
                )
        except FileNotFoundError as exc:
            problem = data_problem(protocol)
            if problem is None:
                raise
            log.warning("run %s: %s", run_pk, exc)  # the path, for the operator's log
            return _site_fault(run_pk, token, reporter, problem, phase="no data")
        except CheckpointError as exc:
            if submission.kind != REPRODUCE:
                # The file may have gone or changed under the reader: the site's fault then.
                problem = stored_checkpoint_problem(submission)
                if problem is not None:
                    return _site_fault(run_pk, token, reporter, problem)
                if isinstance(exc.__context__, OSError):  # maml_ref could not read it at all
                    raise StorageUnavailable(
                        f"the stored checkpoint could not be read ({exc.__context__})"
                    ) from exc
            reason = without_paths(f"The checkpoint cannot be evaluated: {exc}")
            reporter.log(reason)
            reporter.write(phase="rejected")
            # A bad artefact is the claim's fault, not the worker's: rejected, never retried.
            finish_run(run_pk, token, Decision(REJECTED, reason), {"log_tail": reporter.tail()})
            return Run.Status.REJECTED
        decision = decide(
            submission.claimed_value,
            result.mean,
            result.ci95,
            protocol.higher_is_better,
            protocol.tolerance,
        )
        reporter.log(f"reproduced {result.mean:.4g} ± {result.ci95:.4g}: {decision.verdict}")
        episodes = int(getattr(result, "episodes", 0) or len(result.scores))
        seeds = {"evaluation": getattr(result, "seed", None)}
        if submission.kind == REPRODUCE:
            seeds["training"] = (submission.config or {}).get("seed")
        evidence = {
            "parameters": {
                "episodes": episodes,
                "inner_steps": getattr(result, "inner_steps", None),
                "inner_lr": getattr(result, "inner_lr", None),
                "queries": getattr(result, "queries", None),
                "evaluation_mode": mode,
                "metric": getattr(result, "metric", ""),
                "seconds": getattr(result, "seconds", None),
            },
            "episodes_fingerprint": str(getattr(result, "episodes_sha256", "") or ""),
            "host_class": host_class(str(getattr(result, "device", "") or "")),
            "reproduced_value": finite_or_none(result.mean),
            "ci95": finite_or_none(result.ci95),
            "episode_scores": [finite_or_none(s) for s in result.scores],
            "seeds": seeds,
            "device": str(getattr(result, "device", "") or ""),
            "evaluation_mode": "transductive" if result.transductive else "non-transductive",
            "log_tail": reporter.tail(),
            "progress_done": episodes,
            "progress_total": episodes,
        }
        finished = finish_run(run_pk, token, decision, evidence)
        return decision.verdict if finished else "abandoned"
    except RunAbandoned:
        log.info("run %s is no longer ours (cancelled or re-queued); stopped", run_pk)
        record_stop(run_pk, token, kept_state(run_pk) if submission.kind == REPRODUCE else "")
        return "abandoned"
    finally:
        reporter.stop()
        maml_logger.removeHandler(handler)


def _site_fault(run_pk, token, reporter, problem: str, phase: str = "site fault") -> str:
    """End the run ``failed``: the site could not do its part (never ``rejected``)."""
    reason = site_fault(problem)
    log.warning("run %s: %s", run_pk, problem)
    reporter.log(reason)
    reporter.write(phase=phase)
    fail_run(run_pk, token, reason, kind="site fault")
    return Run.Status.FAILED


def record_stop(run_pk: int, token: str, kept: str = "") -> None:
    """On the event log of a run cancelled under this worker: where it stopped (and ``kept``:
    what it left, e.g. a training state)."""
    run = Run.objects.filter(pk=run_pk, status=Run.Status.CANCELLED, worker=token).first()
    if run is not None:
        run.add_event(
            "stopped",
            f"The worker stopped at its next progress report "
            f"({run.progress_done}/{run.progress_total}).{kept}",
        )


def training_fields(p) -> dict:
    """What a run's page shows of a training, from maml_ref's TrainProgress: JSON for
    ``Run.training``. Times are this attempt's (a resumed attempt's rate counts only the
    iterations it ran); ``seconds_left`` counts the iterations left at that rate."""
    rate = p.rate
    left = p.seconds_left
    return {
        "iteration": p.iteration,
        "total": p.total,
        "resumed_from": p.start,
        "meta_loss": finite_or_none(p.meta_loss),
        "query_accuracy": None if p.query_accuracy is None else finite_or_none(p.query_accuracy),
        "validation": [[int(i), finite_or_none(v)] for i, v in p.validation],
        "seconds_per_100": round(100 / rate, 3) if rate > 0 else None,
        "seconds_left": round(left, 1) if left is not None else None,
        "saved_at": p.saved_at,
    }


def state_path(run_pk: int) -> Path:
    """Where a reproduce run keeps its training state: beside its reproduced checkpoint."""
    return Path(settings.MEDIA_ROOT) / "reproduced" / f"run-{run_pk}.state"


def kept_state(run_pk: int) -> str:
    """A sentence for a stopped run: the iteration of its kept training state, if any."""
    from maml_ref.state import StateError, load_state

    path = state_path(run_pk)
    if not path.exists():
        return ""
    try:
        return f" Its training state is kept at iteration {load_state(path).iteration}."
    except StateError:
        return ""


def host_class(device: str) -> str:
    """What kind of machine ran it: the GPU's name, or the CPU architecture and core count."""
    import platform

    if device.startswith("cuda"):
        try:
            import torch

            return f"GPU {torch.cuda.get_device_name(torch.device(device))}"
        except Exception:  # no name to give
            return "GPU"
    return f"CPU {platform.machine() or '?'}, {os.cpu_count() or '?'} cores"


def finite_or_none(x) -> float | None:
    """A float for the database, None for NaN/inf (JSON and some databases refuse them)."""
    x = float(x)
    return x if math.isfinite(x) else None
