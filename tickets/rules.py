"""Input rules shared by every surface (REST, MCP, pages, commands)."""

from django.conf import settings

from core.errors import InvalidInput, field_error
from core.ids import ID_MAX
from tickets.models import Priority

TITLE_MAX = 500
TEXT_MAX = 20_000
LABELS_MAX = 20
LABEL_MAX = 50
BULK_MAX = settings.BULK_MAX_ITEMS  # tickets in one bulk request
# Order keys longer than this make the service re-space the column (the field holds 255).
POSITION_KEY_MAX = 128
DEPENDENCIES_MAX = 50
# Levels of subtasks: a ticket, its subtask, the subtask's subtask.
SUBTASK_DEPTH_MAX = 3
SUBTASKS_MAX = 50  # subtasks made in one create_subtasks call
PRIORITY_NAMES = [member.label for member in Priority]


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", validation_errors=[field_error(field, message)])


def clean_title(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("title", "A title is required.")
    value = value.strip()
    if len(value) > TITLE_MAX:
        raise invalid("title", f"At most {TITLE_MAX} characters (got {len(value)}).")
    return value


def clean_text(field: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(field, "Must be text.")
    if len(value) > TEXT_MAX:
        raise invalid(field, f"At most {TEXT_MAX} characters (got {len(value)}).")
    return value


def clean_priority(value) -> int:
    if isinstance(value, str) and value.strip().lower() in PRIORITY_NAMES:
        return Priority.from_name(value.strip().lower())
    raise invalid("priority", f"Must be one of {', '.join(PRIORITY_NAMES)}.")


def clean_labels(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise invalid("labels", "Must be a list of label names.")
    names = list(dict.fromkeys(item.strip() for item in value if item.strip()))
    if len(names) > LABELS_MAX:
        raise invalid("labels", f"At most {LABELS_MAX} labels.")
    too_long = [name for name in names if len(name) > LABEL_MAX]
    if too_long:
        raise invalid("labels", f"Label names are at most {LABEL_MAX} characters.")
    return sorted(names)


def clean_ticket_ids(value) -> list[int]:
    if not isinstance(value, list | tuple) or not value:
        raise invalid("ticket_ids", "Must be a non-empty list of ticket ids.")
    if not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise invalid("ticket_ids", "Every ticket id must be a whole number.")
    if len(value) > BULK_MAX:
        raise invalid("ticket_ids", f"At most {BULK_MAX} tickets in one request.")
    if not all(1 <= item <= ID_MAX for item in value):
        raise invalid("ticket_ids", "Ticket ids are positive 64-bit numbers.")
    return list(dict.fromkeys(value))


LEASE_MIN_SECONDS = 10


def lease_max_seconds() -> int:
    return settings.CLAIM_LEASE_MAX_SECONDS


def parse_lease_seconds(value) -> int:
    """A claim's `lease_seconds`: a whole number from LEASE_MIN_SECONDS to the setting
    CLAIM_LEASE_MAX_SECONDS (the serializers state the same bounds in the document)."""
    maximum = lease_max_seconds()
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not LEASE_MIN_SECONDS <= value <= maximum
    ):
        raise invalid(
            "lease_seconds", f"Must be a whole number from {LEASE_MIN_SECONDS} to {maximum}."
        )
    return value


def parse_position(value) -> tuple[str, int | None]:
    """`None`/"bottom", "top", {"before": id} or {"after": id} → (where, anchor id)."""
    if value is None or value == "bottom":
        return "bottom", None
    if value == "top":
        return "top", None
    if isinstance(value, dict) and len(value) == 1:
        ((where, anchor),) = value.items()
        if (
            where in {"before", "after"}
            and isinstance(anchor, int)
            and not isinstance(anchor, bool)
            and 1 <= anchor <= ID_MAX
        ):
            return where, anchor
    raise invalid(
        "position", 'Must be "top", "bottom", {"before": <ticket id>} or {"after": <ticket id>}.'
    )
