"""The data migrations of issue 18, run on the real database: leaderboard 0011 makes a verified
row's number the reproduced one (the claim kept beside it), evaluator 0004 brings existing rows
to one checkpoint, one row (a re-queue's second row removed, a copy linked to the first)."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("leaderboard", "0010_row_counts_and_search_index"),
    ("evaluator", "0003_run_evidence_checkpoint_public"),
]
AFTER = [
    ("leaderboard", "0012_result_one_checkpoint_one_row"),
    ("evaluator", "0004_run_same_checkpoint_as"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def latest_schema_after():
    """The database back at the latest migrations after the test (later migrations than
    ``AFTER`` add columns the other tests read)."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_verified_rows_get_the_measured_value_and_duplicates_one_row():
    old = migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        Dataset, Benchmark = (
            old.get_model("leaderboard", "Dataset"),
            old.get_model("leaderboard", "Benchmark"),
        )
        Metric, MLModel = (
            old.get_model("leaderboard", "Metric"),
            old.get_model("leaderboard", "Model"),
        )
        Result = old.get_model("leaderboard", "Result")
        Submission, Run = (
            old.get_model("evaluator", "Submission"),
            old.get_model("evaluator", "Run"),
        )
        user = User.objects.create(username="ada")
        bench = Benchmark.objects.create(
            name="B", slug="b", dataset=Dataset.objects.create(name="D", slug="d")
        )
        metric = Metric.objects.create(name="Accuracy", slug="accuracy")
        model = MLModel.objects.create(name="MAML", slug="maml")
        when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

        def published(sha, claim, measured, day):
            submission = Submission.objects.create(
                owner=user, benchmark=bench, metric=metric, claimed_value=claim,
                model_name="MAML", kind="evaluate", checkpoint_sha256=sha,
            )  # fmt: skip
            return submission, publish(submission, claim, measured, day)

        def publish(submission, claim, measured, day):
            row = Result.objects.create(
                benchmark=bench, metric=metric, model=model, value=claim,
                raw_value=f"{claim:g}", source="verified", evaluation_mode="transductive",
                reproduced_value=measured, reproduced_ci95=1.87,
                verified_at=when + datetime.timedelta(days=day),
            )  # fmt: skip
            return Run.objects.create(
                submission=submission, status="verified", result=row,
                reproduced_value=measured, ci95=1.87,
            )  # fmt: skip

        submission, first = published("a" * 64, 61.3, 61.33, 0)
        _, copy = published("a" * 64, 61.0, 61.33, 1)  # the same file again
        requeued_submission, requeued_old = published("b" * 64, 65.0, 66.0, 2)
        requeued_new = publish(requeued_submission, 72.0, 72.5, 3)  # a re-queue added a row
        archive = Result.objects.create(
            benchmark=bench, metric=metric, model=model, value=48.7, raw_value="48.7"
        )
    finally:
        new = migrate(AFTER)
    Result, Run = new.get_model("leaderboard", "Result"), new.get_model("evaluator", "Run")
    row = Result.objects.get(pk=first.result_id)
    assert (row.value, row.ci95, row.claimed_value, row.raw_value) == (61.33, 1.87, 61.3, "")
    assert row.checkpoint_sha256 == "a" * 64
    copy = Run.objects.get(pk=copy.pk)
    assert copy.result_id is None and copy.same_checkpoint_as_id == row.pk
    assert not Result.objects.filter(pk=first.result_id + 1).exists()
    # The re-queue's rows: one left, the newest run's, at its measured value.
    assert Run.objects.get(pk=requeued_old.pk).result_id is None
    kept = Result.objects.get(pk=Run.objects.get(pk=requeued_new.pk).result_id)
    assert (kept.value, kept.claimed_value) == (72.5, 72.0)
    assert Result.objects.filter(source="verified").count() == 2
    archive = Result.objects.get(pk=archive.pk)
    assert (archive.value, archive.claimed_value, archive.raw_value) == (48.7, None, "48.7")
    RunEvent = new.get_model("evaluator", "RunEvent")
    assert RunEvent.objects.filter(kind="unpublished").count() == 2
