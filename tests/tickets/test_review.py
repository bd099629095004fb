"""Review gates: a column that requires review lets a ticket go on only by an approval,
on every door (POST /move, PATCH, bulk, create, MCP); approve and request changes with
their history, events, comments and claims; who may review; claim-next; statistics;
export and import."""

import json

import anyio
import pytest
from channels.db import database_sync_to_async
from django.db import connections
from rest_framework.test import APIClient

from audit.models import AuditEvent
from backups.transfer import board_export, board_import
from boards.models import Board, BoardEvent, Column
from boards.selectors import board_columns
from boards.services import board_set_columns, board_update
from comments.models import Comment
from comments.reviews import ticket_review_with_comment
from core.errors import InvalidInput, ReviewRequired
from stats.models import RefusedMove
from tests.factories import add_member, make_board, make_ticket, make_user
from tests.mcp.helpers import call, data, error_text
from tests.tickets.helpers import assert_error, history_of
from tickets.models import Ticket
from tickets.services import (
    ticket_claim,
    ticket_move,
    tickets_bulk_create,
)

pytestmark = pytest.mark.django_db

REVIEW = "Testing"  # of the default columns: Backlog, In Progress, Testing, Done


def require_review(actor, board, *names: str) -> None:
    board_set_columns(
        actor=actor,
        board_id=board.pk,
        columns=[
            {"id": c["id"], "name": c["name"], "requires_review": c["name"] in names}
            for c in board_columns(board_id=board.pk)
        ],
    )


@pytest.fixture
def gated(user, board):
    """The shared board with its Testing column requiring review."""
    require_review(user, board, REVIEW)
    return board


def in_review(actor, board, title: str = "Waiting", *, claimed_by=None) -> Ticket:
    """A ticket `actor` moved from In Progress into the review column (claimed first by
    `claimed_by`, who then moved it)."""
    ticket = make_ticket(actor, board, title, column="In Progress")
    mover = actor
    if claimed_by is not None:
        ticket_claim(actor=claimed_by, ticket_id=ticket.pk)
        mover = claimed_by
    ticket_move(actor=mover, ticket_id=ticket.pk, column=REVIEW)
    return Ticket.objects.get(pk=ticket.pk)


def review(client, ticket_id: int, decision: str, **body):
    return client.post(f"/api/tickets/{ticket_id}/review", {"decision": decision, **body}, "json")


def placed(ticket_id: int) -> str:
    return Ticket.objects.select_related("column").get(pk=ticket_id).column.name


def events_since(board, seq: int) -> list[BoardEvent]:
    return list(BoardEvent.objects.filter(board=board, seq__gt=seq).order_by("seq"))


def last_seq(board) -> int:
    return Board.objects.get(pk=board.pk).last_event_seq


# ---------------------------------------------------------------- the setting


def test_columns_show_and_set_requires_review(api, board):
    url = f"/api/boards/{board.pk}/columns"
    rows = api.get(url).json()
    assert [row["requires_review"] for row in rows] == [False, False, False, False]
    specs = [{"id": row["id"], "name": row["name"]} for row in rows]
    specs[2]["requires_review"] = True
    answered = api.put(url, {"columns": specs}, "json")
    assert answered.status_code == 200, answered.content
    assert [row["requires_review"] for row in answered.json()] == [False, False, True, False]
    # Left out, a kept column keeps it; a new column starts without.
    kept = [{"id": row["id"], "name": row["name"]} for row in rows]
    kept.insert(3, {"name": "Deploy"})
    answered = api.put(url, {"columns": kept}, "json").json()
    assert [(row["name"], row["requires_review"]) for row in answered] == [
        ("Backlog", False),
        ("In Progress", False),
        ("Testing", True),
        ("Deploy", False),
        ("Done", False),
    ]
    assert Column.objects.get(board=board, name="Testing").requires_review is True


@pytest.mark.parametrize("value", ["yes", 1, None, "true"])
def test_requires_review_must_be_a_boolean(api, board, value):
    rows = api.get(f"/api/boards/{board.pk}/columns").json()
    specs = [{"id": row["id"], "name": row["name"]} for row in rows]
    specs[1]["requires_review"] = value
    response = api.put(f"/api/boards/{board.pk}/columns", {"columns": specs}, "json")
    assert_error(response, 400, field="columns[1].requires_review")
    assert not Column.objects.filter(board=board, requires_review=True).exists()


