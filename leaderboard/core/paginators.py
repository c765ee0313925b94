"""The paginators of long lists: a total that costs no scan per request, and pages found by a
narrow query first (the deferred join). The papers list's deep pages: ``paper_pages.py``."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

from leaderboard.core.cache import versioned
from leaderboard.db.counters import whole_table_count


def queryset_key(queryset) -> str | None:
    """The SQL of ``queryset`` with its parameters, or None where it cannot be compiled."""
    try:
        sql, params = queryset.query.sql_with_params()
    except Exception:  # an empty IN (), EmptyResultSet: let the paginator count as usual
        return None
    return f"{sql}|{params!r}"


class CachedCountPaginator(Paginator):
    """A paginator whose total costs no scan per request: the maintained row count of the table
    for a list of all its rows (``leaderboard/db/counters.py``), else the count stored in the read
    cache under the catalogue version. Page 10,000 of a long list costs its own page query."""

    @cached_property
    def count(self):
        total = whole_table_count(self.object_list)
        if total is not None:
            return total
        key = queryset_key(self.object_list) if hasattr(self.object_list, "query") else None
        if key is None:
            return Paginator.count.func(self)
        return versioned("count:" + key, lambda: Paginator.count.func(self))


class DeferredJoinPaginator(CachedCountPaginator):
    """Long lists: the page's ids come from a narrow query (only what the ordering needs: an
    index-only scan where an index covers it, no wide joined rows to sort), then the page's rows
    by id, with the list's ``select_related`` and deferred fields (SotA: 50 pairs out of
    thousands, without sorting every benchmark's dataset row)."""

    def _get_page(self, object_list, number, paginator):
        if hasattr(object_list, "model"):
            ids = list(object_list.values_list("pk", flat=True))
            rows = self.object_list.model._default_manager.filter(pk__in=ids)
            if getattr(self.object_list.query, "deferred_loading", None):
                rows.query.deferred_loading = self.object_list.query.deferred_loading
            rows.query.select_related = self.object_list.query.select_related
            by_id = {row.pk: row for row in rows}
            object_list = [by_id[i] for i in ids if i in by_id]
        return super()._get_page(object_list, number, paginator)
