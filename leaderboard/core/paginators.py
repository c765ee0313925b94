"""The paginators of long lists: a total that costs no scan per request, and pages found by a
narrow query first (the deferred join). The papers list's deep pages: ``db/paper_days.py``.

Whether a list is a whole table is the caller's word (``whole_table=``), never read from the
queryset's internals: the view that builds an unfiltered list knows it is one."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

from leaderboard.core.cache import versioned
from leaderboard.db import counters


def queryset_key(queryset) -> str | None:
    """The SQL of ``queryset`` with its parameters, or None where it cannot be compiled."""
    try:
        sql, params = queryset.query.sql_with_params()
    except Exception:  # an empty IN (), EmptyResultSet: let the paginator count as usual
        return None
    return f"{sql}|{params!r}"


class CachedCountPaginator(Paginator):
    """A paginator whose total costs no scan per request: the maintained row count of a table
    (``leaderboard/db/counters.py``) where the caller says the list is that whole table,
    else the count stored in the read cache under the catalogue version. Page 10,000 of a long
    list costs its own page query.

    ``whole_table``: the model every row of whose table the list holds exactly once, by the
    caller's word: no filter, no distinct, no slice, no ``values()``; ``select_related`` of
    forward foreign keys and per-row aggregate annotations only (they neither drop nor repeat
    rows). None (the default): the list is counted, once per catalogue version."""

    def __init__(
        self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, whole_table=None
    ):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.whole_table = whole_table

    def _count(self) -> int:
        return super().count  # Django's: ``object_list.count()``, or ``len()`` of a list

    @cached_property
    def count(self):
        if self.whole_table is not None:
            total = counters.count(self.whole_table)
            if total is not None:
                return total
        key = queryset_key(self.object_list) if hasattr(self.object_list, "query") else None
        if key is None:
            return self._count()
        return versioned("count:" + key, self._count)


class DeferredJoinPaginator(CachedCountPaginator):
    """Long lists: the page's ids come from a narrow query (only what the ordering needs: an
    index-only scan where an index covers it, no wide joined rows to sort), then the page's rows
    by id: the same queryset (its ``select_related``, deferred fields and filters) limited to
    those ids and unordered (SotA: 50 pairs out of thousands, without sorting every benchmark's
    dataset row)."""

    def _get_page(self, object_list, number, paginator):
        if hasattr(object_list, "model"):
            ids = list(object_list.values_list("pk", flat=True))
            object_list = self.rows_by_id(ids)
        return super()._get_page(object_list, number, paginator)

    def rows_by_id(self, ids: list) -> list:
        """The list's rows of ``ids``, in that order (one query)."""
        by_id = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()}
        return [by_id[i] for i in ids if i in by_id]
