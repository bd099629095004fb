"""A board's forge settings: the hooks' secrets and the two rules. Board admins only,
audited (never with a secret in the record)."""

from django.db import transaction

from audit.services import audit_record
from boards.access import ADMIN, require_board
from boards.models import Column
from boards.services import board_get_for_write
from core.errors import InvalidInput, field_error
from core.transactions import retry_once_on_deadlock
from forge.models import ForgeSettings
from forge.rules import FORGES, SECRET_MAX, SECRET_MIN
from forge.services.identity import forge_join

SECRET_FIELDS = tuple(f"{forge}_secret" for forge in FORGES)
RULE_FIELDS = ("on_pr_opened", "on_pr_merged")


def _invalid(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}", code=code, validation_errors=[field_error(field, message, code)]
    )


def _clean_secret(field: str, value) -> str:
    """A new secret, or "" (null or empty) to clear it."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not SECRET_MIN <= len(value) <= SECRET_MAX:
        raise _invalid(field, f"A secret of {SECRET_MIN} to {SECRET_MAX} characters, or null.")
    return value


def _column(field: str, board_id: int, name) -> Column | None:
    """The board's column called `name` (exactly, else in any case), None for null."""
    if name is None or name == "":
        return None
    columns = list(Column.objects.filter(board_id=board_id).order_by("position"))
    if isinstance(name, str):
        exact = [column for column in columns if column.name == name.strip()]
        loose = [column for column in columns if column.name.lower() == name.strip().lower()]
        if exact or len(loose) == 1:
            return (exact or loose)[0]
    valid = ", ".join(repr(column.name) for column in columns)
    raise _invalid(
        field, f"No column {name!r} on this board. Valid columns: {valid}.", "unknown_column"
    )


def _clean(changes: dict) -> dict:
    unknown = sorted(set(changes) - set(SECRET_FIELDS) - set(RULE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"Unknown field(s): {', '.join(unknown)}.",
            validation_errors=[field_error(name, "Unknown field.") for name in unknown],
        )
    return {
        name: _clean_secret(name, value) if name in SECRET_FIELDS else value
        for name, value in changes.items()
    }


def _audited(settings: ForgeSettings, before: dict) -> dict:
    """What changed, for the audit log: secrets as set/cleared, rules by column name."""
    details = {}
    for name in SECRET_FIELDS:
        if getattr(settings, name) != before[name]:
            details[name] = "set" if getattr(settings, name) else "cleared"
    for name in RULE_FIELDS:
        column = getattr(settings, name)
        if (column.pk if column else None) != before[name]:
            details[name] = column.name if column else None
    return details


@retry_once_on_deadlock
def forge_settings_update(*, actor, board_id: int, **changes) -> ForgeSettings:
    """Set or clear (null) any of the secrets, and set the columns a pull request's
    opening and merging move its tickets to (a column name, or null for no move).
    Fields left out stay as they are. Saving with a secret set makes the `forge`
    identity an agent of the board, so that it can act there."""
    cleaned = _clean(changes)
    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
        board_get_for_write(board_id)
        settings = ForgeSettings.objects.filter(board_id=board_id).first()
        settings = settings or ForgeSettings(board_id=board_id)
        before = {name: getattr(settings, name) for name in SECRET_FIELDS}
        before |= {name: getattr(settings, f"{name}_id") for name in RULE_FIELDS}
        for name, value in cleaned.items():
            if name in RULE_FIELDS:
                value = _column(name, board_id, value)
            setattr(settings, name, value)
        details = _audited(settings, before)
        if not details:
            return settings
        settings.save()
        if any(getattr(settings, name) for name in SECRET_FIELDS):
            forge_join(actor=actor, board_id=board_id)
        audit_record(
            actor=actor,
            action="forge.settings_changed",
            board_id=board_id,
            target_type="board",
            target_id=board_id,
            details=details,
        )
    return settings
