from rest_framework.pagination import PageNumberPagination

from leaderboard import search
from leaderboard.core.query import query_int


class SearchBoundMixin:
    """A paginator whose list may be a bounded paper search (``search.bound_of``): its response
    then says what ``count`` means (``count_note``) instead of passing the number of ranked
    candidates off as the number of matches."""

    def paginate_queryset(self, queryset, request, view=None):
        self.search_bound = search.bound_of(queryset)
        self.bound_note = search.note_of(queryset)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        if getattr(self, "search_bound", None):
            response.data["count_note"] = f"count: {self.bound_note}"
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count_note"] = {
            "type": "string",
            "description": "Only where a search ranks a bounded set of candidates (a very common "
            "word): what count counts.",
        }
        return schema


class ApiPagination(SearchBoundMixin, PageNumberPagination):
    """Page numbers; a page or page size that is not a positive integer in ASCII digits is a
    400, not a guess (``page_size=null``, ``0`` or ``²`` included: ``leaderboard/core/query.py``),
    and the schema says so (``minimum: 1``)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw != "last":
            query_int(request, self.page_query_param, minimum=1)
        query_int(request, self.page_size_query_param, minimum=1, maximum=self.max_page_size)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
                parameter["description"] += f" At most {self.max_page_size}."
        return parameters