@pytest.mark.parametrize("index", [0, 3])
def test_the_first_and_last_columns_cannot_require_review(api, board, index):
    rows = api.get(f"/api/boards/{board.pk}/columns").json()
    specs = [{"id": row["id"], "name": row["name"]} for row in rows]
    specs[index]["requires_review"] = True
    response = api.put(f"/api/boards/{board.pk}/columns", {"columns": specs}, "json")
    assert_error(response, 400, field=f"columns[{index}].requires_review")


def test_only_board_admins_set_review_gates(member_api, board):
    rows = member_api.get(f"/api/boards/{board.pk}/columns").json()
    specs = [{"id": row["id"], "name": row["name"]} for row in rows]
    specs[2]["requires_review"] = True
    response = member_api.put(f"/api/boards/{board.pk}/columns", {"columns": specs}, "json")
    assert_error(response, 403, code="board_admin_required")


def test_review_by_is_a_board_setting_for_admins(api, member_api, board):
    url = f"/api/boards/{board.pk}"
    assert api.get(url).json()["review_by"] == "anyone"
    assert_error(api.patch(url, {"review_by": "robots"}, "json"), 400, field="review_by")
    refused = member_api.patch(url, {"review_by": "humans"}, "json")
    assert_error(refused, 403, code="board_admin_required")
    # Members still rename; sending back the value it has is no change of the setting.
    renamed = member_api.patch(url, {"name": "Renamed", "review_by": "anyone"}, "json")
    assert renamed.status_code == 200, renamed.content
    answered = api.patch(url, {"review_by": "humans"}, "json")
    assert answered.status_code == 200, answered.content
    assert answered.json()["review_by"] == "humans"
    assert Board.objects.get(pk=board.pk).review_by == "humans"
    event = BoardEvent.objects.filter(board=board, type="board_updated").last()
    assert event.payload["review_by"] == "humans"


# ---------------------------------------------------------------- the move rule


def by_move(client, ticket_id: int, column: str):
    return client.post(f"/api/tickets/{ticket_id}/move", {"column": column}, "json")


def by_patch(client, ticket_id: int, column: str):
    return client.patch(f"/api/tickets/{ticket_id}", {"current_column": column}, "json")


def by_bulk(client, ticket_id: int, column: str):
    return client.post(
        "/api/bulk/tickets/move", {"ticket_ids": [ticket_id], "column": column}, "json"
    )


DOORS = pytest.mark.parametrize("door", [by_move, by_patch, by_bulk], ids=["move", "patch", "bulk"])


@DOORS
def test_a_ticket_in_review_does_not_move_on_but_by_approval(door, user, member_api, gated):
    ticket = in_review(user, gated)
    seq = last_seq(gated)
    error = assert_error(door(member_api, ticket.pk, "Done"), 409, code="review_required")
    assert error["review_column"] == REVIEW and error["ticket_ids"] == [ticket.pk]
    assert "approval" in error["message"]
    assert placed(ticket.pk) == REVIEW
    assert last_seq(gated) == seq  # nothing written, nothing announced
    refusal = RefusedMove.objects.get(ticket_id=ticket.pk)
    assert (refusal.reason, refusal.to_column) == ("review_required", "Done")


@DOORS
@pytest.mark.parametrize("start", ["Backlog", "In Progress"])
def test_no_ticket_skips_a_review_column(door, start, user, member_api, gated):
    ticket = make_ticket(user, gated, "Eager", column=start)
    error = assert_error(door(member_api, ticket.pk, "Done"), 409, code="review_required")
    assert "skip" in error["message"] and error["review_column"] == REVIEW
    assert placed(ticket.pk) == start
    assert RefusedMove.objects.filter(ticket_id=ticket.pk, reason="review_required").count() == 1


@DOORS
@pytest.mark.parametrize("back_to", ["In Progress", "Backlog"])
def test_moving_back_out_of_review_is_allowed(door, back_to, user, member_api, gated):
    ticket = in_review(user, gated)
    response = door(member_api, ticket.pk, back_to)
    assert response.status_code == 200, response.content
    assert placed(ticket.pk) == back_to
    # It left the review column: nobody is waiting for its review any more.
    assert Ticket.objects.get(pk=ticket.pk).review_requested_by is None


