"""Subtasks: a ticket's parent (same board, at most three levels, no cycles), the counts
every representation carries, the list of a ticket's subtasks, the rule that a parent is
finished only after its subtasks (on every door, with an audited admin override),
`claim next` handing out leaves, `create_subtasks` all or nothing over REST and MCP,
their history and events, flat query counts, the export round trip and the card's bar."""

import json

import anyio
import pytest
from channels.db import database_sync_to_async
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent
from backups.transfer import board_export, board_import
from boards.models import BoardEvent
from core.errors import InvalidInput
from tests.api.test_response_schema import assert_exact_properties, assert_matches
from tests.factories import add_member, make_board, make_ticket
from tests.mcp.helpers import call, data, error_text
from tests.tickets.helpers import assert_error, history_of, statement_count
from tickets import rules
from tickets.models import Ticket
from tickets.services import (
    ticket_create,
    ticket_move,
    ticket_update,
    tickets_bulk_create,
)

pytestmark = pytest.mark.django_db

URL = "/api/tickets/"


def make(api, board, title: str, **fields) -> dict:
    response = api.post(URL, {"board_id": board.pk, "title": title, **fields}, "json")
    assert response.status_code == 201, response.content
    return response.json()


def read(api, ticket_id: int) -> dict:
    response = api.get(f"{URL}{ticket_id}")
    assert response.status_code == 200, response.content
    return response.json()


def patch(api, ticket_id: int, **body):
    return api.patch(f"{URL}{ticket_id}", body, "json")


def last_seq(board) -> int:
    return type(board).objects.get(pk=board.pk).last_event_seq


def events_since(board, seq: int) -> list[tuple[str, dict]]:
    return [
        (event.type, event.payload)
        for event in BoardEvent.objects.filter(board=board, seq__gt=seq).order_by("seq")
    ]


def snapshot(board) -> dict[int, tuple]:
    return {
        pk: rest
        for pk, *rest in Ticket.objects.filter(board=board).values_list(
            "pk", "parent_id", "column_id", "version"
        )
    }


@pytest.fixture
def family(user, board):
    """A parent with two subtasks (in Backlog), one of which has a subtask of its own."""
    parent = make_ticket(user, board, "Parent")
    first = make_ticket(user, board, "First", parent_id=parent.pk)
    second = make_ticket(user, board, "Second", parent_id=parent.pk)
    grandchild = make_ticket(user, board, "Grandchild", parent_id=first.pk)
    return {"parent": parent, "first": first, "second": second, "grandchild": grandchild}


# ---------------------------------------------------------------- setting a parent


def test_a_subtask_is_created_and_detached_with_history_and_events(api, board):
    parent = make(api, board, "Parent")
    assert (parent["parent_id"], parent["subtasks"]) == (None, {"total": 0, "done": 0})
    seq = last_seq(board)

    child = make(api, board, "Child", parent_id=parent["id"])
    assert child["parent_id"] == parent["id"]
    assert read(api, child["id"]) == child
    assert read(api, parent["id"])["subtasks"] == {"total": 1, "done": 0}
    assert read(api, parent["id"])["version"] == parent["version"]  # its row is unchanged
    created, updated = events_since(board, seq)
    assert created == ("ticket_created", child)
    assert updated == ("ticket_updated", read(api, parent["id"]))
    assert ("parent", None, f"#{parent['id']}", "alice") in history_of(child["id"])

    seq = last_seq(board)
    response = patch(api, child["id"], parent_id=None)
    assert response.status_code == 200, response.content
    detached = response.json()
    assert detached["parent_id"] is None and detached["version"] == child["version"] + 1
    assert read(api, parent["id"])["subtasks"] == {"total": 0, "done": 0}
    assert history_of(child["id"])[-1] == ("parent", f"#{parent['id']}", None, "alice")
    kinds = events_since(board, seq)
    assert kinds[0] == ("ticket_updated", detached)
    assert kinds[1] == ("ticket_updated", read(api, parent["id"]))


