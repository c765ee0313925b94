from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class ApiPagination(PageNumberPagination):
    """Page numbers; a page or page size that is not a positive integer is a 400, not a guess."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        for param in (self.page_query_param, self.page_size_query_param):
            raw = request.query_params.get(param)
            if raw is not None and raw != "last" and not (raw.isdigit() and int(raw) > 0):
                raise ValidationError({param: ["A positive integer is required."]})
        return super().paginate_queryset(queryset, request, view)
