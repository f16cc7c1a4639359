from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """Page-number pagination; an oversized or non-numeric ``page_size`` is a 400, not clamped."""

    page_size_query_param = "page_size"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        max_size = settings.PAGE_SIZE_MAX
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= max_size:
            raise ValidationError({"page_size": [f"Must be an integer between 1 and {max_size}."]})
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": settings.PAGE_SIZE_MAX,
                }
        return parameters