def test_a_ticket_moves_under_another_parent(api, board, family):
    other = make(api, board, "Other")
    response = patch(api, family["second"].pk, parent_id=other["id"])
    assert response.status_code == 200, response.content
    assert read(api, other["id"])["subtasks"]["total"] == 1
    assert read(api, family["parent"].pk)["subtasks"]["total"] == 1
    # Sending back the parent it has changes nothing.
    again = patch(api, family["second"].pk, parent_id=other["id"]).json()
    assert again["version"] == response.json()["version"]


def test_a_parent_on_another_board_or_missing_is_refused(api, user, board):
    elsewhere = make_ticket(user, make_board(user, "Elsewhere"), "Far away")
    ticket = make(api, board, "Here")
    before = snapshot(board)
    for parent_id, code in ((elsewhere.pk, "other_board"), (999_999, "not_found")):
        error = assert_error(
            api.post(URL, {"board_id": board.pk, "title": "x", "parent_id": parent_id}, "json"),
            400,
            code=code,
            field="parent_id",
        )
        assert error["validation_errors"][0]["code"] == code
        assert_error(
            patch(api, ticket["id"], parent_id=parent_id), 400, code=code, field="parent_id"
        )
    assert snapshot(board) == before


def test_a_parent_on_a_board_one_cannot_read_reads_as_missing(api, other_user, board):
    hidden = make_ticket(other_user, make_board(other_user, "Private"), "Secret")
    error = assert_error(
        api.post(URL, {"board_id": board.pk, "title": "x", "parent_id": hidden.pk}, "json"),
        400,
        code="not_found",
        field="parent_id",
    )
    assert "Private" not in error["message"] and "another board" not in error["message"]


def test_cycles_are_refused(api, board, family):
    before = snapshot(board)
    for ticket, parent in (
        ("parent", "parent"),  # itself
        ("parent", "first"),  # its subtask
        ("first", "grandchild"),  # its own subtask, one level down
    ):
        assert_error(
            patch(api, family[ticket].pk, parent_id=family[parent].pk),
            400,
            code="parent_cycle",
            field="parent_id",
        )
    # A parent under its grandchild: a cycle, which the depth rule would refuse too.
    assert_error(
        patch(api, family["parent"].pk, parent_id=family["grandchild"].pk),
        400,
        field="parent_id",
    )
    assert snapshot(board) == before


def test_nesting_stops_at_three_levels(api, board, family):
    # parent (1) > first (2) > grandchild (3): a fourth level is refused, on create…
    error = assert_error(
        api.post(
            URL,
            {"board_id": board.pk, "title": "Too deep", "parent_id": family["grandchild"].pk},
            "json",
        ),
        400,
        code="too_deep",
        field="parent_id",
    )
    assert "at most 3 levels" in error["message"]
    # …and on update, counting the moved ticket's own subtasks: second (a leaf) may go
    # under first (level 3), but first (with a subtask) may not go under second.
    other_root = make(api, board, "Root")
    before = snapshot(board)
    assert_error(
        patch(api, family["first"].pk, parent_id=family["second"].pk),
        400,
        code="too_deep",
        field="parent_id",
    )
    assert_error(
        patch(api, family["parent"].pk, parent_id=other_root["id"]),
        400,
        code="too_deep",
        field="parent_id",
    )
    assert snapshot(board) == before
    assert patch(api, family["second"].pk, parent_id=family["first"].pk).status_code == 200
    assert Ticket.objects.get(pk=family["second"].pk).parent_id == family["first"].pk


def test_a_bad_parent_id_is_a_field_error(api, board):
    ticket = make(api, board, "T")
    for value in ("abc", True, 0, -3, 2**70, [1]):
        assert_error(patch(api, ticket["id"], parent_id=value), 400, field="parent_id")


