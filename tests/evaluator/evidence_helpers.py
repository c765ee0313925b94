"""Verified (or rejected) runs finished through ``runs.finish_run``, as a worker does."""

import itertools

from django.core.files.uploadedfile import SimpleUploadedFile

from evaluator import runs, services
from evaluator.decision import REJECTED, VERIFIED, Decision
from evaluator.models import Run
from tests.evaluator import catalogue
from tests.evaluator.web_helpers import checkpoint_bytes

BENCHMARK = "OMNIGLOT - 1-Shot, 5-way"
_SEEDS = itertools.count(1)


def finished_run(
    owner,
    *,
    scores,
    verdict=VERIFIED,
    public=True,
    model_name="MAML",
    claimed=None,
    checkpoint: bytes | None = None,
):
    """A finished run of a submission of ``checkpoint`` (by default a file of its own: one
    checkpoint is one row, so two calls with the same file publish one row)."""
    bench = catalogue.benchmark(BENCHMARK)
    if checkpoint is None:
        checkpoint = checkpoint_bytes(seed=next(_SEEDS))
    mean = sum(scores) / len(scores)
    submission = services.create_submission(
        owner,
        benchmark=bench,
        metric=catalogue.metric("Accuracy"),
        claimed_value=claimed if claimed is not None else round(mean, 2),
        model_name=model_name,
        kind="evaluate",
        checkpoint_file=SimpleUploadedFile("init.safetensors", checkpoint),
        paper=catalogue.maml_paper(),
        checkpoint_public=public,
    )
    run = submission.current_run
    Run.objects.claim(run.pk, "test/1/token", host="testhost")
    evidence = {
        "reproduced_value": mean,
        "ci95": 1.5,
        "episode_scores": scores,
        "seeds": {"evaluation": 1234},
        "device": "cpu",
        "host_class": "CPU x86_64, 2 cores",
        "episodes_fingerprint": "ab" * 32,
        "maml_ref_version": "0.4.0",
        "evaluation_mode": "transductive",
        "parameters": {
            "episodes": len(scores),
            "inner_steps": 3,
            "inner_lr": 0.4,
            "queries": 15,
            "evaluation_mode": "transductive",
            "metric": "accuracy",
        },
    }
    reason = "within tolerance" if verdict == VERIFIED else "far below the claim"
    assert runs.finish_run(run.pk, "test/1/token", Decision(verdict, reason), evidence)
    run.refresh_from_db()
    return run


__all__ = ["REJECTED", "VERIFIED", "finished_run"]
