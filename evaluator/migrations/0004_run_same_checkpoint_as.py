# One checkpoint, one row (issue 18). Existing data is brought to the rule before the rule's
# column is filled (leaderboard 0012's partial unique index skips rows without a SHA-256):
#
# 1. A submission whose runs published several rows (a curator's re-queue used to add one)
#    keeps the row of its newest verified run; the older runs keep their evidence, lose the row.
# 2. Rows of the same checkpoint (SHA-256), benchmark and evaluation mode: the first verified
#    keeps the row; the later runs are linked to it (``same_checkpoint_as``), their rows removed.
# 3. Each remaining verified row of an evaluated checkpoint records its SHA-256.
#
# Every change is written on the run's event log. Nothing of a run (its figures, scores, log)
# is removed.

from django.db import migrations, models
from django.db.models.deletion import SET_NULL


def one_checkpoint_one_row(apps, schema_editor):
    Run = apps.get_model("evaluator", "Run")
    RunEvent = apps.get_model("evaluator", "RunEvent")
    Result = apps.get_model("leaderboard", "Result")

    def unpublish(run, message, keep=None):
        result_id = run.result_id
        run.result_id = None
        run.same_checkpoint_as_id = keep
        run.save(update_fields=["result", "same_checkpoint_as"])
        Result.objects.filter(pk=result_id).delete()
        RunEvent.objects.create(run=run, kind="unpublished", message=message)

    published = list(
        Run.objects.filter(result__isnull=False)
        .select_related("submission", "result")
        .order_by("submission_id", "-created_at", "-id")
    )
    newest = {}
    for run in published:
        kept = newest.setdefault(run.submission_id, run)
        if kept is not run:
            unpublish(
                run,
                f"Result #{run.result_id} removed: a later run of the same submission "
                f"(run #{kept.pk}, result #{kept.result_id}) replaces it.",
            )
    first = {}
    for run in sorted(
        newest.values(), key=lambda r: (r.result.verified_at is None, r.result.verified_at, r.pk)
    ):
        submission, result = run.submission, run.result
        if submission.kind != "evaluate" or not submission.checkpoint_sha256:
            continue
        key = (result.benchmark_id, result.evaluation_mode, submission.checkpoint_sha256)
        kept = first.setdefault(key, run)
        if kept is run:
            Result.objects.filter(pk=result.pk).update(
                checkpoint_sha256=submission.checkpoint_sha256
            )
        else:
            unpublish(
                run,
                f"Result #{result.pk} removed: the same checkpoint is already published on "
                f"this benchmark as result #{kept.result_id} (one checkpoint, one row).",
                keep=kept.result_id,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("evaluator", "0003_run_evidence_checkpoint_public"),
        ("leaderboard", "0012_result_one_checkpoint_one_row"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="same_checkpoint_as",
            field=models.ForeignKey(
                blank=True,
                help_text="The published row of the same checkpoint, when this run did not "
                "publish one",
                null=True,
                on_delete=SET_NULL,
                related_name="same_checkpoint_runs",
                to="leaderboard.result",
            ),
        ),
        migrations.RunPython(one_checkpoint_one_row, migrations.RunPython.noop),
    ]