def test_the_rules_hold_for_the_services_too(user, board, family):
    """Every surface reaches them: the service refuses what the serializer would let by."""
    with pytest.raises(InvalidInput, match="Must be a ticket id"):
        ticket_update(actor=user, ticket_id=family["second"].pk, parent_id="7")
    with pytest.raises(InvalidInput, match="cannot be its own parent"):
        ticket_update(actor=user, ticket_id=family["second"].pk, parent_id=family["second"].pk)


# ---------------------------------------------------------------- representation and list


def test_counts_follow_the_subtasks_to_the_last_column(api, user, board, family):
    assert read(api, family["parent"].pk)["subtasks"] == {"total": 2, "done": 0}
    assert read(api, family["first"].pk)["subtasks"] == {"total": 1, "done": 0}
    ticket_move(actor=user, ticket_id=family["second"].pk, column="Done")
    assert read(api, family["parent"].pk)["subtasks"] == {"total": 2, "done": 1}
    ticket_move(actor=user, ticket_id=family["second"].pk, column="Testing")
    assert read(api, family["parent"].pk)["subtasks"] == {"total": 2, "done": 0}
    # The same on every read: the board, a page of the list, the one ticket.
    board_read = {row["id"]: row for row in api.get(f"/api/boards/{board.pk}/tickets").json()}
    listed = {row["id"]: row for row in api.get(f"{URL}?board_id={board.pk}").json()["items"]}
    for ticket in family.values():
        assert board_read[ticket.pk] == listed[ticket.pk] == read(api, ticket.pk)
    assert board_read[family["grandchild"].pk]["parent_id"] == family["first"].pk


def test_progress_changes_reach_watchers_as_parent_updates(api, user, board, family):
    seq = last_seq(board)
    response = api.post(f"{URL}{family['second'].pk}/move", {"column": "Done"}, "json")
    assert response.status_code == 200, response.content
    kinds = [(kind, payload["id"]) for kind, payload in events_since(board, seq)]
    assert kinds == [("ticket_moved", family["second"].pk), ("ticket_updated", family["parent"].pk)]
    parent_event = events_since(board, seq)[-1][1]
    assert parent_event == read(api, family["parent"].pk)
    assert parent_event["subtasks"] == {"total": 2, "done": 1}
    # A move that neither finishes nor reopens a subtask says nothing of its parent.
    seq = last_seq(board)
    api.post(f"{URL}{family['first'].pk}/move", {"column": "Testing"}, "json")
    assert [kind for kind, _ in events_since(board, seq)] == ["ticket_moved"]


def test_the_subtasks_list(api, other_user, board, family):
    response = api.get(f"{URL}{family['parent'].pk}/subtasks")
    assert response.status_code == 200, response.content
    page = response.json()
    assert set(page) == {
        "items",
        "total",
        "page",
        "page_size",
        "total_pages",
        "has_next",
        "has_previous",
    }
    assert [row["id"] for row in page["items"]] == [family["first"].pk, family["second"].pk]
    assert page["items"][0] == read(api, family["first"].pk)
    assert page["total"] == 2
    small = api.get(f"{URL}{family['parent'].pk}/subtasks?page_size=1&page=2").json()
    assert [row["id"] for row in small["items"]] == [family["second"].pk]
    assert api.get(f"{URL}{family['second'].pk}/subtasks/").json()["items"] == []
    # A ticket on a board one may not read is missing, as it is for every read.
    hidden = make_ticket(other_user, make_board(other_user, "Private"), "Secret")
    assert_error(api.get(f"{URL}{hidden.pk}/subtasks"), 404)
    assert_error(api.get(f"{URL}999999/subtasks"), 404)


def test_the_subtask_answers_are_what_the_schema_says(api, anon, board, family):
    openapi = anon.get("/api/schema/?format=json").json()
    path = "/api/tickets/{id}/subtasks/"
    listed = api.get(f"{URL}{family['parent'].pk}/subtasks")
    assert_matches(openapi, listed, path)
    made = api.post(f"{URL}{family['second'].pk}/subtasks", {"subtasks": [{"title": "x"}]}, "json")
    assert_matches(openapi, made, path, "post")
    assert_exact_properties(openapi, "Ticket", [made.json()["parent"], *listed.json()["items"]])


