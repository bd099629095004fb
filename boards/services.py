"""Every write to boards and their columns."""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from agent_kanban.errors import Conflict, InvalidInput, NotFound, field_error
from boards.models import DEFAULT_COLUMNS, Board, Column
from history.services import event_append
from tickets.models import Ticket

NAME_MAX = 255
COLUMN_NAME_MAX = 100
COLUMNS_MAX = 30
DESCRIPTION_MAX = 20_000


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", validation_errors=[field_error(field, message)])


def _clean_name(value, field: str = "name", maximum: int = NAME_MAX) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "A name is required.")
    if len(value.strip()) > maximum:
        raise _invalid(field, f"At most {maximum} characters.")
    return value.strip()


def _clean_description(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > DESCRIPTION_MAX:
        raise _invalid("description", f"Must be text of at most {DESCRIPTION_MAX} characters.")
    return value


def board_payload(board: Board) -> dict:
    from boards.serializers import BoardSerializer

    return dict(BoardSerializer(board).data)


def columns_payload(board_id: int) -> list[dict]:
    from boards.selectors import board_columns

    return board_columns(board_id=board_id)


def board_get_for_write(board_id: int) -> Board:
    board = Board.objects.select_for_update().filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return board


def board_create(
    *, actor, name: str, description: str = "", columns: list[str] | None = None
) -> Board:
    name = _clean_name(name)
    description = _clean_description(description)
    column_specs = [{"name": column} for column in (columns or DEFAULT_COLUMNS)]
    specs = _clean_column_specs(column_specs)
    with transaction.atomic():
        board = Board.objects.create(name=name, description=description, created_by=actor)
        Column.objects.bulk_create(
            Column(board=board, name=spec["name"], position=index, wip_limit=spec.get("wip_limit"))
            for index, spec in enumerate(specs)
        )
        event_append(
            board_id=board.pk, type="board_created", payload=board_payload(board), actor=actor
        )
    return board


def board_update(*, actor, board_id: int, **changes) -> Board:
    unknown = sorted(set(changes) - {"name", "description"})
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    cleaned = {}
    if "name" in changes:
        cleaned["name"] = _clean_name(changes["name"])
    if "description" in changes:
        cleaned["description"] = _clean_description(changes["description"])
    with transaction.atomic():
        board = board_get_for_write(board_id)
        if all(getattr(board, key) == value for key, value in cleaned.items()):
            return board
        for key, value in cleaned.items():
            setattr(board, key, value)
        board.save(update_fields=[*cleaned, "updated_at"])
        event_append(
            board_id=board.pk, type="board_updated", payload=board_payload(board), actor=actor
        )
    return board


def board_delete(*, actor, board_id: int) -> None:
    """Delete a board with its columns, tickets, comments and history. Watchers are
    told after the commit (the event itself goes with the board's log)."""
    from history.services import broadcast_after_commit

    with transaction.atomic():
        board = board_get_for_write(board_id)
        message = {
            "event": "board_deleted",
            "data": {"id": board.pk, "name": board.name},
            "board_id": board.pk,
            "seq": board.last_event_seq + 1,
            "timestamp": timezone.now().isoformat(),
            "actor": getattr(actor, "username", None),
        }
        # Tickets first: their columns protect them, so the board's cascade alone
        # would refuse. Their comments, labels and links go with them.
        Ticket.objects.filter(board=board).delete()
        board.delete()
        broadcast_after_commit(message)


def _clean_column_specs(specs) -> list[dict]:
    if not isinstance(specs, list) or not specs:
        raise _invalid("columns", "A board needs at least one column.")
    if len(specs) > COLUMNS_MAX:
        raise _invalid("columns", f"At most {COLUMNS_MAX} columns.")
    cleaned, seen, seen_ids = [], set(), set()
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise _invalid(f"columns[{index}]", "Each column is an object with a name.")
        name = _clean_name(spec.get("name"), f"columns[{index}].name", COLUMN_NAME_MAX)
        if name.lower() in seen:
            raise _invalid(f"columns[{index}].name", f"Column {name!r} appears twice.")
        seen.add(name.lower())
        wip_limit = spec.get("wip_limit")
        if wip_limit is not None and (
            not isinstance(wip_limit, int)
            or isinstance(wip_limit, bool)
            or not 1 <= wip_limit <= 10_000
        ):
            raise _invalid(f"columns[{index}].wip_limit", "Must be null or a whole number from 1.")
        column_id = spec.get("id")
        if column_id is not None and (
            not isinstance(column_id, int) or isinstance(column_id, bool)
        ):
            raise _invalid(
                f"columns[{index}].id", "Must be a column id or absent for a new column."
            )
        if column_id is not None and column_id in seen_ids:
            raise _invalid(f"columns[{index}].id", f"Column id {column_id} appears twice.")
        seen_ids.add(column_id)
        cleaned_spec = {"id": column_id, "name": name}
        if "wip_limit" in spec:
            cleaned_spec["wip_limit"] = wip_limit
        cleaned.append(cleaned_spec)
    return cleaned


def board_set_columns(*, actor, board_id: int, columns: list[dict]) -> list[Column]:
    """Make the board's columns exactly `columns`, in that order. An entry with an `id`
    keeps that column (renamed, moved, new WIP limit: its tickets go with it); one
    without is added; a column left out is removed, which is refused while it holds
    tickets. A kept column without a `wip_limit` key keeps its limit; null clears it."""
    specs = _clean_column_specs(columns)
    with transaction.atomic():
        board = board_get_for_write(board_id)
        existing = {column.pk: column for column in Column.objects.filter(board=board)}
        unknown = [
            spec["id"] for spec in specs if spec["id"] is not None and spec["id"] not in existing
        ]
        if unknown:
            raise _invalid(
                "columns", f"Column id(s) {unknown} are not columns of board {board_id}."
            )
        kept = {spec["id"] for spec in specs if spec["id"] is not None}
        removed = [column for pk, column in existing.items() if pk not in kept]
        occupied = (
            Column.objects.filter(pk__in=[column.pk for column in removed])
            .annotate(count=Count("tickets"))
            .filter(count__gt=0)
        )
        if occupied:
            names = ", ".join(f"{column.name!r} ({column.count} tickets)" for column in occupied)
            raise Conflict(
                f"Cannot remove column(s) that still hold tickets: {names}. "
                "Move the tickets first.",
                code="column_not_empty",
                validation_errors=[
                    field_error(
                        "columns",
                        f"Column {column.name!r} still holds {column.count} tickets.",
                        "column_not_empty",
                    )
                    for column in occupied
                ],
            )
        Column.objects.filter(pk__in=[column.pk for column in removed]).delete()
        # Park kept columns on temporary names so that swapping two names never
        # trips the unique constraint half-way. Names are stripped on input, so one
        # with a leading space never collides with a client's name.
        for pk in kept:
            existing[pk].name = f" renaming {pk}"
        Column.objects.bulk_update([existing[pk] for pk in kept], ["name"])
        result = []
        for index, spec in enumerate(specs):
            column = existing[spec["id"]] if spec["id"] is not None else Column(board=board)
            column.name, column.position = spec["name"], index
            # An existing column keeps its WIP limit unless the request names one.
            column.wip_limit = spec.get("wip_limit", column.wip_limit)
            column.save()
            result.append(column)
        board.save(update_fields=["updated_at"])
        event_append(
            board_id=board.pk,
            type="columns_updated",
            payload={"columns": columns_payload(board.pk)},
            actor=actor,
        )
    return result
