"""Board export and import: one board as one JSON document, for backups and for
moving a board to another installation.

Format, `format_version` 1::

    {
      "format_version": 1,
      "exported_at": "<ISO 8601>",
      "board":    {"name", "description", "created_by", "created_at", "review_by"},
      "columns":  [{"name", "position", "wip_limit", "requires_review"}],
      "labels":   ["<label name>", ...],
      "users":    [{"username", "is_agent"}],          # everyone the document names
      "tickets":  [{"id", "column", "position", "title", "description",
                    "acceptance_criteria", "priority", "assignee", "created_by",
                    "labels", "blocked_by", "claimed_by", "claimed_at",
                    "lease_expires_at", "column_entered_at", "created_at",
                    "updated_at", "version", "review_requested_by", "parent"}],
      "comments": [{"ticket", "text", "author", "created_at", "updated_at"}],
      "history":  [{"ticket_id", "field_name", "old_value", "new_value",
                    "changed_by", "changed_at"}]
    }

`review_by`, `requires_review` and `review_requested_by` came with review gates: a
document without them reads as "anyone", false and null.

`parent` (the id of another ticket of the document, or null) came with subtasks: a
document without it reads as null.

Times are ISO 8601 with an offset; users are named by username; a ticket's column by
its name; priorities by name ("high"). Ticket ids are those of the exporting
installation: they only link tickets, comments, history and `blocked_by` inside the
document, and the import gives every ticket a new id.

Left out on purpose: the BoardEvent log (it exists for live clients to catch up; an
imported board's log starts with one `board_imported` event), API tokens and passwords.
History of tickets deleted before the export has no ticket to follow to its new id: it
is imported with `ticket_id = -<old id>`, which no live ticket can ever have.
"""

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from boards.events import event_append
from boards.models import Board, BoardMembership, Column, Role
from boards.rules import REVIEW_BY
from boards.services import COLUMN_NAME_MAX, NAME_MAX, board_payload
from comments.models import Comment
from core.errors import InvalidInput, NotFound, field_error
from core.ids import ID_MAX
from core.transactions import retry_once_on_deadlock
from history.models import TicketHistory
from tickets import rules
from tickets.models import Label, Priority, Ticket
from tickets.ordering import validate_key

FORMAT_VERSION = 1
USERNAME_MAX = 150
INT_MAX = 2**31 - 1  # the largest value every database's integer column holds
WIP_LIMIT_MAX = 10_000  # as boards.services allows


# ---------------------------------------------------------------- export


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def board_export(*, board_id: int) -> dict:
    """The board as a format_version 1 document, in a fixed number of queries."""
    board = Board.objects.select_related("created_by").filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    users: dict[str, bool] = {}

    def username(user) -> str | None:
        if user is None:
            return None
        users[user.username] = user.is_agent
        return user.username

    labels_of = defaultdict(list)
    for ticket_id, name in Ticket.labels.through.objects.filter(
        ticket__board_id=board_id
    ).values_list("ticket_id", "label__name"):
        labels_of[ticket_id].append(name)
    blockers_of = defaultdict(list)
    for source, target in Ticket.blocked_by.through.objects.filter(
        from_ticket__board_id=board_id
    ).values_list("from_ticket_id", "to_ticket_id"):
        blockers_of[source].append(target)
    tickets = Ticket.objects.filter(board_id=board_id).select_related(
        "column", "assignee", "created_by", "claimed_by", "review_requested_by"
    )
    comments = Comment.objects.filter(ticket__board_id=board_id).select_related("author")
    history = TicketHistory.objects.filter(board_id=board_id).select_related("changed_by")
    document = {
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "board": {
            "name": board.name,
            "description": board.description,
            "created_by": username(board.created_by),
            "created_at": _iso(board.created_at),
            "review_by": board.review_by,
        },
        "columns": [
            {
                "name": column.name,
                "position": column.position,
                "wip_limit": column.wip_limit,
                "requires_review": column.requires_review,
            }
            for column in Column.objects.filter(board_id=board_id).order_by("position")
        ],
        "labels": list(
            Label.objects.filter(board_id=board_id).order_by("name").values_list("name", flat=True)
        ),
        "tickets": [
            {
                "id": ticket.pk,
                "column": ticket.column.name,
                "position": ticket.position,
                "title": ticket.title,
                "description": ticket.description,
                "acceptance_criteria": ticket.acceptance_criteria,
                "priority": ticket.priority_name,
                "assignee": username(ticket.assignee),
                "created_by": username(ticket.created_by),
                "labels": sorted(labels_of[ticket.pk]),
                "blocked_by": sorted(blockers_of[ticket.pk]),
                "claimed_by": username(ticket.claimed_by),
                "claimed_at": _iso(ticket.claimed_at),
                "lease_expires_at": _iso(ticket.lease_expires_at),
                "column_entered_at": _iso(ticket.column_entered_at),
                "created_at": _iso(ticket.created_at),
                "updated_at": _iso(ticket.updated_at),
                "version": ticket.version,
                "review_requested_by": username(ticket.review_requested_by),
                "parent": ticket.parent_id,
            }
            for ticket in tickets.order_by("id")
        ],
        "comments": [
            {
                "ticket": comment.ticket_id,
                "text": comment.text,
                "author": username(comment.author),
                "created_at": _iso(comment.created_at),
                "updated_at": _iso(comment.updated_at),
            }
            for comment in comments.order_by("created_at", "id")
        ],
        "history": [
            {
                "ticket_id": row.ticket_id,
                "field_name": row.field_name,
                "old_value": row.old_value,
                "new_value": row.new_value,
                "changed_by": username(row.changed_by),
                "changed_at": _iso(row.changed_at),
            }
            for row in history.order_by("id")
        ],
    }
    document["users"] = [
        {"username": name, "is_agent": is_agent} for name, is_agent in sorted(users.items())
    ]
    return document


