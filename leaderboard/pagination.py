from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class ApiPagination(PageNumberPagination):
    """Page numbers; a page or page size that is not a positive integer is a 400, not a guess
    (``page_size=null`` or ``0`` included), and the schema says so (``minimum: 1``)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        for param in (self.page_query_param, self.page_size_query_param):
            raw = request.query_params.get(param)
            if raw is not None and raw != "last" and not (raw.isdigit() and int(raw) > 0):
                raise ValidationError({param: ["A positive integer is required."]})
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and raw.isdigit() and int(raw) > self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"At most {self.max_page_size}."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
                parameter["description"] += f" At most {self.max_page_size}."
        return parameters
