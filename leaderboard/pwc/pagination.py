from functools import partial

from rest_framework.pagination import PageNumberPagination

from leaderboard.api.pagination import SearchBoundMixin
from leaderboard.core.paginators import CachedCountPaginator
from leaderboard.core.query import query_int


class PwcPagination(SearchBoundMixin, PageNumberPagination):
    """PWC's pagination: ``page`` and ``items_per_page`` (default 50, at most 500); the total
    comes from the read cache (``CachedCountPaginator``), so a deep page costs its own query,
    or is the maintained row count of the view's ``whole_table`` (the model whose whole table
    the view says this list is; None, or no such attribute: counted)."""

    page_size = 50
    page_size_query_param = "items_per_page"
    max_page_size = 500
    django_paginator_class = CachedCountPaginator

    def paginate_queryset(self, queryset, request, view=None):
        for param in (self.page_query_param, self.page_size_query_param):
            query_int(request, param, minimum=1)  # a 400 unless a positive ASCII integer
        whole_table = getattr(view, "whole_table", None)
        self.django_paginator_class = partial(CachedCountPaginator, whole_table=whole_table)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        """The schema says what ``paginate_queryset`` accepts: positive integers (a larger
        ``items_per_page`` is served at most ``max_page_size`` items, as PWC did)."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters
