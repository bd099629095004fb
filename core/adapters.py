"""Small helpers the API views share."""

from rest_framework import serializers
from rest_framework.request import Request

from core.errors import InvalidInput, field_error


def expected_version(request: Request, body_version: int | None) -> int | None:
    """The version the client read: the `If-Match` header ("3", W/"3" or 3) or the body's."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return body_version
    raw = header.strip().removeprefix("W/").strip('"')
    if not (raw.isascii() and raw.isdigit()):
        message = 'If-Match must be a ticket version, like "3".'
        raise InvalidInput(message, validation_errors=[field_error("If-Match", message)])
    version = int(raw)
    if body_version is not None and body_version != version:
        message = "If-Match and the body's version disagree."
        raise InvalidInput(message, validation_errors=[field_error("version", message)])
    return version


def validated(serializer_class, data, *, partial: bool = False) -> dict:
    """The serializer's validated data, else a 400; `partial` (PATCH) lets required
    fields be left out."""
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def validated_query(serializer_class, request: Request) -> dict:
    """Query parameters through their serializer. A parameter given empty (`?to=`) is a
    value like any other, refused unless its field allows blanks, as the document says;
    DRF would read a form's empty value as absent."""
    return validated(serializer_class, request.query_params.dict())


class RefuseUnknownFields(serializers.Serializer):
    """An input serializer that refuses fields it does not know, instead of dropping
    them: a misspelt field would otherwise look like a successful write.

    `ignored_fields` are read-only fields of the resource's representation, so a client
    may send back what it read; `misplaced_fields` maps a field to where it belongs."""

    ignored_fields: frozenset[str] = frozenset()
    misplaced_fields: dict[str, str] = {}

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            # The browsable API's HTML forms carry their CSRF token as a field.
            known = set(self.fields) | self.ignored_fields | {"csrfmiddlewaretoken"}
            errors = {
                name: self.misplaced_fields.get(name, "Unknown field.")
                for name in sorted(set(data.keys()) - known)
            }
            if errors:
                raise serializers.ValidationError(errors, code="unknown_field")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A boolean that must arrive as JSON true or false: DRF's BooleanField would also
    take "yes", "1" or 0."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """Text that must arrive as a JSON string: DRF's CharField would turn 123 into "123"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
