import math

from django.conf import settings
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from core.errors import InvalidInput, field_error


def _positive_int(request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a whole number.",
            validation_errors=[field_error(name, "Not a number.")],
        ) from None
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" and at most {maximum}" if maximum else ""
        message = f"{name} must be at least 1{limit}."
        raise InvalidInput(message, validation_errors=[field_error(name, message)])
    return value


class EnvelopePagination(PageNumberPagination):
    """Pages as {items, total, page, page_size, total_pages, has_next, has_previous}."""

    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size_value = _positive_int(
            request, "page_size", self.page_size, settings.API_MAX_PAGE_SIZE
        )
        self.page_number = _positive_int(request, "page", 1)
        self.total = queryset.count()
        start = (self.page_number - 1) * self.page_size_value
        if start >= self.total:
            # Past the end: no query, and no OFFSET too large for the database.
            return []
        return list(queryset[start : start + self.page_size_value])

    def get_paginated_response(self, data):
        total_pages = max(1, math.ceil(self.total / self.page_size_value))
        return Response(
            {
                "items": data,
                "total": self.total,
                "page": self.page_number,
                "page_size": self.page_size_value,
                "total_pages": total_pages,
                "has_next": self.page_number < total_pages,
                "has_previous": self.page_number > 1,
            }
        )

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """`page` and `page_size` with the bounds paginate_queryset enforces."""
        page_size = {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE}
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "The page, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Items a page (default {self.page_size}).",
                "schema": {**page_size, "default": self.page_size},
            },
        ]

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "total", "page", "page_size", "total_pages"],
            "properties": {
                "items": schema,
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "page_size": {"type": "integer"},
                "total_pages": {"type": "integer"},
                "has_next": {"type": "boolean"},
                "has_previous": {"type": "boolean"},
            },
        }