@DOORS
def test_moving_into_review_records_who_asked(door, user, other_user, member_api, gated):
    ticket = make_ticket(user, gated, "Ready", column="In Progress")
    response = door(member_api, ticket.pk, REVIEW)
    assert response.status_code == 200, response.content
    assert Ticket.objects.get(pk=ticket.pk).review_requested_by == other_user


def test_reordering_within_the_review_column_is_allowed(user, member_api, other_user, gated):
    first = in_review(user, gated, "First")
    second = in_review(user, gated, "Second")
    response = member_api.post(
        f"/api/tickets/{second.pk}/move",
        {"column": REVIEW, "position": {"before": first.pk}},
        "json",
    )
    assert response.status_code == 200, response.content
    # Whoever moved it in is still the one who asked for its review.
    assert Ticket.objects.get(pk=second.pk).review_requested_by == user


def test_a_bulk_move_is_refused_whole_when_one_ticket_would_skip(user, member_api, gated):
    fine = in_review(user, gated, "Fine")
    eager = make_ticket(user, gated, "Eager")
    waiting = in_review(user, gated, "Also waiting")
    body = {"ticket_ids": [eager.pk, waiting.pk, fine.pk], "column": "Done"}
    error = assert_error(
        member_api.post("/api/bulk/tickets/move", body, "json"), 409, code="review_required"
    )
    assert error["ticket_ids"] == [eager.pk, waiting.pk, fine.pk]
    assert [placed(pk) for pk in (eager.pk, waiting.pk, fine.pk)] == ["Backlog", REVIEW, REVIEW]
    # A bulk move back is fine.
    body = {"ticket_ids": [waiting.pk, fine.pk], "column": "In Progress"}
    assert member_api.post("/api/bulk/tickets/move", body, "json").status_code == 200
    assert (
        Ticket.objects.filter(pk__in=[waiting.pk, fine.pk], review_requested_by=None).count() == 2
    )


def test_no_ticket_is_created_beyond_a_review_column(api, user, gated):
    response = api.post(
        "/api/tickets/", {"board_id": gated.pk, "title": "Done already", "column": "Done"}, "json"
    )
    assert_error(response, 409, code="review_required")
    with pytest.raises(ReviewRequired):
        tickets_bulk_create(
            actor=user,
            board_id=gated.pk,
            tickets=[{"title": "ok"}, {"title": "no", "column": "Done"}],
        )
    assert not Ticket.objects.filter(board=gated).exists()
    # In the review column itself, or before it, is fine; in it, it awaits someone else.
    created = api.post(
        "/api/tickets/", {"board_id": gated.pk, "title": "Check me", "column": REVIEW}, "json"
    )
    assert created.status_code == 201, created.content
    assert Ticket.objects.get(pk=created.json()["id"]).review_requested_by == user
    made = tickets_bulk_create(
        actor=user, board_id=gated.pk, tickets=[{"title": "a"}, {"title": "b", "column": REVIEW}]
    )
    assert [t.review_requested_by_id for t in made] == [None, user.pk]


def test_a_board_without_review_columns_moves_freely(api, user, board):
    ticket = make_ticket(user, board, "Free")
    assert by_move(api, ticket.pk, "Done").status_code == 200


# ---------------------------------------------------------------- approve


def test_approve_moves_the_ticket_on_with_history_and_one_event(
    user, other_user, member_api, gated, agent_with_token
):
    agent, _ = agent_with_token
    ticket = in_review(user, gated, claimed_by=agent)
    seq = last_seq(gated)
    response = review(member_api, ticket.pk, "approve", comment="Looks right.")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["current_column"] == "Done" and body["version"] == ticket.version + 1
    assert response["ETag"] == f'"{body["version"]}"'
    fresh = Ticket.objects.get(pk=ticket.pk)
    # Done is the last column: the claim ended there as any finish ends it.
    assert (fresh.claimed_by, fresh.review_requested_by) == (None, None)
    rows = [row for row in history_of(ticket.pk) if row[3] == other_user.username]
    assert ("current_column", REVIEW, "Done", "bob") in rows
    assert ("review", REVIEW, "approved", "bob") in rows
    events = events_since(gated, seq)
    assert [event.type for event in events] == ["ticket_reviewed", "comment_added"]
    reviewed = events[0].payload
    assert (reviewed["id"], reviewed["current_column"], reviewed["from_column"]) == (
        ticket.pk,
        "Done",
        REVIEW,
    )
    assert (reviewed["decision"], reviewed["comment"], reviewed["reviewer"]) == (
        "approve",
        "Looks right.",
        "bob",
    )
    comment = Comment.objects.get(ticket=ticket)
    assert (comment.author, comment.text) == (other_user, "Looks right.")


