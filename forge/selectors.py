"""Reading a board's forge settings: what an admin may see of them (never a secret)."""

from boards.access import ADMIN, require_board
from forge.models import ForgeSettings
from forge.rules import FORGES


def forge_settings_of(board_id: int) -> ForgeSettings:
    """The board's settings (unsaved defaults when it has none), with the rules' columns."""
    settings = (
        ForgeSettings.objects.select_related("on_pr_opened", "on_pr_merged")
        .filter(board_id=board_id)
        .first()
    )
    return settings or ForgeSettings(board_id=board_id)


def forge_settings_get(*, actor, board_id: int) -> ForgeSettings:
    """The settings of a board `actor` administers (404 when they may not read it, 403
    when they may read it but not administer it)."""
    require_board(actor, board_id, ADMIN)
    return forge_settings_of(board_id)


def forge_settings_shown(settings: ForgeSettings) -> dict:
    """The settings as the API and the page show them: whether each secret is set, and
    the rules' column names."""
    shown: dict = {"board_id": settings.board_id}
    for forge in FORGES:
        shown[f"{forge}_secret_set"] = bool(settings.secret_of(forge))
    for rule in ("on_pr_opened", "on_pr_merged"):
        column = getattr(settings, rule)
        shown[rule] = column.name if column is not None else None
    return shown
