"""What the OpenAPI document says about input the API refuses, so that clients and the
schemathesis fuzz test (tests/security/test_fuzz.py) see the same rules the server keeps."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter

# The one form of If-Match that core.adapters.expected_version accepts: "*", 3, "3", W/"3".
IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"?[0-9]+"?)\s*$'

IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": IF_MATCH_PATTERN},
    OpenApiParameter.HEADER,
    required=False,
    description='The ticket version you read ("3" or W/"3"): 409 conflict if it has changed. '
    "It must agree with the body's version when both are given.",
)


class RefuseUnknownFieldsExtension(OpenApiSerializerExtension):
    """A RefuseUnknownFields serializer's request body has `additionalProperties: false`;
    the representation's read-only fields it tolerates are listed as accepted and ignored."""

    target_class = "core.adapters.RefuseUnknownFields"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        properties = schema.setdefault("properties", {})
        for name in sorted(self.target.ignored_fields):
            properties.setdefault(name, {"description": "Read-only: accepted and ignored."})
        schema["additionalProperties"] = False
        return schema
