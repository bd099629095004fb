"""Board export and import: the round trip, broken files, and constant query counts."""

import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import User
from backups.transfer import FORMAT_VERSION, board_export, board_import
from boards.models import Board, BoardEvent, Column
from comments.models import Comment
from comments.services import comment_create
from history.models import TicketHistory
from tests.factories import make_agent, make_user
from tests.operators.worlds import busy_board
from tickets.models import Label, Ticket
from tickets.services import ticket_add_dependency, ticket_claim, ticket_create, ticket_move

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(db):
    return make_agent("claude-x")[0]


@pytest.fixture
def shop(user, other_user, agent):
    return busy_board(user, other_user, agent)


def fields(row, *skip: str) -> dict:
    """Every stored field of a row except ids and the named ones."""
    return {
        field.attname: getattr(row, field.attname)
        for field in type(row)._meta.concrete_fields
        if field.attname not in {"id", *skip}
    }


def label_names(ticket: Ticket) -> list[str]:
    return sorted(label.name for label in ticket.labels.all())


def table_counts() -> dict[str, int]:
    models = [User, Board, Column, Label, Ticket, Comment, TicketHistory, BoardEvent]
    counts = {model.__name__: model.objects.count() for model in models}
    counts["labels"] = Ticket.labels.through.objects.count()
    counts["blocked_by"] = Ticket.blocked_by.through.objects.count()
    return counts


# ---------------------------------------------------------------- round trip


def test_round_trip_copies_every_row_field_by_field(shop, admin_user):
    document = json.loads(json.dumps(board_export(board_id=shop.pk)))
    copy_ = board_import(actor=admin_user, data=document)

    assert copy_.pk != shop.pk
    shop.refresh_from_db()
    copy_.refresh_from_db()
    assert fields(copy_, "updated_at", "last_event_seq") == fields(
        shop, "updated_at", "last_event_seq"
    )

    def columns(board):
        return [
            fields(c, "board_id") for c in Column.objects.filter(board=board).order_by("position")
        ]

    assert columns(copy_) == columns(shop)
    assert [fields(x, "board_id") for x in Label.objects.filter(board=copy_)] == [
        fields(x, "board_id") for x in Label.objects.filter(board=shop)
    ]

    # Match tickets by their place on the board, which is unique and kept.
    def by_place(board):
        return {
            (t.column.name, t.position): t
            for t in Ticket.objects.filter(board=board).select_related("column")
        }

    old, new = by_place(shop), by_place(copy_)
    assert old.keys() == new.keys() and len(old) == 4
    new_id = {old[place].pk: new[place].pk for place in old}
    for place, before in old.items():
        after = new[place]
        # A claim's fencing token is a secret of its holder's worker and is not exported.
        moved = ("board_id", "column_id", "claim_token")
        assert fields(after, *moved) == fields(before, *moved)
        assert label_names(after) == label_names(before)
        assert sorted(t.pk for t in after.blocked_by.all()) == sorted(
            new_id[t.pk] for t in before.blocked_by.all()
        )
    assert Ticket.blocked_by.through.objects.filter(from_ticket__board=copy_).count() == 1
    assert Ticket.labels.through.objects.filter(ticket__board=copy_).count() == 4

    def comments(board, remap=lambda pk: pk):
        return [
            {**fields(c, "ticket_id"), "ticket": remap(c.ticket_id)}
            for c in Comment.objects.filter(ticket__board=board).order_by("created_at", "id")
        ]

    assert comments(copy_) == comments(shop, new_id.get)
    assert len(comments(copy_)) == 3  # the deleted ticket's comment went with it

    def history(board, remap=lambda pk: pk):
        return [
            {**fields(row, "board_id", "ticket_id"), "ticket": remap(row.ticket_id)}
            for row in TicketHistory.objects.filter(board=board).order_by("id")
        ]

    deleted = TicketHistory.objects.get(board=shop, field_name="deleted").ticket_id
    assert history(copy_) == history(shop, lambda pk: new_id.get(pk, -pk))
    assert TicketHistory.objects.filter(board=copy_, ticket_id=-deleted).count() >= 2