# ---------------------------------------------------------------- reading a document


def _fail(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", validation_errors=[field_error(path, message)])


def _value(item: Any, key: str, path: str) -> Any:
    if not isinstance(item, dict):
        raise _fail(path, "must be an object.")
    if key not in item:
        raise _fail(f"{path}.{key}", "is missing.")
    return item[key]


def _text(
    item: Any, key: str, path: str, *, maximum: int = rules.TEXT_MAX, required: bool = False
) -> str:
    value = _value(item, key, path)
    if (
        not isinstance(value, str)
        or len(value) > maximum
        or (required and not value.strip())
        or "\x00" in value
    ):
        need = "non-empty text" if required else "text"
        raise _fail(f"{path}.{key}", f"must be {need} of at most {maximum} characters.")
    return value


def _optional_text(item: Any, key: str, path: str) -> str | None:
    value = _value(item, key, path)
    if value is not None and (not isinstance(value, str) or "\x00" in value):
        raise _fail(f"{path}.{key}", "must be text or null.")
    return value


def _integer(item: Any, key: str, path: str, *, minimum: int = 0, maximum: int = INT_MAX) -> int:
    value = _value(item, key, path)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise _fail(f"{path}.{key}", f"must be a whole number from {minimum} to {maximum}.")
    return value


def _time(item: Any, key: str, path: str, *, null: bool = False) -> datetime | None:
    value = _value(item, key, path)
    if value is None and null:
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _fail(f"{path}.{key}", "must be an ISO 8601 time with an offset.")
    return parsed


def _flag(item: Any, key: str, path: str) -> bool:
    value = _value(item, key, path)
    if not isinstance(value, bool):
        raise _fail(f"{path}.{key}", "must be true or false.")
    return value


def _choice(item: Any, key: str, path: str, choices: tuple[str, ...]) -> str:
    value = _value(item, key, path)
    if value not in choices:
        raise _fail(f"{path}.{key}", f"must be one of {', '.join(choices)}.")
    return value


def _list(item: Any, key: str, path: str) -> list:
    value = _value(item, key, path)
    if not isinstance(value, list):
        raise _fail(f"{path}.{key}", "must be a list.")
    return value


def _parent(item: dict, path: str) -> int | None:
    if item["parent"] is None:
        return None
    return _integer(item, "parent", path, minimum=1, maximum=ID_MAX)


def _check_parents(tickets: list[dict]) -> None:
    """Each parent is another ticket of the document, and no chain of them is deeper than
    subtasks nest (so none is a cycle)."""
    parent_of = {ticket["id"]: ticket["parent"] for ticket in tickets}
    for index, ticket in enumerate(tickets):
        path = f"tickets[{index}].parent"
        if ticket["parent"] is not None and (
            ticket["parent"] not in parent_of or ticket["parent"] == ticket["id"]
        ):
            raise _fail(path, f"no other ticket has id {ticket['parent']}.")
        levels, current = 1, ticket["parent"]
        while current is not None:
            levels += 1
            if levels > rules.SUBTASK_DEPTH_MAX:
                raise _fail(
                    path, f"subtasks nest at most {rules.SUBTASK_DEPTH_MAX} levels (or a cycle)."
                )
            current = parent_of.get(current)


class _Reader:
    """Checks a whole document before anything is written, so that a bad file fails
    with a message naming the place, not half-way through the import."""

    def __init__(self, data: Any):
        if not isinstance(data, dict):
            raise _fail("document", "must be a JSON object.")
        version = _value(data, "format_version", "document")
        if version != FORMAT_VERSION:
            raise _fail(
                "format_version", f"is {version!r}; this installation reads {FORMAT_VERSION}."
            )
        self.data = data
        self.users = self._users()

    def username(self, item: Any, key: str, path: str) -> str | None:
        value = _optional_text(item, key, path)
        if value is not None and value not in self.users:
            raise _fail(f"{path}.{key}", f"names {value!r}, who is not in `users`.")
        return value

    def _users(self) -> dict[str, bool]:
        users: dict[str, bool] = {}
        for index, item in enumerate(_list(self.data, "users", "document")):
            path = f"users[{index}]"
            name = _text(item, "username", path, maximum=USERNAME_MAX, required=True)
            try:
                UnicodeUsernameValidator()(name)
            except ValidationError:
                raise _fail(f"{path}.username", f"{name!r} is not a valid username.") from None
            is_agent = _value(item, "is_agent", path)
            if not isinstance(is_agent, bool):
                raise _fail(f"{path}.is_agent", "must be true or false.")
            users[name] = is_agent
        return users

    def board(self, name: str | None) -> dict:
        board = _value(self.data, "board", "document")
        return {
            "name": _text(
                {"name": name} if name is not None else board,
                "name",
                "board",
                maximum=NAME_MAX,
                required=True,
            ).strip(),
            "description": _text(board, "description", "board"),
            "created_by": self.username(board, "created_by", "board"),
            "created_at": _time(board, "created_at", "board"),
            "review_by": _choice({"review_by": "anyone", **board}, "review_by", "board", REVIEW_BY),
        }

    def columns(self) -> list[dict]:
        columns, names, positions = [], set(), set()
        for index, item in enumerate(_list(self.data, "columns", "document")):
            path = f"columns[{index}]"
            name = _text(item, "name", path, maximum=COLUMN_NAME_MAX, required=True)
            position = _integer(item, "position", path)
            wip_limit = _value(item, "wip_limit", path)
            if wip_limit is not None:
                wip_limit = _integer(item, "wip_limit", path, minimum=1, maximum=WIP_LIMIT_MAX)
            # Column names are matched case-insensitively elsewhere, so must differ so.
            if name.lower() in names or position in positions:
                raise _fail(path, f"column {name!r} or position {position} appears twice.")
            names.add(name.lower())
            positions.add(position)
            review = _flag({"requires_review": False, **item}, "requires_review", path)
            columns.append(
                {
                    "name": name,
                    "position": position,
                    "wip_limit": wip_limit,
                    "requires_review": review,
                }
            )
        if not columns:
            raise _fail("columns", "a board needs at least one column.")
        return columns

    def labels(self) -> list[str]:
        labels = _list(self.data, "labels", "document")
        for index, label in enumerate(labels):
            if (
                not isinstance(label, str)
                or not label.strip()
                or len(label) > rules.LABEL_MAX
                or "\x00" in label
            ):
                raise _fail(
                    f"labels[{index}]", f"must be a name of 1 to {rules.LABEL_MAX} characters."
                )
        if len(set(labels)) != len(labels):
            raise _fail("labels", "a label appears twice.")
        return labels

    def tickets(self, columns: list[dict], labels: list[str]) -> list[dict]:
        column_names, label_names = {column["name"] for column in columns}, set(labels)
        tickets, places = [], set()
        for index, item in enumerate(_list(self.data, "tickets", "document")):
            path = f"tickets[{index}]"
            column = _text(item, "column", path, maximum=COLUMN_NAME_MAX)
            if column not in column_names:
                raise _fail(f"{path}.column", f"unknown column {column!r}.")
            position = _text(item, "position", path, maximum=255)
            try:
                validate_key(position)
            except ValueError:
                raise _fail(f"{path}.position", f"{position!r} is not an order key.") from None
            if (column, position) in places:
                raise _fail(f"{path}.position", f"{position!r} is taken in column {column!r}.")
            places.add((column, position))
            priority = _value(item, "priority", path)
            if priority not in rules.PRIORITY_NAMES:
                raise _fail(f"{path}.priority", f"must be one of {rules.PRIORITY_NAMES}.")
            ticket_labels = _list(item, "labels", path)
            unknown = [
                name
                for name in ticket_labels
                if not isinstance(name, str) or name not in label_names
            ]
            if unknown:
                raise _fail(f"{path}.labels", f"unknown label(s) {unknown!r}.")
            tickets.append(
                {
                    "id": _integer(item, "id", path, minimum=1, maximum=ID_MAX),
                    "column": column,
                    "position": position,
                    "title": _text(item, "title", path, maximum=rules.TITLE_MAX, required=True),
                    "description": _text(item, "description", path),
                    "acceptance_criteria": _text(item, "acceptance_criteria", path),
                    "priority": Priority.from_name(priority),
                    "assignee": self.username(item, "assignee", path),
                    "created_by": self.username(item, "created_by", path),
                    "labels": list(dict.fromkeys(ticket_labels)),
                    "blocked_by": _list(item, "blocked_by", path),
                    "claimed_by": self.username(item, "claimed_by", path),
                    "claimed_at": _time(item, "claimed_at", path, null=True),
                    "lease_expires_at": _time(item, "lease_expires_at", path, null=True),
                    "column_entered_at": _time(item, "column_entered_at", path),
                    "created_at": _time(item, "created_at", path),
                    "updated_at": _time(item, "updated_at", path),
                    "version": _integer(item, "version", path, minimum=1),
                    "review_requested_by": self.username(
                        {"review_requested_by": None, **item}, "review_requested_by", path
                    ),
                    "parent": _parent({"parent": None, **item}, path),
                }
            )
        ids = {ticket["id"] for ticket in tickets}
        if len(ids) != len(tickets):
            raise _fail("tickets", "a ticket id appears twice.")
        for index, ticket in enumerate(tickets):
            wrong = [
                pk
                for pk in ticket["blocked_by"]
                if type(pk) is not int or pk not in ids or pk == ticket["id"]
            ]
            if wrong:
                raise _fail(f"tickets[{index}].blocked_by", f"no other ticket has id(s) {wrong}.")
            ticket["blocked_by"] = list(dict.fromkeys(ticket["blocked_by"]))
        _check_parents(tickets)
        return tickets

    def comments(self, ticket_ids: set[int]) -> list[dict]:
        comments = []
        for index, item in enumerate(_list(self.data, "comments", "document")):
            path = f"comments[{index}]"
            ticket = _integer(item, "ticket", path, minimum=1, maximum=ID_MAX)
            if ticket not in ticket_ids:
                raise _fail(f"{path}.ticket", f"no ticket has id {ticket}.")
            comments.append(
                {
                    "ticket": ticket,
                    "text": _text(item, "text", path, required=True),
                    "author": self.username(item, "author", path),
                    "created_at": _time(item, "created_at", path),
                    "updated_at": _time(item, "updated_at", path),
                }
            )
        return comments

    def history(self) -> list[dict]:
        rows = []
        for index, item in enumerate(_list(self.data, "history", "document")):
            path = f"history[{index}]"
            rows.append(
                {
                    "ticket_id": _integer(item, "ticket_id", path, minimum=1, maximum=ID_MAX),
                    "field_name": _text(item, "field_name", path, maximum=64, required=True),
                    "old_value": _optional_text(item, "old_value", path),
                    "new_value": _optional_text(item, "new_value", path),
                    "changed_by": self.username(item, "changed_by", path),
                    "changed_at": _time(item, "changed_at", path),
                }
            )
        return rows


# ---------------------------------------------------------------- import


def _users_for(wanted: dict[str, bool]) -> dict[str, Any]:
    """Existing users by username; the missing ones are made as inactive accounts that
    cannot log in until an operator activates them and sets a password."""
    user_model = get_user_model()
    found = {user.username: user for user in user_model.objects.filter(username__in=wanted)}
    missing = []
    for name in sorted(set(wanted) - set(found)):
        user = user_model(username=name, is_agent=wanted[name], is_active=False)
        user.set_unusable_password()
        missing.append(user)
    if missing:
        # Another import may create the same account meanwhile; take whichever won.
        user_model.objects.bulk_create(missing, ignore_conflicts=True)
        found.update(
            (user.username, user)
            for user in user_model.objects.filter(username__in=[u.username for u in missing])
        )
    return found


TICKET_COPIED_FIELDS = (
    "position",
    "title",
    "description",
    "acceptance_criteria",
    "priority",
    "claimed_at",
    "lease_expires_at",
    "column_entered_at",
    "created_at",
    "updated_at",
    "version",
)
IMPORT_BATCH_ROWS = 2000


class _RowWriter:
    """Bulk inserts in batches, counting the rows written for a progress report."""

    def __init__(self, *, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self._report()

    def create(self, model, objects: list) -> list:
        made = []
        for start in range(0, len(objects), IMPORT_BATCH_ROWS):
            made += model.objects.bulk_create(objects[start : start + IMPORT_BATCH_ROWS])
            self.done += len(objects[start : start + IMPORT_BATCH_ROWS])
            self._report()
        return made

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)


@retry_once_on_deadlock
def board_import(
    *,
    actor,
    data: dict,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Board:
    """Make a new board from an exported document, all or nothing. The document is
    checked in full first (InvalidInput names the first problem). History is copied,
    not made anew, so no `tickets_changed` is sent; the new board's event log starts
    with one `board_imported` event. `progress(done, total)` hears of the ticket,
    link, comment and history rows as they are written."""
    reader = _Reader(data)
    board_spec, columns, labels = reader.board(name), reader.columns(), reader.labels()
    tickets = reader.tickets(columns, labels)
    comments = reader.comments({ticket["id"] for ticket in tickets})
    history = reader.history()
    rows = _RowWriter(
        total=len(tickets)
        + sum(len(spec["labels"]) + len(spec["blocked_by"]) for spec in tickets)
        + len(comments)
        + len(history),
        progress=progress,
    )
    with transaction.atomic():
        users = _users_for(reader.users)

        def user(username: str | None):
            return users[username] if username is not None else None

        board = Board.objects.create(
            name=board_spec["name"],
            description=board_spec["description"],
            created_by=user(board_spec["created_by"]),
            review_by=board_spec["review_by"],
            created_at=board_spec["created_at"],
        )
        # Whoever imports it, and its creator, are its admins; others are added as members.
        admins = {person.pk: person for person in (actor, board.created_by) if person is not None}
        BoardMembership.objects.bulk_create(
            BoardMembership(board=board, user=person, role=Role.ADMIN) for person in admins.values()
        )
        new_columns = Column.objects.bulk_create(
            Column(board=board, **column_spec) for column_spec in columns
        )
        column_by_name = {column.name: column for column in new_columns}
        label_by_name = {
            label.name: label
            for label in Label.objects.bulk_create(Label(board=board, name=n) for n in labels)
        }
        new_tickets = rows.create(
            Ticket,
            [
                Ticket(
                    board=board,
                    column=column_by_name[spec["column"]],
                    assignee=user(spec["assignee"]),
                    created_by=user(spec["created_by"]),
                    claimed_by=user(spec["claimed_by"]),
                    review_requested_by=user(spec["review_requested_by"]),
                    **{key: spec[key] for key in TICKET_COPIED_FIELDS},
                )
                for spec in tickets
            ],
        )
        new_id = {spec["id"]: ticket.pk for spec, ticket in zip(tickets, new_tickets, strict=True)}
        rows.create(
            Ticket.labels.through,
            [
                Ticket.labels.through(ticket_id=new_id[spec["id"]], label_id=label_by_name[n].pk)
                for spec in tickets
                for n in spec["labels"]
            ],
        )
        rows.create(
            Ticket.blocked_by.through,
            [
                Ticket.blocked_by.through(
                    from_ticket_id=new_id[spec["id"]], to_ticket_id=new_id[blocker]
                )
                for spec in tickets
                for blocker in spec["blocked_by"]
            ],
        )
        # Parents once every ticket has its new id (one UPDATE a batch).
        Ticket.objects.bulk_update(
            [
                Ticket(pk=new_id[spec["id"]], parent_id=new_id[spec["parent"]])
                for spec in tickets
                if spec["parent"] is not None
            ],
            ["parent"],
            batch_size=IMPORT_BATCH_ROWS,
        )
        rows.create(
            Comment,
            [
                Comment(
                    ticket_id=new_id[spec["ticket"]],
                    text=spec["text"],
                    author=user(spec["author"]),
                    created_at=spec["created_at"],
                    updated_at=spec["updated_at"],
                )
                for spec in comments
            ],
        )
        rows.create(
            TicketHistory,
            [
                TicketHistory(
                    board=board,
                    # A deleted ticket has no new id; a negative one can never be a live
                    # ticket's.
                    ticket_id=new_id.get(row["ticket_id"], -row["ticket_id"]),
                    changed_by=user(row["changed_by"]),
                    **{
                        key: row[key]
                        for key in ("field_name", "old_value", "new_value", "changed_at")
                    },
                )
                for row in history
            ],
        )
        board.refresh_from_db()
        payload = board_payload(board)
        payload["imported"] = {
            "tickets": len(tickets),
            "comments": len(comments),
            "history": len(history),
            "exported_at": data.get("exported_at"),
        }
        event_append(board_id=board.pk, type="board_imported", payload=payload, actor=actor)
    return board