# ---------------------------------------------------------------- finishing a parent


def by_move(client, ticket_id: int, column: str, **extra):
    return client.post(f"{URL}{ticket_id}/move", {"column": column, **extra}, "json")


def by_patch(client, ticket_id: int, column: str, **extra):
    return client.patch(f"{URL}{ticket_id}", {"current_column": column, **extra}, "json")


def by_bulk(client, ticket_id: int, column: str, **extra):
    body = {"ticket_ids": [ticket_id], "column": column, **extra}
    return client.post("/api/bulk/tickets/move", body, "json")


DOORS = pytest.mark.parametrize("door", [by_move, by_patch, by_bulk], ids=["move", "patch", "bulk"])


@DOORS
def test_a_parent_with_open_subtasks_does_not_reach_the_last_column(
    door, api, member_api, user, board, family
):
    before, seq = snapshot(board), last_seq(board)
    for client in (member_api, api):  # admins too, without the override
        error = assert_error(door(client, family["parent"].pk, "Done"), 409, code="open_subtasks")
        assert error["open_subtasks"] == [
            {
                "ticket_id": family["parent"].pk,
                "subtask_ids": [family["first"].pk, family["second"].pk],
            }
        ]
        assert f"#{family['first'].pk}" in error["message"]
    assert snapshot(board) == before and last_seq(board) == seq
    # Anywhere else it goes as before.
    assert door(member_api, family["parent"].pk, "Testing").status_code == 200
    # Once its subtasks (and theirs) are finished, so may it be.
    for name in ("grandchild", "first", "second"):
        ticket_move(actor=user, ticket_id=family[name].pk, column="Done")
    response = door(member_api, family["parent"].pk, "Done")
    assert response.status_code == 200, response.content
    assert Ticket.objects.get(pk=family["parent"].pk).column.name == "Done"


def test_a_parent_and_its_subtasks_may_finish_together_in_one_bulk_move(api, board, family):
    ids = [family[name].pk for name in ("parent", "first", "second")]
    # The grandchild is not among them: first may not finish, so nothing does.
    body = {"ticket_ids": ids, "column": "Done"}
    error = assert_error(
        api.post("/api/bulk/tickets/move", body, "json"), 409, code="open_subtasks"
    )
    assert error["open_subtasks"] == [
        {"ticket_id": family["first"].pk, "subtask_ids": [family["grandchild"].pk]}
    ]
    body["ticket_ids"] = [*ids, family["grandchild"].pk]
    response = api.post("/api/bulk/tickets/move", body, "json")
    assert response.status_code == 200, response.content
    assert set(Ticket.objects.filter(board=board).values_list("column__name", flat=True)) == {
        "Done"
    }


@DOORS
def test_an_admin_override_is_recorded_and_audited(door, api, member_api, board, family):
    assert_error(door(member_api, family["parent"].pk, "Done", override_subtasks=True), 403)
    assert not AuditEvent.objects.filter(action="subtasks.override").exists()

    response = door(api, family["parent"].pk, "Done", override_subtasks=True)
    assert response.status_code == 200, response.content
    assert Ticket.objects.get(pk=family["parent"].pk).column.name == "Done"
    open_ids = f"#{family['first'].pk}, #{family['second'].pk}"
    assert ("subtasks_override", None, open_ids, "alice") in history_of(family["parent"].pk)
    audit = AuditEvent.objects.get(action="subtasks.override")
    assert (audit.board_id, audit.target_id, audit.details) == (
        board.pk,
        str(family["parent"].pk),
        {"open_subtasks": [family["first"].pk, family["second"].pk]},
    )


