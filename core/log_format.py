"""Log formats (stdlib only, loaded by LOGGING before the apps): LOG_FORMAT=json writes
one JSON object per line for log shippers, LOG_FORMAT=plain a line for people. Both
carry the id of the request being handled (core.request_id)."""

import json
import logging
from datetime import UTC, datetime

from core.request_id import current_request_id, request_id_of

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "request_id", "taskName"}
)


def _request_id(record: logging.LogRecord) -> str | None:
    # Django logs a request's 4xx/5xx line after the middleware is done, with the
    # request attached.
    return current_request_id() or request_id_of(getattr(record, "request", None))


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record ("-" outside a request), for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id(record) or "-"
        return True


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "request_id", …extra fields, "exception"}."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        if request_id in (None, "-"):
            request_id = _request_id(record)
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)