def test_approve_without_a_comment_adds_none(user, member_api, gated):
    ticket = in_review(user, gated)
    assert review(member_api, ticket.pk, "approve").status_code == 200
    assert not Comment.objects.filter(ticket=ticket).exists()
    event = BoardEvent.objects.filter(board=gated, type="ticket_reviewed").get()
    assert event.payload["comment"] is None


def test_approve_goes_to_the_very_next_column_and_keeps_a_claim(user, other_user, agent_with_token):
    agent, _ = agent_with_token
    board = make_board(user, "Long", columns=["Backlog", "Doing", "Review", "Deploy", "Done"])
    add_member(board, other_user, "member")
    add_member(board, agent, "agent")
    require_review(user, board, "Review")
    ticket = make_ticket(user, board, "Ship", column="Doing")
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    ticket_move(actor=agent, ticket_id=ticket.pk, column="Review")
    ticket_review_with_comment(actor=other_user, ticket_id=ticket.pk, decision="approve")
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.column.name == "Deploy"
    assert fresh.claimed_by == agent  # approved work goes on with whoever holds it


def test_approve_still_respects_the_wip_limit(user, member_api, gated):
    board_set_columns(
        actor=user,
        board_id=gated.pk,
        columns=[
            {"id": c["id"], "name": c["name"], "wip_limit": 1 if c["name"] == "Done" else None}
            for c in board_columns(board_id=gated.pk)
        ],
    )
    make_ticket(user, gated, "Finished", column=REVIEW)
    finished = Ticket.objects.get(title="Finished")
    assert review(member_api, finished.pk, "approve").status_code == 200
    ticket = in_review(user, gated)
    assert_error(review(member_api, ticket.pk, "approve"), 409, code="wip_limit")
    assert placed(ticket.pk) == REVIEW


def test_a_stale_version_is_refused(user, member_api, gated):
    ticket = in_review(user, gated)
    stale = review(member_api, ticket.pk, "approve", version=ticket.version - 1)
    assert_error(stale, 409, code="version_conflict")
    assert review(member_api, ticket.pk, "approve", version=ticket.version).status_code == 200


# ---------------------------------------------------------------- request changes


def test_request_changes_needs_a_comment(user, member_api, gated):
    ticket = in_review(user, gated)
    for body in ({}, {"comment": ""}, {"comment": "   "}):
        response = review(member_api, ticket.pk, "request_changes", **body)
        assert_error(response, 400, field="comment")
    assert placed(ticket.pk) == REVIEW


def test_request_changes_sends_it_back_unclaimed_with_the_comment(
    user, other_user, member_api, gated, agent_with_token, agent_api
):
    agent, _ = agent_with_token
    ticket = make_ticket(user, gated, "Fix login", column="In Progress", assignee=agent.username)
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    ticket_move(actor=agent, ticket_id=ticket.pk, column=REVIEW)
    seq = last_seq(gated)
    response = review(member_api, ticket.pk, "request_changes", comment="The test *fails*.")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["current_column"], body["claimed_by"], body["assignee"]) == (
        "In Progress",
        None,
        agent.username,
    )
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.claimed_by, fresh.claim_token, fresh.lease_expires_at) == (None, None, None)
    assert fresh.review_requested_by is None
    rows = history_of(ticket.pk)
    assert ("review", REVIEW, "changes requested", "bob") in rows
    assert ("claimed_by", agent.username, None, "bob") in rows
    assert ("current_column", REVIEW, "In Progress", "bob") in rows
    events = events_since(gated, seq)
    assert [event.type for event in events] == ["ticket_reviewed", "comment_added"]
    assert events[0].payload["decision"] == "request_changes"
    assert events[0].payload["comment"] == "The test *fails*."
    assert events[0].payload["claimed_by"] is None
    comment = Comment.objects.get(ticket=ticket)
    assert (comment.author, comment.text) == (other_user, "The test *fails*.")
    # Claimable again: the agent's next task is this one.
    claimed = agent_api.post(
        f"/api/boards/{gated.pk}/claim-next", {"column": "In Progress"}, "json"
    )
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["id"] == ticket.pk