def test_an_override_that_was_not_needed_is_not_recorded(api, board, family):
    response = by_move(api, family["second"].pk, "Done", override_subtasks=True)
    assert response.status_code == 200, response.content
    assert not AuditEvent.objects.filter(action="subtasks.override").exists()
    assert [row for row in history_of(family["second"].pk) if row[0] == "subtasks_override"] == []


# ---------------------------------------------------------------- claim next


def test_claim_next_hands_out_leaves_not_parents(agent_api, user, board, family):
    url = f"/api/boards/{board.pk}/claim-next"
    # Parent, first and second are open parents or leaves; in creation order the parent
    # would be first. The leaves go first: second, then the grandchild.
    claimed = [agent_api.post(url, {}, "json").json()["id"] for _ in range(2)]
    assert claimed == [family["second"].pk, family["grandchild"].pk]
    assert agent_api.post(url, {}, "json").status_code == 404  # first waits for its subtask
    ticket_move(actor=user, ticket_id=family["grandchild"].pk, column="Done")
    assert agent_api.post(url, {}, "json").json()["id"] == family["first"].pk
    for name in ("first", "second"):
        ticket_move(actor=user, ticket_id=family[name].pk, column="Done")
    assert agent_api.post(url, {}, "json").json()["id"] == family["parent"].pk


# ---------------------------------------------------------------- create_subtasks (REST)


def test_create_subtasks_in_one_call(api, board, user):
    parent = make(api, board, "Epic")
    seq = last_seq(board)
    body = {
        "subtasks": [
            {"title": "Design", "priority": "high"},
            {"title": "Build", "description": "In *Django*.", "acceptance_criteria": "Tests"},
            {"title": "Ship"},
        ]
    }
    response = api.post(f"{URL}{parent['id']}/subtasks", body, "json")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["parent"] == read(api, parent["id"])
    assert answer["parent"]["subtasks"] == {"total": 3, "done": 0}
    made = answer["subtasks"]
    assert [row["title"] for row in made] == ["Design", "Build", "Ship"]
    assert [row["priority"] for row in made] == ["high", "medium", "medium"]
    assert made[1]["description"] == "In *Django*." and made[1]["acceptance_criteria"] == "Tests"
    assert {row["parent_id"] for row in made} == {parent["id"]}
    assert {row["current_column"] for row in made} == {"Backlog"}
    for row in made:
        assert row == read(api, row["id"])
        assert ("parent", None, f"#{parent['id']}", "alice") in history_of(row["id"])
    events = events_since(board, seq)
    assert [kind for kind, _ in events] == ["ticket_created"] * 3 + ["ticket_updated"]
    assert [payload for _, payload in events[:3]] == made
    assert events[-1][1] == answer["parent"]
    listed = api.get(f"{URL}{parent['id']}/subtasks").json()["items"]
    assert listed == made


@pytest.mark.parametrize(
    "subtasks, field",
    [
        ([{"title": "Fine"}, {"title": ""}], "subtasks[1].title"),
        ([{"title": "Fine"}, {"title": "   "}], "subtasks[1].title"),
        ([{"title": "Fine"}, {"title": "x", "priority": "urgent"}], "subtasks[1].priority"),
        ([{"title": "Fine"}, {"title": "x", "column": "Done"}], "subtasks[1].column"),
        ([{"title": "Fine"}, "just a title"], "subtasks[1]"),
        ([], "subtasks"),
        ([{"title": f"T{n}"} for n in range(rules.SUBTASKS_MAX + 1)], "subtasks"),
    ],
)
def test_create_subtasks_is_all_or_nothing(api, board, subtasks, field):
    parent = make(api, board, "Epic")
    before, seq = snapshot(board), last_seq(board)
    response = api.post(f"{URL}{parent['id']}/subtasks", {"subtasks": subtasks}, "json")
    assert_error(response, 400, field=field)
    assert snapshot(board) == before and last_seq(board) == seq