def test_round_trip_document_is_stable(shop, admin_user):
    """Exporting the imported board gives the same document, but for its ids."""
    first = board_export(board_id=shop.pk)
    second = board_export(board_id=board_import(actor=admin_user, data=first).pk)

    def without_ids(document):
        document = copy.deepcopy(document)
        document.pop("exported_at")
        order = {t["id"]: index for index, t in enumerate(document["tickets"])}
        for ticket in document["tickets"]:
            ticket["id"] = order[ticket["id"]]
            ticket["blocked_by"] = [order[pk] for pk in ticket["blocked_by"]]
        for comment in document["comments"]:
            comment["ticket"] = order[comment["ticket"]]
        for row in document["history"]:
            row["ticket_id"] = order.get(row["ticket_id"], "deleted")
        return document

    assert without_ids(second) == without_ids(first)


def test_export_document_shape(shop):
    document = board_export(board_id=shop.pk)
    assert document["format_version"] == FORMAT_VERSION
    assert [c["name"] for c in document["columns"]] == ["Backlog", "Doing", "Done"]
    assert document["columns"][1]["wip_limit"] == 5
    assert document["labels"] == ["bug", "checkout", "design", "ui"]
    assert {u["username"]: u["is_agent"] for u in document["users"]} == {
        "alice": False,
        "bob": False,
        "claude-x": True,
    }
    checkout = next(t for t in document["tickets"] if t["title"] == "Checkout fails")
    assert checkout["column"] == "Doing" and checkout["priority"] == "high"
    assert checkout["assignee"] == "claude-x" and checkout["claimed_by"] == "claude-x"
    assert checkout["created_by"] == "alice" and checkout["version"] > 1
    assert "BoardEvent" not in json.dumps(document) and "events" not in document


def test_import_is_recorded_as_one_event_and_no_new_history(shop, admin_user):
    document = board_export(board_id=shop.pk)
    history_before = TicketHistory.objects.count()
    board = board_import(actor=admin_user, data=document, name="Restored")

    assert board.name == "Restored"
    events = list(BoardEvent.objects.filter(board=board))
    assert [(e.seq, e.type, e.actor) for e in events] == [(1, "board_imported", admin_user)]
    assert events[0].payload["imported"]["tickets"] == 4
    assert Board.objects.get(pk=board.pk).last_event_seq == 1
    # Copied, not made anew: exactly the exported rows, no "created" rows from a signal.
    assert TicketHistory.objects.count() == history_before + len(document["history"])


def test_import_creates_missing_users_inactive_without_password(shop, admin_user):
    document = board_export(board_id=shop.pk)
    text = json.dumps(document).replace('"claude-x"', '"robot-9"').replace('"bob"', '"carol"')
    board = board_import(actor=admin_user, data=json.loads(text))

    robot, carol = User.objects.get(username="robot-9"), User.objects.get(username="carol")
    assert robot.is_agent and not carol.is_agent
    for made in (robot, carol):
        assert not made.is_active and not made.has_usable_password()
    assert Ticket.objects.filter(board=board, assignee=robot, claimed_by=robot).count() == 1
    assert Comment.objects.filter(ticket__board=board, author=carol).count() == 1
    alice = User.objects.get(username="alice")
    assert alice.is_active and alice.has_usable_password()


def test_imported_board_works_with_the_services(shop, admin_user, user):
    board = board_import(actor=admin_user, data=board_export(board_id=shop.pk))
    ticket = ticket_create(actor=user, board_id=board.pk, title="After import", column="Doing")
    ticket_move(actor=user, ticket_id=ticket.pk, column="Done", position="top")
    assert [e.type for e in BoardEvent.objects.filter(board=board)] == [
        "board_imported",
        "ticket_created",
        "ticket_moved",
    ]