def test_not_in_a_review_column_there_is_nothing_to_review(user, member_api, gated):
    ticket = make_ticket(user, gated, "Fresh")
    assert_error(review(member_api, ticket.pk, "approve"), 409, code="not_in_review")
    assert_error(
        review(member_api, ticket.pk, "request_changes", comment="no"), 409, code="not_in_review"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "maybe"},
        {},
        {"decision": "approve", "override": "yes"},
        {"decision": "approve", "comment": 5},
        {"decision": "approve", "extra": 1},
    ],
)
def test_bad_review_requests_are_400(user, member_api, gated, body):
    ticket = in_review(user, gated)
    response = member_api.post(f"/api/tickets/{ticket.pk}/review", body, "json")
    assert_error(response, 400)
    assert placed(ticket.pk) == REVIEW


# ---------------------------------------------------------------- who may review


def test_whoever_moved_it_into_review_may_not_review_it(user, other_user, member_api, gated):
    ticket = make_ticket(user, gated, "Mine", column="In Progress")
    ticket_move(actor=other_user, ticket_id=ticket.pk, column=REVIEW)
    error = assert_error(review(member_api, ticket.pk, "approve"), 403, code="self_review")
    assert "moved it into review" in error["message"] and "override" not in error["message"]
    assert placed(ticket.pk) == REVIEW


def test_its_claimant_may_not_review_it(user, gated, agent_with_token, agent_api):
    agent, _ = agent_with_token
    ticket = make_ticket(user, gated, "Held", column="In Progress")
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    ticket_move(actor=user, ticket_id=ticket.pk, column=REVIEW)  # an admin moved it in
    error = assert_error(review(agent_api, ticket.pk, "approve"), 403, code="self_review")
    assert "claim" in error["message"]
    refused = review(agent_api, ticket.pk, "request_changes", comment="I changed my mind")
    assert_error(refused, 403, code="self_review")


def test_another_agent_may_review_unless_only_people_review(user, gated, agent_api):
    first, second = in_review(user, gated, "One"), in_review(user, gated, "Two")
    board_update(actor=user, board_id=gated.pk, review_by="humans")
    error = assert_error(review(agent_api, first.pk, "approve"), 403, code="humans_review")
    assert placed(first.pk) == REVIEW
    board_update(actor=user, board_id=gated.pk, review_by="anyone")
    assert review(agent_api, first.pk, "approve").status_code == 200
    # A person is never refused by humans_review.
    board_update(actor=user, board_id=gated.pk, review_by="humans")
    member = make_user("carol")
    add_member(gated, member, "member")
    carol = APIClient()
    carol.force_login(member)
    assert review(carol, second.pk, "approve").status_code == 200
    assert "people" in error["message"]


def test_readers_and_strangers_may_not_review(user, gated):
    ticket = in_review(user, gated)
    viewer, stranger = make_user("vera"), make_user("sam")
    add_member(gated, viewer, "viewer")
    as_viewer, as_stranger = APIClient(), APIClient()
    as_viewer.force_login(viewer)
    as_stranger.force_login(stranger)
    assert_error(review(as_viewer, ticket.pk, "approve"), 403, code="board_read_only")
    assert_error(review(as_stranger, ticket.pk, "approve"), 404)


def test_a_board_admin_approves_own_work_only_with_an_audited_override(
    api, user, other_user, member_api, gated
):
    ticket = in_review(user, gated)
    error = assert_error(review(api, ticket.pk, "approve"), 403, code="self_review")
    assert '"override": true' in error["message"]
    # Override is for board admins only.
    other = in_review(user, gated, "Other")
    assert_error(
        review(member_api, other.pk, "approve", override=True), 403, code="board_admin_required"
    )
    response = review(api, ticket.pk, "approve", override=True)
    assert response.status_code == 200, response.content
    assert placed(ticket.pk) == "Done"
    audit = AuditEvent.objects.get(action="review.override")
    assert (audit.actor, audit.board_id, audit.target_type, audit.target_id) == (
        user,
        gated.pk,
        "ticket",
        str(ticket.pk),
    )
    assert audit.details == {"column": REVIEW, "decision": "approve"}
    assert ("review_override", None, "own work, by a board admin", "alice") in history_of(ticket.pk)
    # Not their own work: no override needed, and nothing audited.
    ticket_move(actor=user, ticket_id=other.pk, column="In Progress")
    ticket_move(actor=other_user, ticket_id=other.pk, column=REVIEW)
    assert review(api, other.pk, "approve").status_code == 200
    assert AuditEvent.objects.filter(action="review.override").count() == 1