def test_create_subtasks_keeps_the_parent_rules(api, board, family, other_user):
    before = snapshot(board)
    body = {"subtasks": [{"title": "Level four"}]}
    error = assert_error(
        api.post(f"{URL}{family['grandchild'].pk}/subtasks", body, "json"), 400, code="too_deep"
    )
    assert error["validation_errors"][0]["field"] == "parent_id"
    assert snapshot(board) == before
    hidden = make_ticket(other_user, make_board(other_user, "Private"), "Secret")
    assert_error(api.post(f"{URL}{hidden.pk}/subtasks", body, "json"), 404)
    assert Ticket.objects.filter(title="Level four").count() == 0


def test_create_subtasks_needs_write_rights(api, user, board, other_user):
    parent = make(api, board, "Epic")
    add_member(board, other_user, "viewer")
    viewer = APIClient()
    viewer.force_login(other_user)
    response = viewer.post(f"{URL}{parent['id']}/subtasks", {"subtasks": [{"title": "x"}]}, "json")
    assert_error(response, 403)
    assert Ticket.objects.filter(parent_id=parent["id"]).count() == 0


# ---------------------------------------------------------------- deleting


def test_deleting_a_parent_keeps_its_subtasks_without_one(api, board, family):
    seq = last_seq(board)
    assert api.delete(f"{URL}{family['first'].pk}").status_code == 204
    grandchild = read(api, family["grandchild"].pk)
    assert grandchild["parent_id"] is None
    assert grandchild["version"] == family["grandchild"].version + 1
    assert history_of(family["grandchild"].pk)[-1] == (
        "parent",
        f"#{family['first'].pk}",
        None,
        "alice",
    )
    assert read(api, family["parent"].pk)["subtasks"] == {"total": 1, "done": 0}
    kinds = [(kind, payload["id"]) for kind, payload in events_since(board, seq)]
    assert kinds == [
        ("ticket_deleted", family["first"].pk),
        ("ticket_updated", family["parent"].pk),
        ("ticket_updated", family["grandchild"].pk),
    ]


# ---------------------------------------------------------------- query counts


def counted(call_) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = call_()
    return len(captured), response


def test_reading_parents_costs_no_query_per_ticket(api, user, board):
    def family_of(count: int, title: str) -> int:
        parent = ticket_create(actor=user, board_id=board.pk, title=title)
        tickets_bulk_create(
            actor=user,
            board_id=board.pk,
            tickets=[{"title": f"{title} {n}"} for n in range(count)],
            parent_id=parent.pk,
        )
        return parent.pk

    small = family_of(2, "Small")
    small_one, _ = counted(lambda: api.get(f"{URL}{small}"))
    small_board, _ = counted(lambda: api.get(f"/api/boards/{board.pk}/tickets"))
    small_list, _ = counted(lambda: api.get(f"{URL}?board_id={board.pk}&page_size=100"))
    small_subtasks, _ = counted(lambda: api.get(f"{URL}{small}/subtasks"))
    small_page, _ = counted(lambda: api.get(f"/boards/{board.pk}/"))

    large = family_of(30, "Large")
    for parent in range(5):  # more parents with subtasks, one of each finished
        pk = family_of(3, f"P{parent}")
        first = Ticket.objects.filter(parent_id=pk).order_by("pk").first()
        ticket_move(actor=user, ticket_id=first.pk, column="Done")
    assert counted(lambda: api.get(f"{URL}{large}"))[0] == small_one
    count, response = counted(lambda: api.get(f"/api/boards/{board.pk}/tickets"))
    assert count == small_board
    counts = {row["id"]: row["subtasks"] for row in response.json()}
    assert counts[large] == {"total": 30, "done": 0}
    assert sorted(c["done"] for c in counts.values() if c["total"] == 3) == [1] * 5
    assert counted(lambda: api.get(f"{URL}?board_id={board.pk}&page_size=100"))[0] == small_list
    count, response = counted(lambda: api.get(f"{URL}{large}/subtasks?page_size=100"))
    assert count == small_subtasks and len(response.json()["items"]) == 30
    count, response = counted(lambda: api.get(f"/boards/{board.pk}/"))
    assert count == small_page
    assert "0/30" in response.content.decode()