# ---------------------------------------------------------------- broken files


def broken(document: dict, how: str) -> dict:
    document = copy.deepcopy(document)
    # Every break is late in the document, after parts that would already be writable,
    # and the document names a user this database lacks.
    document["users"].append({"username": "newcomer", "is_agent": False})
    document["tickets"][0]["assignee"] = "newcomer"
    if how == "missing key":
        del document["tickets"][-1]["version"]
    elif how == "unknown column":
        document["tickets"][-1]["column"] = "Nowhere"
    elif how == "wrong version":
        document["format_version"] = 99
    elif how == "unknown blocker":
        document["tickets"][-1]["blocked_by"] = [999_999]
    elif how == "comment on unknown ticket":
        document["comments"][-1]["ticket"] = 999_999
    elif how == "bad time":
        document["history"][-1]["changed_at"] = "yesterday"
    elif how == "duplicate position":
        first, last = document["tickets"][0], document["tickets"][-1]
        last["column"], last["position"] = first["column"], first["position"]
    elif how == "unlisted user":
        document["history"][-1]["changed_by"] = "stranger"
    elif how == "nul in text":
        document["comments"][-1]["text"] = "a\x00b"
    elif how == "no columns":
        document["columns"] = []
    elif how == "huge wip limit":
        document["columns"][0]["wip_limit"] = 10**12
    elif how == "column twice":
        document["columns"][-1]["name"] = document["columns"][0]["name"].upper()
    elif how == "not an object":
        return ["a", "list"]
    return document


BREAKS = [
    "missing key",
    "unknown column",
    "wrong version",
    "unknown blocker",
    "comment on unknown ticket",
    "bad time",
    "duplicate position",
    "unlisted user",
    "nul in text",
    "no columns",
    "huge wip limit",
    "column twice",
    "not an object",
]


@pytest.mark.parametrize("how", BREAKS)
def test_a_broken_document_writes_nothing(shop, admin_user, how, tmp_path):
    path = tmp_path / "board.json"
    path.write_text(json.dumps(broken(board_export(board_id=shop.pk), how)))
    before = table_counts()

    with pytest.raises(CommandError, match="Nothing was imported") as raised:
        call_command("import_board", str(path), stdout=io.StringIO())

    assert table_counts() == before
    assert not User.objects.filter(username="newcomer").exists()
    assert "Traceback" not in str(raised.value)


def test_error_messages_name_the_problem(shop, tmp_path):
    document = board_export(board_id=shop.pk)
    path = tmp_path / "board.json"
    cases = {
        "unknown column": "tickets[3].column: unknown column 'Nowhere'",
        "wrong version": "format_version: is 99",
        "missing key": "tickets[3].version: is missing",
    }
    for how, message in cases.items():
        path.write_text(json.dumps(broken(document, how)))
        with pytest.raises(CommandError) as raised:
            call_command("import_board", str(path), stdout=io.StringIO())
        assert message in str(raised.value), how


@pytest.mark.parametrize("content", ["{not json", "", '{"format_version": 1}', "\xff\xfe"])
def test_unreadable_files_write_nothing(db, tmp_path, content):
    path = tmp_path / "board.json"
    path.write_bytes(content.encode("latin-1"))
    before = table_counts()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_board", str(path), stdout=io.StringIO())
    assert table_counts() == before