# ---------------------------------------------------------------- claims


def test_claim_next_never_hands_out_a_ticket_in_review(user, gated, agent_with_token, agent_api):
    waiting = in_review(user, gated)
    url = f"/api/boards/{gated.pk}/claim-next"
    assert_error(agent_api.post(url, {"column": REVIEW}, "json"), 404, code="nothing_to_claim")
    assert_error(
        agent_api.post(f"/api/tickets/{waiting.pk}/claim", {}, "json"), 409, code="review_required"
    )
    ready = make_ticket(user, gated, "Ready")
    claimed = agent_api.post(url, {}, "json")
    assert claimed.status_code == 200 and claimed.json()["id"] == ready.pk
    assert Ticket.objects.get(pk=waiting.pk).claimed_by is None


# ---------------------------------------------------------------- statistics


def test_a_review_columns_stays_count_like_any_other(api, user, member_api, gated):
    tickets = [in_review(user, gated, f"T{n}") for n in range(3)]
    for ticket in tickets[:2]:
        assert review(member_api, ticket.pk, "approve").status_code == 200
    assert review(member_api, tickets[2].pk, "request_changes", comment="again").status_code == 200
    stats = api.get(f"/api/statistics/boards/{gated.pk}/statistics").json()
    testing = next(column for column in stats["columns"] if column["name"] == REVIEW)
    assert testing["time_in_column"]["samples"] == 3
    one = api.get(f"/api/statistics/tickets/{tickets[0].pk}/statistics").json()
    assert [stay["column"] for stay in one["time_in_columns"]] == ["In Progress", REVIEW, "Done"]
    assert one["column"] == "Done" and one["lead_time_seconds"] is not None


# ---------------------------------------------------------------- export and import


def test_export_and_import_round_trip_the_review_settings(user, other_user, gated, admin_user):
    board_update(actor=user, board_id=gated.pk, review_by="humans")
    ticket = make_ticket(user, gated, "Waiting", column="In Progress")
    ticket_move(actor=other_user, ticket_id=ticket.pk, column=REVIEW)
    document = json.loads(json.dumps(board_export(board_id=gated.pk)))
    assert document["board"]["review_by"] == "humans"
    assert [c["requires_review"] for c in document["columns"]] == [False, False, True, False]
    assert document["tickets"][0]["review_requested_by"] == "bob"
    copy = board_import(actor=admin_user, data=document)
    assert copy.review_by == "humans"
    assert list(
        Column.objects.filter(board=copy)
        .order_by("position")
        .values_list("requires_review", flat=True)
    ) == [False, False, True, False]
    assert Ticket.objects.get(board=copy).review_requested_by == other_user
    # A document from before review gates reads as no gates.
    document["board"].pop("review_by")
    for column in document["columns"]:
        column.pop("requires_review")
    for row in document["tickets"]:
        row.pop("review_requested_by")
    older = board_import(actor=admin_user, data=document)
    assert older.review_by == "anyone"
    assert not Column.objects.filter(board=older, requires_review=True).exists()
    assert Ticket.objects.get(board=older).review_requested_by is None
    # A broken value is named.
    document["columns"][1]["requires_review"] = "yes"
    with pytest.raises(InvalidInput, match=r"columns\[1\]\.requires_review"):
        board_import(actor=admin_user, data=document)


# ---------------------------------------------------------------- MCP


@pytest.fixture
def tool_connections():
    yield
    anyio.run(database_sync_to_async(connections.close_all))


