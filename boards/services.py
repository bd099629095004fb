"""Every write to boards and their columns."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from audit.services import audit_record
from boards import access
from boards.access import ADMIN, WRITE, require_board
from boards.events import broadcast_after_commit, event_append
from boards.models import DEFAULT_COLUMNS, Board, BoardMembership, Column, Role
from boards.representation import board_representation
from boards.rules import COLUMN_NAME_MAX, COLUMNS_MAX, DESCRIPTION_MAX, NAME_MAX, REVIEW_BY
from boards.selectors import board_columns
from core import groups
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from core.ids import is_id
from core.transactions import retry_once_on_deadlock


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


def _clean_review_by(value) -> str:
    if value not in REVIEW_BY:
        raise _invalid("review_by", f"Must be one of {', '.join(REVIEW_BY)}.")
    return value


def board_payload(board: Board) -> dict:
    """What a board event carries about `board`: its one representation."""
    return board_representation(board)


def columns_payload(board_id: int) -> list[dict]:
    return board_columns(board_id=board_id)


def board_get_for_write(board_id: int) -> Board:
    board = Board.objects.select_for_update(no_key=True).filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return board


@retry_once_on_deadlock
def board_create(
    *,
    actor,
    name: str,
    description: str = "",
    columns: list[str] | None = None,
    review_by: str = "anyone",
) -> Board:
    name = _clean_name(name)
    description = _clean_description(description)
    review_by = _clean_review_by(review_by)
    column_specs = [{"name": column} for column in (columns or DEFAULT_COLUMNS)]
    specs = _clean_column_specs(column_specs)
    if not access.may_create_boards(actor):
        raise Forbidden(
            "A read-only token, or one limited to some boards, may not create boards.",
            code="token_may_not_create_boards",
        )
    with transaction.atomic():
        board = Board.objects.create(
            name=name, description=description, created_by=actor, review_by=review_by
        )
        BoardMembership.objects.create(board=board, user=actor, role=Role.ADMIN)
        access.forget_roles(actor)
        Column.objects.bulk_create(
            Column(board=board, name=spec["name"], position=index, wip_limit=spec.get("wip_limit"))
            for index, spec in enumerate(specs)
        )
        event_append(
            board_id=board.pk, type="board_created", payload=board_payload(board), actor=actor
        )
    return board


@retry_once_on_deadlock
def board_update(*, actor, board_id: int, **changes) -> Board:
    """Rename the board or change its description (write rights), or change who may
    review (`review_by`: board admins only, like the columns that require review)."""
    unknown = sorted(set(changes) - {"name", "description", "review_by"})
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    cleaned = {}
    if "name" in changes:
        cleaned["name"] = _clean_name(changes["name"])
    if "description" in changes:
        cleaned["description"] = _clean_description(changes["description"])
    if "review_by" in changes:
        cleaned["review_by"] = _clean_review_by(changes["review_by"])
    with transaction.atomic():
        require_board(actor, board_id, WRITE)
        board = board_get_for_write(board_id)
        if "review_by" in cleaned and cleaned["review_by"] != board.review_by:
            require_board(actor, board_id, ADMIN)
        if all(getattr(board, key) == value for key, value in cleaned.items()):
            return board
        for key, value in cleaned.items():
            setattr(board, key, value)
        board.save(update_fields=[*cleaned, "updated_at"])
        event_append(
            board_id=board.pk, type="board_updated", payload=board_payload(board), actor=actor
        )
    return board


@retry_once_on_deadlock
def board_delete(*, actor, board_id: int) -> None:
    """Delete a board with its columns, tickets, comments and history. Watchers are
    told after the commit (the event itself goes with the board's log)."""

    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
        # Every write takes a ticket's row before the board's: so does the delete, or a
        # write holding one of its tickets would wait for the board it holds. (The
        # tickets app sits above this one: its model is reached through the relation.)
        tickets = Board._meta.get_field("tickets").related_model.objects
        list(tickets.filter(board_id=board_id).select_for_update().values_list("pk"))
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
        board.tickets.all().delete()
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
        if "requires_review" in spec:
            if not isinstance(spec["requires_review"], bool):
                raise _invalid(f"columns[{index}].requires_review", "Must be true or false.")
            cleaned_spec["requires_review"] = spec["requires_review"]
        cleaned.append(cleaned_spec)
    return cleaned


def _ensure_review_between(columns: list[Column]) -> None:
    """A review column passes an approved ticket on to the next column and sends one
    with changes requested back to the one before: it has both."""
    for index, column in enumerate(columns):
        if column.requires_review and index in (0, len(columns) - 1):
            where = "first" if index == 0 else "last"
            raise _invalid(
                f"columns[{index}].requires_review",
                f"The {where} column ({column.name!r}) cannot require review: a review "
                "column needs a column before it and one after it.",
            )


@retry_once_on_deadlock
def board_set_columns(*, actor, board_id: int, columns: list[dict]) -> list[Column]:
    """Make the board's columns exactly `columns`, in that order. An entry with an `id`
    keeps that column (renamed, moved, new WIP limit: its tickets go with it); one
    without is added; a column left out is removed, which is refused while it holds
    tickets. A kept column without a `wip_limit` key keeps its limit; null clears it, and
    likewise `requires_review` (false for a new column; never the first or last column).
    Board admins only: the columns carry the WIP limits that only admins may override."""
    specs = _clean_column_specs(columns)
    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
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
            column.requires_review = spec.get("requires_review", column.requires_review)
            result.append(column)
        _ensure_review_between(result)
        for column in result:
            column.save()
        board.save(update_fields=["updated_at"])
        event_append(
            board_id=board.pk,
            type="columns_updated",
            payload={"columns": columns_payload(board.pk)},
            actor=actor,
        )
    return result


# ---------------------------------------------------------------- membership


def _clean_role(role) -> str:
    if role not in Role.values:
        raise _invalid("role", f"Must be one of {', '.join(Role.values)}.")
    return role


def _member_user(user_id):
    user = None
    if is_id(user_id):
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise _invalid("user_id", f"No active user with id {user_id}.")
    return user


def _refuse_losing_last_admin(board_id: int, membership: BoardMembership) -> None:
    if membership.role != Role.ADMIN:
        return
    others = (
        BoardMembership.objects.filter(board_id=board_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )
    if not others:
        raise Conflict(
            f"{membership.user.username} is the last admin of board {board_id}; "
            "make someone else an admin first.",
            code="last_admin",
        )


def _membership_changed(*, actor, board_id: int, user, role, action: str, old_role) -> None:
    audit_record(
        actor=actor,
        action=action,
        board_id=board_id,
        target_type="user",
        target_id=user.pk,
        details={"username": user.username, "role": role, "old_role": old_role},
    )
    # Audited, but not in the board's event log: its sequence numbers count work on
    # the board, and watchers of the board need no roster.
    access.forget_roles(actor)


@retry_once_on_deadlock
def membership_set(*, actor, board_id: int, user_id: int, role: str) -> BoardMembership:
    """Give a user a role on the board, adding them if they are not a member yet. Board
    admins only, or an operator at the command line (`actor` None, audited as such, as
    for tokens); the board's last admin cannot be demoted."""
    role = _clean_role(role)
    with transaction.atomic():
        if actor is not None:
            require_board(actor, board_id, ADMIN)
        board_get_for_write(board_id)
        user = _member_user(user_id)
        membership = (
            BoardMembership.objects.select_related("user")
            .filter(board_id=board_id, user=user)
            .first()
        )
        if membership is not None and membership.role == role:
            return membership
        if membership is None:
            old_role, action = None, "membership.added"
            membership = BoardMembership.objects.create(board_id=board_id, user=user, role=role)
        else:
            _refuse_losing_last_admin(board_id, membership)
            old_role, action = membership.role, "membership.changed"
            membership.role = role
            membership.save(update_fields=["role"])
        _membership_changed(
            actor=actor, board_id=board_id, user=user, role=role, action=action, old_role=old_role
        )
    return membership


@retry_once_on_deadlock
def membership_remove(*, actor, board_id: int, user_id: int) -> None:
    """Take a user off the board. Board admins only; the last admin cannot be removed."""
    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
        board_get_for_write(board_id)
        membership = (
            BoardMembership.objects.select_related("user")
            .filter(board_id=board_id, user_id=user_id)
            .first()
            if is_id(user_id)
            else None
        )
        if membership is None:
            raise NotFound(f"User {user_id} is not a member of board {board_id}.")
        _refuse_losing_last_admin(board_id, membership)
        membership.delete()
        _membership_changed(
            actor=actor,
            board_id=board_id,
            user=membership.user,
            role=None,
            action="membership.removed",
            old_role=membership.role,
        )
        # Their open WebSockets stop watching the board at once, not at the next heartbeat.
        groups.announce_access_changed(membership.user_id)
