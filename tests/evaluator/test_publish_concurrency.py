"""Two workers publishing at once: claims of the same new paper create it once, and two runs of
the same checkpoint publish one row.

Found by the two-worker integration test on PostgreSQL: both publishers looked for the paper,
found none, and both created it (the second failed on the slug's unique key, and its verified run
ended failed). Publishers now take the catalogue's lock before they look, and the database's
unique index on a verified checkpoint (``unique_verified_checkpoint``) backs the second up.
"""

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from evaluator import publishing, services
from evaluator.models import Run
from leaderboard.models import Paper, Result

from . import catalogue

pytestmark = pytest.mark.django_db(transaction=True)


def _submission(owner, model_name, weights=None, claimed=90.0):
    """A submission whose run measured 90.5 ± 1.0 (``weights``: its file, by default its own)."""
    bench = catalogue.benchmark("OMNIGLOT - 1-Shot, 5-way", metric_name="Accuracy")
    submission = services.create_submission(
        owner,
        benchmark=bench,
        metric=catalogue.metric("Accuracy"),
        claimed_value=claimed,
        model_name=model_name,
        kind="evaluate",
        checkpoint_file=SimpleUploadedFile(
            "init.safetensors", weights or f"weights of {model_name}".encode()
        ),
        paper_fields={"title": "A Shared New Paper", "authors": ["A. Author"]},
    )
    Run.objects.filter(submission=submission).update(reproduced_value=90.5, ci95=1.0)
    return submission


def test_concurrent_publishes_of_one_new_paper_create_it_once(owner, monkeypatch):
    runs = [_submission(owner, f"MAML variant {i}").current_run.pk for i in range(2)]
    real_unique_slug = publishing.unique_slug

    def slow_unique_slug(*args, **kwargs):
        time.sleep(0.5)  # widen the window between "is it there?" and "create it"
        return real_unique_slug(*args, **kwargs)

    monkeypatch.setattr(publishing, "unique_slug", slow_unique_slug)
    barrier = threading.Barrier(2)
    errors = []

    def publish(run_pk):
        try:
            barrier.wait()
            with transaction.atomic():
                publishing.publish(Run.objects.get(pk=run_pk))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(pk,)) for pk in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert Paper.objects.filter(title="A Shared New Paper").count() == 1
    paper = Paper.objects.get(title="A Shared New Paper")
    assert Result.objects.verified().filter(paper=paper).count() == 2


def test_a_new_paper_named_like_an_existing_one_is_the_existing_one(owner):
    existing = Paper.objects.create(title="A Shared New Paper", slug="a-shared-new-paper")
    run = Run.objects.get(submission=_submission(owner, "MAML again"))
    with transaction.atomic():
        result = publishing.publish(run)
    assert result.paper == existing
    assert Paper.objects.count() == 1


def _publish_at_once(run_pks, pause=None):
    """Each run published and saved by its own thread (its own connection), all at once."""
    barrier = threading.Barrier(len(run_pks))
    errors = []

    def publish(run_pk):
        try:
            barrier.wait()
            with transaction.atomic():
                run = Run.objects.select_for_update().get(pk=run_pk)
                run.status = Run.Status.VERIFIED
                publishing.publish(run)
                run.save()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(pk,)) for pk in run_pks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return errors


def _one_row_of(run_pks):
    row = Result.objects.get()
    assert row.source == Result.Source.VERIFIED and (row.value, row.ci95) == (90.5, 1.0)
    published = Run.objects.get(result=row)
    (linked,) = Run.objects.filter(pk__in=run_pks).exclude(pk=published.pk)
    assert linked.result is None and linked.same_checkpoint_as == row
    assert f"as result #{row.pk}" in linked.reason
    return row, published, linked


def test_two_runs_of_one_checkpoint_publishing_at_once_make_one_row(owner, other_user):
    runs = [
        _submission(
            user, f"MAML by {user.username}", weights=b"one file", claimed=claimed
        ).current_run.pk
        for user, claimed in ((owner, 90.0), (other_user, 89.0))
    ]
    assert _publish_at_once(runs) == []
    row, published, linked = _one_row_of(runs)
    assert row.claimed_value == published.submission.claimed_value
    assert "another user, who keeps the row" in linked.reason


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one writing transaction at a time"
)
def test_without_the_lock_the_unique_index_still_keeps_one_row(owner, monkeypatch):
    """Two publishers that both looked and found nothing: the database refuses the second row
    (unique_verified_checkpoint), and the second run is linked to the first's row instead."""
    Paper.objects.create(title="A Shared New Paper", slug="a-shared-new-paper")  # no paper race
    runs = [
        _submission(owner, f"MAML {i}", weights=b"one file", claimed=90.0).current_run.pk
        for i in range(2)
    ]
    refused = []
    real_link_to = publishing._link_to

    def link_to(existing, run):
        refused.append(run.pk)
        return real_link_to(existing, run)

    monkeypatch.setattr(publishing, "_link_to", link_to)
    monkeypatch.setattr(publishing.CatalogueVersion, "lock", classmethod(lambda cls: None))
    real_paper_for = publishing._paper_for

    def slow_paper_for(submission):
        time.sleep(0.5)  # both have looked for the checkpoint's row before either creates it
        return real_paper_for(submission)

    monkeypatch.setattr(publishing, "_paper_for", slow_paper_for)
    assert _publish_at_once(runs) == []
    _, _, linked = _one_row_of(runs)
    assert refused == [linked.pk]  # linked after the database refused its row
    assert "your own submission" in linked.reason


def test_the_database_refuses_a_second_verified_row_of_one_checkpoint(owner):
    from django.db import IntegrityError

    first = _submission(owner, "MAML first", weights=b"one file")
    run = first.current_run
    with transaction.atomic():
        publishing.publish(run)
        run.save()
    row = Result.objects.get()
    assert row.checkpoint_sha256 == first.checkpoint_sha256
    copy = {f.attname: getattr(row, f.attname) for f in Result._meta.concrete_fields}
    copy.pop("id")
    with pytest.raises(IntegrityError), transaction.atomic():
        Result.objects.create(**copy)
    copy["evaluation_mode"] = Result.EvaluationMode.NON_TRANSDUCTIVE  # another mode: its own row
    Result.objects.create(**copy)
    assert Result.objects.count() == 2
