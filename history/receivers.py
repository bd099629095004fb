from django.dispatch import receiver

from history.models import TicketHistory
from tickets.signals import TicketChange, tickets_changed


def _text(value) -> str | None:
    return None if value is None else str(value)


def history_rows(*, board_id: int, actor, at, change: TicketChange) -> list[TicketHistory]:
    def row(field_name: str, old, new) -> TicketHistory:
        return TicketHistory(
            board_id=board_id,
            ticket_id=change.ticket_id,
            field_name=field_name,
            old_value=_text(old),
            new_value=_text(new),
            changed_by=actor,
            changed_at=at,
        )

    if change.action == "deleted":
        return [row("deleted", change.diffs.get("title", (None, None))[0], None)]
    diffs = dict(change.diffs)
    rows = []
    if change.action == "created":
        rows.append(row("created", None, diffs.pop("title", (None, None))[1]))
    rows.extend(row(name, old, new) for name, (old, new) in diffs.items())
    return rows


@receiver(tickets_changed, dispatch_uid="history.write_ticket_history")
def write_ticket_history(sender, *, actor, board_id: int, at, changes: list[TicketChange], **_):
    rows = [
        history_row
        for change in changes
        for history_row in history_rows(board_id=board_id, actor=actor, at=at, change=change)
    ]
    TicketHistory.objects.bulk_create(rows)