@pytest.mark.django_db(transaction=True)
def test_mcp_update_task_status_and_review_task(
    user, other_user, board, agent_with_token, tool_connections
):
    _, secret = agent_with_token
    require_review(user, board, REVIEW)
    ticket = make_ticket(user, board, "By MCP", column="In Progress")
    claim = data(call(secret, "claim_task", task_id=ticket.pk))
    moved = call(secret, "update_task_status", task_id=ticket.pk, column="Done")
    assert error_text(moved).startswith("conflict/review_required: Ticket")
    assert moved.structured_content["error"]["code"] == "review_required"
    into = data(
        call(
            secret,
            "update_task_status",
            task_id=ticket.pk,
            column=REVIEW,
            claim_token=claim["claim_token"],
        )
    )
    assert into["task"]["current_column"] == REVIEW
    refused = call(secret, "update_task_status", task_id=ticket.pk, column="Done")
    assert error_text(refused).startswith("conflict/review_required:")
    created = call(secret, "create_task", board_id=board.pk, title="Skip", column="Done")
    assert error_text(created).startswith("conflict/review_required:")
    own = call(secret, "review_task", task_id=ticket.pk, decision="approve")
    assert error_text(own).startswith("forbidden/self_review:")
    columns = data(call(secret, "list_columns", board_id=board.pk))["columns"]
    assert [c["requires_review"] for c in columns] == [False, False, True, False]
    assert (
        data(call(secret, "claim_next_task", board_id=board.pk, column=REVIEW))["claimed"] is False
    )

    # A person requests changes; the agent finds the comment in get_task and goes on.
    ticket_review_with_comment(
        actor=other_user, ticket_id=ticket.pk, decision="request_changes", comment="Add a test."
    )
    task = data(call(secret, "get_task", task_id=ticket.pk))
    assert task["task"]["current_column"] == "In Progress" and task["task"]["claimed_by"] is None
    assert [c["text"] for c in task["comments"]] == ["Add a test."]
    assert ("review", REVIEW, "changes requested") in {
        (row["field"], row["old"], row["new"]) for row in task["history"]
    }
    again = data(call(secret, "claim_next_task", board_id=board.pk, column="In Progress"))
    assert again["claimed"] is True and again["task"]["id"] == ticket.pk
    call(secret, "update_task_status", task_id=ticket.pk, column=REVIEW)

    # Another identity's work the agent may review.
    other = make_ticket(user, board, "Theirs", column=REVIEW)
    answer = data(call(secret, "review_task", task_id=other.pk, decision="approve"))
    assert answer == {
        "task": answer["task"],
        "decision": "approve",
        "from_column": REVIEW,
    }
    assert answer["task"]["current_column"] == "Done"
    no_comment = call(secret, "review_task", task_id=ticket.pk, decision="request_changes")
    assert error_text(no_comment).startswith("invalid:")


# ---------------------------------------------------------------- the board page


def test_the_board_page_badges_and_filters_cards_awaiting_my_review(
    user, other_user, gated, member_api, api
):
    mine = in_review(user, gated, "Alices")  # alice moved it in
    theirs = make_ticket(user, gated, "Bobs", column="In Progress")
    ticket_move(actor=other_user, ticket_id=theirs.pk, column=REVIEW)
    make_ticket(user, gated, "Elsewhere")
    page = member_api.get(f"/boards/{gated.pk}/").content.decode()
    assert page.count("badge-review") == 2
    filtered = member_api.get(f"/boards/{gated.pk}/?review=mine").content.decode()
    assert "Alices" in filtered and "Bobs" not in filtered and "Elsewhere" not in filtered
    assert 'name="review" value="mine" checked' in filtered
    # The card fragments the live updates fetch follow the same filter.
    ids = f"{mine.pk},{theirs.pk}"
    fragment = api.get(f"/boards/{gated.pk}/cards/?ids={ids}&review=mine").content.decode()
    assert "Bobs" in fragment and "Alices" not in fragment and "badge-review" in fragment
    # The detail offers the review to those who may give it.
    detail = member_api.get(
        f"/boards/{gated.pk}/tickets/{mine.pk}/", headers={"X-Fragment": "1"}
    ).content.decode()
    assert "data-review-approve" in detail
    own = member_api.get(
        f"/boards/{gated.pk}/tickets/{theirs.pk}/", headers={"X-Fragment": "1"}
    ).content.decode()
    assert "data-review-approve" not in own and "someone else reviews it" in own


def test_where_only_people_review_an_agent_has_nothing_awaiting_it(user, gated, agent_with_token):
    agent, _ = agent_with_token
    in_review(user, gated)
    board_update(actor=user, board_id=gated.pk, review_by="humans")
    client = APIClient()
    client.force_login(agent)
    filtered = client.get(f"/boards/{gated.pk}/?review=mine").content.decode()
    assert "badge-review" not in filtered
