"""Deep pages of the papers list at the cost of a shallow one (PostgreSQL).

The list is ordered newest first (``date DESC NULLS LAST, id DESC``: the ``paper_newest_idx``
index). An OFFSET of 250,000 walks 250,000 index entries, however narrow the index: page 10,000
cost five times page 1. Instead, the statement-level triggers of migration 0003 keep the number
of papers of each day (``PaperDayCount``: one row per write statement and day, the change;
folded by the writer, as the row counts of ``counters.py``, so a read writes nothing), and a
page is found in two steps: one query sums the days' counts newest first and picks the day the
page starts in and how many of that day's papers come before it, then the page's ids are an
index range scan from that day (offset: fewer than one day's papers). Exact, whatever the
depth; a write between the two queries shifts a page by at most its own rows, as it would with
OFFSET. SQLite (the embedded default) keeps plain OFFSET.
"""

from django.db import connection
from django.db.models import F

from leaderboard.core.paginators import DeferredJoinPaginator
from leaderboard.db.counters import run_fold
from leaderboard.models import Paper

TABLE = "leaderboard_paperdaycount"
# The papers list's order (the ``paper_newest_idx`` index).
NEWEST = (F("date").desc(nulls_last=True), F("id").desc())
PAPER = Paper._meta.db_table
# The writers' fold, as migration 0003 installs it: a statement whose change rows cross a
# multiple of FOLD_EVERY (by id) folds the rows of the last FOLD_WINDOW ids into one per day, so
# reads sum at most about FOLD_EVERY rows more than there are days; every FULL_FOLD_EVERY ids,
# and ``fold_days()`` after an import, every row.
FOLD_EVERY = 500
FOLD_WINDOW = 20 * FOLD_EVERY
FULL_FOLD_EVERY = 100 * FOLD_EVERY
# The day the row at OFFSET %s falls in, and the rows of the list before that day: a read only
# (the writers fold the change rows).
PG_LOCATE = f"""
WITH days AS (
    SELECT day, SUM(n) AS n FROM {TABLE} GROUP BY day HAVING SUM(n) > 0
), running AS (
    SELECT day, SUM(n) OVER (ORDER BY day DESC NULLS LAST) - n AS before FROM days
)
SELECT day, before FROM running WHERE before <= %s ORDER BY before DESC LIMIT 1
"""


def fold_days(using: str = "default") -> None:
    """The day change rows into one per day now (after an import; PostgreSQL)."""
    run_fold("leaderboard_paper_days_fold", TABLE, using)


def page_ids(offset: int, limit: int) -> list[int] | None:
    """The ids of the papers list's rows ``offset`` to ``offset + limit`` (newest first), or None
    where the day counts are not kept (SQLite)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(PG_LOCATE, [offset])
        found = cursor.fetchone()
        if found is None:
            return []
        day, before = found
        skip = offset - int(before)
        # From that day on: its papers and the older ones, then the undated ones (listed last;
        # with ``day`` null, only they): one query, each part an index range of at most
        # skip + limit rows.
        cursor.execute(
            f"SELECT id FROM ((SELECT id, 0 AS undated, date FROM {PAPER} WHERE date <= %s "
            "ORDER BY date DESC NULLS LAST, id DESC LIMIT %s) UNION ALL "
            f"(SELECT id, 1, NULL FROM {PAPER} WHERE date IS NULL ORDER BY id DESC LIMIT %s)) "
            "page ORDER BY undated, date DESC, id DESC OFFSET %s LIMIT %s",
            [day, skip + limit, skip + limit, skip, limit],
        )
        return [r[0] for r in cursor.fetchall()]


class PaperListPaginator(DeferredJoinPaginator):
    """The papers list: its ``object_list`` is, by the caller's word, every paper in ``NEWEST``
    order (with whatever fields deferred): its total is the papers' maintained count, a page's
    ids come from ``page_ids``, then its rows by id from the same queryset. Where the day counts
    are not kept (SQLite), the deferred join of ``DeferredJoinPaginator``. Any other list of
    papers takes ``DeferredJoinPaginator`` or ``CachedCountPaginator`` instead."""

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, whole_table=Paper)

    def _get_page(self, object_list, number, paginator):
        ids = page_ids((number - 1) * self.per_page, self.per_page)
        if ids is None:
            return super()._get_page(object_list, number, paginator)
        return super(DeferredJoinPaginator, self)._get_page(self.rows_by_id(ids), number, paginator)