def test_create_subtasks_costs_the_same_for_2_and_20(api, board):
    def split(count: int) -> int:
        parent = make(api, board, f"Epic {count}")
        body = {"subtasks": [{"title": f"S{n}"} for n in range(count)]}
        with CaptureQueriesContext(connection) as captured:
            response = api.post(f"{URL}{parent['id']}/subtasks", body, "json")
        assert response.status_code == 201, response.content
        return statement_count(captured)

    assert split(2) == split(20)


# ---------------------------------------------------------------- export and import


def test_export_then_import_keeps_the_parents(user, admin_user, board, family):
    ticket_move(actor=user, ticket_id=family["second"].pk, column="Done")
    document = json.loads(json.dumps(board_export(board_id=board.pk)))
    by_title = {ticket["title"]: ticket for ticket in document["tickets"]}
    assert by_title["First"]["parent"] == family["parent"].pk
    assert by_title["Parent"]["parent"] is None

    copy = board_import(actor=admin_user, data=document)
    old = {t.title: t for t in Ticket.objects.filter(board=board)}
    new = {t.title: t for t in Ticket.objects.filter(board=copy)}
    new_id = {old[title].pk: new[title].pk for title in old}
    for title, before in old.items():
        after = new[title]
        assert after.parent_id == (new_id[before.parent_id] if before.parent_id else None)
    # Exported again, the copy says the same but for its ids.
    again = {t["title"]: t for t in board_export(board_id=copy.pk)["tickets"]}
    for title, ticket in by_title.items():
        assert again[title]["parent"] == (new_id[ticket["parent"]] if ticket["parent"] else None)


def test_an_old_document_without_parents_still_imports(user, admin_user, board, family):
    document = board_export(board_id=board.pk)
    for ticket in document["tickets"]:
        del ticket["parent"]
    copy = board_import(actor=admin_user, data=document)
    assert not Ticket.objects.filter(board=copy, parent__isnull=False).exists()


@pytest.mark.parametrize("how", ["missing", "itself", "cycle", "too_deep"])
def test_an_import_with_bad_parents_writes_nothing(user, admin_user, board, family, how):
    document = board_export(board_id=board.pk)
    tickets = {ticket["title"]: ticket for ticket in document["tickets"]}
    if how == "missing":
        tickets["First"]["parent"] = 999_999
    elif how == "itself":
        tickets["First"]["parent"] = tickets["First"]["id"]
    elif how == "cycle":
        tickets["Parent"]["parent"] = tickets["Second"]["id"]
    else:
        tickets["Second"]["parent"] = tickets["Grandchild"]["id"]
    count = Ticket.objects.count()
    with pytest.raises(Exception, match=r"tickets\[\d+\]\.parent"):
        board_import(actor=admin_user, data=document)
    assert Ticket.objects.count() == count


# ---------------------------------------------------------------- the card


def test_the_parent_card_shows_its_progress_bar(api, user, board, family):
    ticket_move(actor=user, ticket_id=family["second"].pk, column="Done")
    page = api.get(f"/boards/{board.pk}/").content.decode()
    fragment = api.get(f"/boards/{board.pk}/cards/{family['parent'].pk}/").content.decode()
    assert fragment in page
    assert 'class="card-subtasks" data-subtasks title="1 of 2 subtasks done"' in fragment
    assert 'aria-valuemax="2" aria-valuenow="1"' in fragment
    assert 'style="width: 50%"' in fragment
    assert '<span class="subtasks-count">1/2</span>' in fragment
    leaf = api.get(f"/boards/{board.pk}/cards/{family['second'].pk}/").content.decode()
    assert "card-subtasks" not in leaf
    ticket_move(actor=user, ticket_id=family["first"].pk, column="Done", override_subtasks=True)
    done = api.get(f"/boards/{board.pk}/cards/{family['parent'].pk}/").content.decode()
    assert "card-subtasks is-done" in done and ">2/2<" in done
    # The card detail's history says it in words.
    ticket_update(actor=user, ticket_id=family["second"].pk, parent_id=None)
    ticket_update(actor=user, ticket_id=family["second"].pk, parent_id=family["first"].pk)

    def detail(name: str) -> str:
        url = f"/boards/{board.pk}/tickets/{family[name].pk}/"
        return api.get(url, HTTP_X_FRAGMENT="1").content.decode()

    assert f"took it out of <b>#{family['parent'].pk}</b>" in detail("second")
    assert f"made it a subtask of <b>#{family['first'].pk}</b>" in detail("second")
    assert f"finished it before its subtasks <b>#{family['grandchild'].pk}</b>" in detail("first")


