"""Reads of the audit log: site admins only. To anyone else it does not exist."""

from django.db.models import QuerySet

from audit.models import AuditEvent
from core.errors import InvalidInput, NotFound, field_error
from core.identity import is_site_admin
from core.ids import ID_MAX


def require_audit_reader(actor) -> None:
    token = getattr(actor, "api_token", None)
    # A board-limited token sees boards, not the whole site's log.
    if not is_site_admin(actor) or (token is not None and token.boards.exists()):
        raise NotFound("There is no audit log here.")


def parse_board_id(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdecimal() and 0 < int(raw) <= ID_MAX):
        message = "Must be a board id."
        raise InvalidInput(f"board: {message}", validation_errors=[field_error("board", message)])
    return int(raw)


def audit_events(
    *, actor, action: str | None = None, username: str | None = None, board_id: int | None = None
) -> QuerySet[AuditEvent]:
    """Newest first. `action` matches exactly, or as a prefix when it ends with a dot
    ("token." is every token action)."""
    require_audit_reader(actor)
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if action:
        events = (
            events.filter(action__startswith=action)
            if action.endswith(".")
            else events.filter(action=action)
        )
    if username:
        events = events.filter(actor__username=username)
    if board_id is not None:
        events = events.filter(board_id=board_id)
    return events


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())
