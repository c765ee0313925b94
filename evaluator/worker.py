"""What a worker computes for a claimed run: maml_ref on the submission, and the evidence.

No database write here: ``runs.execute`` loads the run, reports progress through its claim
token, and writes the verdict. What goes wrong is raised, each kind for ``runs`` to end the
run as it should: ``SiteFault`` (the site cannot do its part: ``failed``), ``Unevaluable`` (the
artefact cannot be evaluated: ``rejected``), ``StorageUnavailable`` (retried).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path

from django.conf import settings

from .models import Submission
from .protocols import REPRODUCE, data_problem, to_train_config

log = logging.getLogger(__name__)


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


class SiteFault(Exception):
    """The site cannot do its part (its stored checkpoint gone or changed, no data): the run
    ends ``failed`` with the reason, never ``rejected``."""

    def __init__(self, problem: str, phase: str = "site fault"):
        super().__init__(problem)
        self.problem = problem
        self.phase = phase


class Unevaluable(ValueError):
    """The submitted artefact cannot be evaluated (maml_ref's ``CheckpointError``): the claim's
    fault, so the run is ``rejected`` with the reason and never retried."""


def measure(submission: Submission, protocol, run_pk: int, *, device: str, progress, on_train):
    """maml_ref on the submission: its stored checkpoint evaluated, or its configuration trained
    afresh then evaluated. ``progress(phase, done, total, **fields)`` and ``on_train(report)``
    are called as it goes (they may raise to stop it). Returns maml_ref's result."""
    from maml_ref.api import run_evaluate, run_reproduce
    from maml_ref.checkpoint import CheckpointError

    data_dir = str(settings.MAML_DATA_DIR)
    # Tests only (settings.MAML_EVAL_EPISODES): fewer episodes than the protocol's 600.
    episodes = settings.MAML_EVAL_EPISODES
    try:
        if submission.kind == REPRODUCE:
            out = Path(settings.MEDIA_ROOT) / "reproduced" / f"run-{run_pk}.safetensors"
            out.parent.mkdir(parents=True, exist_ok=True)
            return run_reproduce(
                to_train_config(protocol, submission.config or {}),
                protocol.maml_protocol,
                data_dir=data_dir,
                device=device,
                progress=progress,
                checkpoint_out=str(out),
                transductive=submission.transductive,
                episodes=int(episodes) if episodes else None,
                state_path=state_path(run_pk),
                state_every=float(settings.MAML_STATE_EVERY_SECONDS),
                validate_every=int(settings.MAML_VALIDATE_EVERY),
                validate_episodes=int(settings.MAML_VALIDATE_EPISODES),
                on_train=on_train,
            )
        problem = stored_checkpoint_problem(submission)
        if problem is not None:
            raise SiteFault(problem)
        return run_evaluate(
            submission.checkpoint.path,
            protocol.maml_protocol,
            transductive=submission.transductive,
            data_dir=data_dir,
            device=device,
            episodes=int(episodes) if episodes else None,
            progress=progress,
        )
    except FileNotFoundError as exc:
        problem = data_problem(protocol)
        if problem is None:
            raise
        log.warning("run %s: %s", run_pk, exc)  # the path, for the operator's log
        raise SiteFault(problem, phase="no data") from exc
    except CheckpointError as exc:
        if submission.kind != REPRODUCE:
            # The file may have gone or changed under the reader: the site's fault then.
            problem = stored_checkpoint_problem(submission)
            if problem is not None:
                raise SiteFault(problem) from exc
            if isinstance(exc.__context__, OSError):  # maml_ref could not read it at all
                raise StorageUnavailable(
                    f"the stored checkpoint could not be read ({exc.__context__})"
                ) from exc
        raise Unevaluable(f"The checkpoint cannot be evaluated: {exc}") from exc


def evidence(result, submission: Submission, mode: str) -> dict:
    """The run's figures and how they were measured, from maml_ref's ``EvalResult``: the fields of
    ``Run`` that ``runs.finish_run`` writes (the log tail apart)."""
    episodes = int(result.episodes or len(result.scores))
    seeds = {"evaluation": result.seed}
    if submission.kind == REPRODUCE:
        seeds["training"] = (submission.config or {}).get("seed")
    return {
        "parameters": {
            "episodes": episodes,
            "inner_steps": result.inner_steps,
            "inner_lr": result.inner_lr,
            "queries": result.queries,
            "evaluation_mode": mode,
            "metric": result.metric,
            "seconds": result.seconds,
        },
        "episodes_fingerprint": result.episodes_sha256,
        "host_class": host_class(result.device),
        "reproduced_value": finite_or_none(result.mean),
        "ci95": finite_or_none(result.ci95),
        "episode_scores": [finite_or_none(s) for s in result.scores],
        "seeds": seeds,
        "device": result.device,
        "evaluation_mode": "transductive" if result.transductive else "non-transductive",
        "progress_done": episodes,
        "progress_total": episodes,
    }


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
