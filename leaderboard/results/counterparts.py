"""A verified row and an archive row of the same model and paper on one table.

Both are shown, each ranked by its own number, and each links to the other: the archive row is
what the paper printed (not re-run), the verified row what the reference run measured (its
value) next to what its submitter claimed. Neither replaces the other, so nothing is hidden and
a reader sees the paper's figure beside the site's. Rows are counterparts when they share the
benchmark, metric, model and paper, and one is verified and the other not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from leaderboard.models import Result


def _key(r) -> tuple:
    return (r.benchmark_id, r.metric_id, r.model_id, r.paper_id)


def link(rows: Sequence[Result]) -> None:
    """Set ``counterparts`` on each row: the rows of the other source with its key, each with
    ``on_page`` (whether it is among ``rows``). One query."""
    for r in rows:
        r.counterparts = []
    keyed = [r for r in rows if r.paper_id is not None]
    if not keyed:
        return
    found = (
        Result.objects.filter(
            benchmark_id__in={r.benchmark_id for r in keyed},
            metric_id__in={r.metric_id for r in keyed},
            model_id__in={r.model_id for r in keyed},
            paper_id__in={r.paper_id for r in keyed},
        )
        .select_related("paper")
        .only(
            "benchmark_id",
            "metric_id",
            "model_id",
            "paper_id",
            "paper__slug",
            "value",
            "raw_value",
            "ci95",
            "claimed_value",
            "source",
            "verification_url",
        )
        .order_by("id")
    )
    by_key = defaultdict(list)
    for other in found:
        by_key[_key(other)].append(other)
    shown = {r.pk for r in rows}
    for r in keyed:
        for other in by_key.get(_key(r), []):
            if other.source != r.source:
                other.on_page = other.pk in shown
                r.counterparts.append(other)
