"""The API's JSON parser: DRF's, refusing text no database can store.

JSON may spell half of a UTF-16 surrogate pair ("\\ud800") on its own; Python decodes it to
a string that cannot be encoded as UTF-8, so it would fail deep in the database driver
or in the response renderer (a 500) instead of as a 400 here."""

import io
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A cheap look at the raw body first: bodies without a surrogate escape need no walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        raw = stream.read() if stream is not None else b""
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(data):
            raise ParseError("JSON parse error - a string holds half a surrogate pair.")
        return data