# ---------------------------------------------------------------- MCP


@pytest.fixture
def close_tool_connections():
    """Tool calls run in database threads; close their connections as a request would."""
    yield
    anyio.run(database_sync_to_async(connections.close_all))


@pytest.mark.django_db(transaction=True)
def test_mcp_create_subtasks_and_the_parent_rules(
    agent_with_token, user, board, close_tool_connections
):
    _, secret = agent_with_token
    parent = make_ticket(user, board, "Epic")
    answer = data(
        call(
            secret,
            "create_subtasks",
            task_id=parent.pk,
            subtasks=[{"title": "One"}, {"title": "Two", "priority": "critical"}],
        )
    )
    assert answer["task"]["id"] == parent.pk
    assert answer["task"]["subtasks"] == {"total": 2, "done": 0}
    one, two = answer["subtasks"]
    assert (one["title"], two["priority"], one["parent_id"]) == ("One", "critical", parent.pk)

    # One bad item, nothing written.
    count = Ticket.objects.count()
    text = error_text(
        call(
            secret,
            "create_subtasks",
            task_id=parent.pk,
            subtasks=[{"title": "Three"}, {"title": "   "}],
        )
    )
    assert text.startswith("invalid: subtasks[1].title")
    assert Ticket.objects.count() == count
    assert "subtasks" in error_text(
        call(secret, "create_subtasks", task_id=parent.pk, subtasks=[{"title": "x", "oops": 1}])
    )

    # create_task and edit_task take a parent; 0 detaches.
    made = data(call(secret, "create_task", board_id=board.pk, title="Three", parent_id=parent.pk))
    assert made["task"]["parent_id"] == parent.pk
    detached = data(call(secret, "edit_task", task_id=made["task"]["id"], parent_id=0))
    assert detached["task"]["parent_id"] is None
    moved = data(call(secret, "edit_task", task_id=made["task"]["id"], parent_id=one["id"]))
    assert moved["task"]["parent_id"] == one["id"]
    assert "parent_cycle" in error_text(
        call(secret, "edit_task", task_id=parent.pk, parent_id=one["id"])
    )

    # The parent is finished only after its subtasks.
    text = error_text(call(secret, "update_task_status", task_id=parent.pk, column="Done"))
    assert text.startswith("conflict/open_subtasks")
    assert Ticket.objects.get(pk=parent.pk).column.name == "Backlog"
    assert "forbidden" in error_text(
        call(secret, "update_task_status", task_id=parent.pk, column="Done", override_subtasks=True)
    )

    # claim_next_task hands out a leaf.
    claimed = data(call(secret, "claim_next_task", board_id=board.pk))
    assert claimed["task"]["id"] == two["id"]  # a critical leaf; "One" waits for "Three"
    for task in (made["task"]["id"], one["id"], two["id"]):
        ticket_move(actor=user, ticket_id=task, column="Done")
    finished = data(call(secret, "update_task_status", task_id=parent.pk, column="Done"))
    assert finished["task"]["current_column"] == "Done"
    full = data(call(secret, "get_task", task_id=parent.pk))["task"]
    assert full["subtasks"] == {"total": 2, "done": 2} and full["parent_id"] is None
