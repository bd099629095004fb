"""A ticket's history rows as a readable timeline: one entry per change (same actor,
same moment), each field described in words, "from what to what"."""

from collections.abc import Callable, Iterable
from datetime import datetime

from django.utils.html import format_html
from django.utils.safestring import SafeString

from history.models import TicketHistory

TEXT_FIELDS = {"description": "the description", "acceptance_criteria": "the acceptance criteria"}


def local_time(value: datetime | str | None) -> SafeString:
    """A <time> the page's script shows in the viewer's own time zone."""
    if value is None:
        return format_html("{}", "—")
    text = value if isinstance(value, str) else value.isoformat()
    return format_html(
        '<time datetime="{}" data-local>{}</time>', text, text[:16].replace("T", " ")
    )


def _none(value: str | None) -> str:
    return value if value else "none"


def _text(row: TicketHistory) -> SafeString:
    what = TEXT_FIELDS[row.field_name]
    if not row.old_value:
        return format_html("added {}", what)
    if not row.new_value:
        return format_html("removed {}", what)
    return format_html("edited {}", what)


def _column(row: TicketHistory) -> SafeString:
    if row.old_value is None:
        return format_html("put it in <b>{}</b>", row.new_value)
    return format_html("moved it from <b>{}</b> to <b>{}</b>", row.old_value, row.new_value)


def _assignee(row: TicketHistory) -> SafeString:
    if not row.old_value:
        return format_html("assigned it to <b>{}</b>", row.new_value)
    if not row.new_value:
        return format_html("unassigned <b>{}</b>", row.old_value)
    return format_html("reassigned it from <b>{}</b> to <b>{}</b>", row.old_value, row.new_value)


def _blockers(row: TicketHistory) -> SafeString:
    if not row.old_value:
        return format_html("marked it blocked by <b>{}</b>", row.new_value)
    if not row.new_value:
        return format_html("removed its blockers (<b>{}</b>)", row.old_value)
    return format_html(
        "changed its blockers from <b>{}</b> to <b>{}</b>", row.old_value, row.new_value
    )


def _from_to(label: str) -> Callable[[TicketHistory], SafeString]:
    def describe(row: TicketHistory) -> SafeString:
        return format_html(
            "changed {} from <b>{}</b> to <b>{}</b>",
            label,
            _none(row.old_value),
            _none(row.new_value),
        )

    return describe


DESCRIBE: dict[str, Callable[[TicketHistory], SafeString]] = {
    "title": lambda row: format_html(
        "renamed it from <b>“{}”</b> to <b>“{}”</b>", row.old_value, row.new_value
    ),
    "description": _text,
    "acceptance_criteria": _text,
    "priority": _from_to("priority"),
    "labels": _from_to("labels"),
    "assignee": _assignee,
    "current_column": _column,
    "blocked_by": _blockers,
    "wip_override": lambda row: format_html("went past the WIP limit of <b>{}</b>", row.new_value),
    "lease_expired": lambda row: format_html("the claim of <b>{}</b> expired", row.old_value),
    "review": lambda row: format_html("reviewed it in <b>{}</b>: {}", row.old_value, row.new_value),
    "review_override": lambda row: format_html("reviewed <b>their own work</b> as a board admin"),
    "deleted": lambda row: format_html("deleted this card"),
    "parent": lambda row: (
        format_html("made it a subtask of <b>{}</b>", row.new_value)
        if row.new_value
        else format_html("took it out of <b>{}</b>", row.old_value)
    ),
    "link": lambda row: (
        format_html("linked {}", row.new_value)
        if not row.old_value
        else format_html("updated a link to {}", row.new_value)
    ),
    "subtasks_override": lambda row: format_html(
        "finished it before its subtasks <b>{}</b>, as a board admin", row.new_value
    ),
}


def _claim(rows: dict[str, TicketHistory], actor: str | None) -> SafeString | None:
    claim, lease = rows.get("claimed_by"), rows.get("lease_expires_at")
    if claim is not None and claim.new_value:
        who = "claimed it" if claim.new_value == actor else f"gave the claim to {claim.new_value}"
        if claim.old_value and "lease_expired" not in rows:
            who = f"took the claim from {claim.old_value} and {who}"
        if lease is not None:
            return format_html("{} until {}", who, local_time(lease.new_value))
        return format_html("{}", who)
    if claim is not None:
        if "lease_expired" in rows:
            return None
        return format_html("released the claim of <b>{}</b>", claim.old_value)
    if lease is not None and lease.new_value:
        return format_html("renewed the claim until {}", local_time(lease.new_value))
    return None


def _describe_group(rows: list[TicketHistory], actor: str | None) -> list[SafeString]:
    by_field = {row.field_name: row for row in rows}
    if "created" in by_field:
        column = by_field.get("current_column")
        where = format_html(" in <b>{}</b>", column.new_value) if column else ""
        return [format_html("created this card{}", where)]
    lines = []
    for row in rows:
        if row.field_name in {"claimed_by", "lease_expires_at"}:
            continue
        if row.field_name == "position":
            if "current_column" not in by_field:
                lines.append(format_html("reordered it within <b>its column</b>"))
            continue
        describe = DESCRIBE.get(row.field_name, _from_to(row.field_name.replace("_", " ")))
        lines.append(describe(row))
    claim = _claim(by_field, actor)
    if claim is not None:
        lines.append(claim)
    return lines


def timeline(rows: Iterable[TicketHistory]) -> list[dict]:
    """History rows (oldest first) as entries, newest first."""
    groups: list[list[TicketHistory]] = []
    for row in rows:
        previous = groups[-1][-1] if groups else None
        if (
            previous is not None
            and previous.changed_at == row.changed_at
            and previous.changed_by_id == row.changed_by_id
        ):
            groups[-1].append(row)
        else:
            groups.append([row])
    entries = []
    for group in reversed(groups):
        user = group[0].changed_by
        actor = user.username if user else None
        entries.append(
            {
                "actor": actor,
                "is_agent": bool(user and user.is_agent),
                "at": group[0].changed_at,
                "time": local_time(group[0].changed_at),
                "lines": _describe_group(group, actor),
            }
        )
    return entries
