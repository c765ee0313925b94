"""Two workers publishing claims of the same new paper at once create it once.

Found by the two-worker integration test on PostgreSQL: both publishers looked for the paper,
found none, and both created it (the second failed on the slug's unique key, and its verified run
ended failed). Publishers now take the catalogue's lock before they look.
"""

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from evaluator import services
from evaluator.models import Run
from leaderboard.models import Paper, Result

from . import catalogue

pytestmark = pytest.mark.django_db(transaction=True)


def _submission(owner, model_name):
    bench = catalogue.benchmark("OMNIGLOT - 1-Shot, 5-way", metric_name="Accuracy")
    return services.create_submission(
        owner,
        benchmark=bench,
        metric=catalogue.metric("Accuracy"),
        claimed_value=90.0,
        model_name=model_name,
        kind="evaluate",
        checkpoint_file=SimpleUploadedFile("init.safetensors", b"weights"),
        paper_fields={"title": "A Shared New Paper", "authors": ["A. Author"]},
    )


def test_concurrent_publishes_of_one_new_paper_create_it_once(owner, monkeypatch):
    runs = [_submission(owner, f"MAML variant {i}").current_run.pk for i in range(2)]
    real_unique_slug = services.unique_slug

    def slow_unique_slug(*args, **kwargs):
        time.sleep(0.5)  # widen the window between "is it there?" and "create it"
        return real_unique_slug(*args, **kwargs)

    monkeypatch.setattr(services, "unique_slug", slow_unique_slug)
    barrier = threading.Barrier(2)
    errors = []

    def publish(run_pk):
        try:
            barrier.wait()
            with transaction.atomic():
                services.publish(Run.objects.get(pk=run_pk))
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
        result = services.publish(run)
    assert result.paper == existing
    assert Paper.objects.count() == 1
