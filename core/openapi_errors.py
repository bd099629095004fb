"""An OpenAPI post-processing hook: every operation documents its 4xx answers as the one
error envelope (design rule 7), so clients and the schemathesis fuzz test know the shape
of every error, not only of success."""

from typing import Any

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "code", "error_id", "timestamp", "validation_errors"],
            "properties": {
                "message": {"type": "string"},
                "code": {"type": "string"},
                "error_id": {"type": "string"},
                "timestamp": {"type": "string", "format": "date-time"},
                "validation_errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message", "code"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "code": {"type": "string"},
                        },
                    },
                },
            },
            # Some errors add context (current_version on a conflict, the request id).
            "additionalProperties": True,
        }
    },
}

ERROR_RESPONSE = {
    "description": "A client error, in the one error envelope.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def add_error_responses(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in HTTP_METHODS:
                operation.setdefault("responses", {}).setdefault("4XX", ERROR_RESPONSE)
    return result