def test_import_of_a_missing_file_fails_clearly(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_board", str(tmp_path / "nope.json"))


# ---------------------------------------------------------------- the commands


def test_export_to_stdout_and_import_with_a_new_name(shop, tmp_path):
    out = io.StringIO()
    call_command("export_board", str(shop.pk), stdout=out)
    path = tmp_path / "shop.json"
    path.write_text(out.getvalue())

    result = io.StringIO()
    call_command(
        "import_board", str(path), "--name", "Shop copy", "--actor", "alice", stdout=result
    )

    board = Board.objects.get(name="Shop copy")
    assert f"Imported board {board.pk} 'Shop copy' with 4 tickets" in result.getvalue()
    assert BoardEvent.objects.get(board=board).actor.username == "alice"


def test_export_to_a_file(shop, tmp_path):
    path = tmp_path / "out.json"
    out = io.StringIO()
    call_command("export_board", str(shop.pk), "--output", str(path), stdout=out)
    assert out.getvalue() == ""
    assert json.loads(path.read_text())["board"]["name"] == "Shop"


def test_export_of_an_unknown_board_fails(db):
    with pytest.raises(CommandError, match="Board 424242 does not exist"):
        call_command("export_board", "424242", stdout=io.StringIO())


def test_import_as_an_unknown_actor_fails_and_writes_nothing(shop, tmp_path):
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(board_export(board_id=shop.pk)))
    before = table_counts()
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("import_board", str(path), "--actor", "ghost")
    assert table_counts() == before


def test_import_with_a_blank_name_is_refused(shop, tmp_path):
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(board_export(board_id=shop.pk)))
    with pytest.raises(CommandError, match=r"board\.name"):
        call_command("import_board", str(path), "--name", "  ")


# ---------------------------------------------------------------- query counts


def board_of(size: int, user, agent) -> Board:
    board = busy_board(user, make_user(f"helper{size}"), agent, name=f"Sized {size}")
    previous = None
    for index in range(size):
        ticket = ticket_create(
            actor=user if index % 2 else agent,
            board_id=board.pk,
            title=f"Card {index}",
            labels=[f"l{index % 7}", "all"],
            assignee=agent.username if index % 3 else None,
        )
        comment_create(actor=user, ticket_id=ticket.pk, text=f"Note {index}")
        if previous is not None and index % 4 == 0:
            ticket_add_dependency(actor=user, ticket_id=ticket.pk, blocked_by_id=previous.pk)
        if index % 4 == 2:
            ticket_claim(actor=agent, ticket_id=ticket.pk)
        previous = ticket
    return board


def queries(function) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as context:
        result = function()
    return len(context.captured_queries), result


def test_export_takes_the_same_queries_for_5_and_50_tickets(user, agent):
    small, large = board_of(5, user, agent), board_of(50, user, agent)

    small_count, small_doc = queries(lambda: board_export(board_id=small.pk))
    large_count, large_doc = queries(lambda: board_export(board_id=large.pk))

    assert len(small_doc["tickets"]) == 9 and len(large_doc["tickets"]) == 54
    assert small_count == large_count <= 8


def test_import_queries_do_not_grow_per_row(user, agent, admin_user):
    small = board_export(board_id=board_of(5, user, agent).pk)
    large = board_export(board_id=board_of(50, user, agent).pk)

    small_count, _ = queries(lambda: board_import(actor=admin_user, data=small))
    large_count, board = queries(lambda: board_import(actor=admin_user, data=large))

    assert Ticket.objects.filter(board=board).count() == 54
    # bulk_create splits long inserts where the database caps parameters per statement
    # (SQLite: 999), so the count may grow by a batch per ~100 rows, never by a row.
    assert small_count <= large_count <= small_count + len(large["history"]) // 100


def test_export_endpoint_gives_readers_the_same_document_and_hides_the_board(
    shop, user, other_user
):
    from rest_framework.test import APIClient

    from tests.factories import add_member

    outsider = make_user("outsider")
    add_member(shop, other_user, "viewer")
    reader = APIClient()
    reader.force_login(other_user)
    response = reader.get(f"/api/boards/{shop.pk}/export")
    assert response.status_code == 200
    document = response.json()
    expected = board_export(board_id=shop.pk)
    for key in ("board", "columns", "labels", "users", "tickets", "comments", "history"):
        assert document[key] == expected[key]

    stranger = APIClient()
    stranger.force_login(outsider)
    refused = stranger.get(f"/api/boards/{shop.pk}/export")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "not_found"
