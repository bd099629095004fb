"""GET|PUT /api/tickets/{id}/dependencies and what finishing a blocker announces."""

import pytest

from core.ids import ID_MAX
from tests.claims.helpers import assert_error, events_after, history_of, last_seq, row
from tests.factories import make_board, make_ticket
from tickets.services import (
    ticket_add_dependency,
    ticket_move,
    ticket_remove_dependency,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(user, board):
    return {name: make_ticket(user, board, name) for name in "ABCDE"}


def put(client, ticket, blocked_by):
    return client.put(f"/api/tickets/{ticket.pk}/dependencies", {"blocked_by": blocked_by}, "json")


def blockers(ticket) -> list[int]:
    return sorted(row(ticket.pk).blocked_by.values_list("pk", flat=True))


def test_put_then_get(api, tickets, board):
    a, b, c = tickets["A"], tickets["B"], tickets["C"]
    seq = last_seq(board)
    response = put(api, a, [c.pk, b.pk, b.pk])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ticket_id"] == a.pk
    assert body["is_blocked"] is True
    assert [ref["id"] for ref in body["blocked_by"]] == [b.pk, c.pk]
    assert body["blocked_by"][0] == {
        "id": b.pk,
        "title": "B",
        "current_column": "Backlog",
        "is_finished": False,
    }
    assert body["blocks"] == []
    assert history_of(a.pk, "blocked_by") == [("blocked_by", None, f"#{b.pk}, #{c.pk}", "alice")]
    assert events_after(board, seq) == [("ticket_updated", a.pk)]
    assert row(a.pk).version == a.version + 1
    seen_from_b = api.get(f"/api/tickets/{b.pk}/dependencies").json()
    assert (seen_from_b["is_blocked"], seen_from_b["blocked_by"]) == (False, [])
    assert [ref["id"] for ref in seen_from_b["blocks"]] == [a.pk]
    ticket = api.get(f"/api/tickets/{a.pk}").json()
    assert (ticket["blocked_by"], ticket["is_blocked"]) == ([b.pk, c.pk], True)


def test_the_same_list_again_changes_nothing_and_an_empty_list_clears(api, tickets, board):
    a, b = tickets["A"], tickets["B"]
    put(api, a, [b.pk])
    seq, version = last_seq(board), row(a.pk).version
    assert put(api, a, [b.pk]).status_code == 200
    assert (last_seq(board), row(a.pk).version) == (seq, version)
    assert put(api, a, []).json()["blocked_by"] == []
    assert history_of(a.pk, "blocked_by")[-1] == ("blocked_by", f"#{b.pk}", None, "alice")


def test_get_shows_finished_blockers(api, user, tickets):
    a, b = tickets["A"], tickets["B"]
    put(api, a, [b.pk])
    ticket_move(actor=user, ticket_id=b.pk, column="Done")
    body = api.get(f"/api/tickets/{a.pk}/dependencies").json()
    assert body["is_blocked"] is False
    assert body["blocked_by"][0]["is_finished"] is True


def test_a_ticket_cannot_block_itself(api, tickets):
    a = tickets["A"]
    error = assert_error(put(api, a, [a.pk]), 400, "invalid")
    assert error["validation_errors"][0]["field"] == "blocked_by"
    assert blockers(a) == []


def test_blockers_must_be_on_the_same_board(api, user, tickets):
    elsewhere = make_ticket(user, make_board(user, "Other"), "Elsewhere")
    error = assert_error(put(api, tickets["A"], [tickets["B"].pk, elsewhere.pk]), 400, "invalid")
    assert str(elsewhere.pk) in error["message"]
    assert blockers(tickets["A"]) == []


@pytest.mark.parametrize("blocked_by", [[999_999], [ID_MAX], [ID_MAX + 1], [10**30]])
def test_unknown_blockers_are_400(api, tickets, blocked_by):
    assert_error(put(api, tickets["A"], blocked_by), 400, "invalid")
    assert blockers(tickets["A"]) == []


@pytest.mark.parametrize(
    "body",
    [{}, {"blocked_by": "1"}, {"blocked_by": [True]}, {"blocked_by": [0]}, {"blocked_by": ["x"]}],
)
def test_malformed_bodies_are_400(api, tickets, body):
    response = api.put(f"/api/tickets/{tickets['A'].pk}/dependencies", body, "json")
    assert_error(response, 400, "invalid")


def test_too_many_blockers_are_400(api, tickets):
    assert_error(put(api, tickets["A"], list(range(1, 60))), 400, "invalid")


def test_unknown_ticket_is_404(api):
    assert_error(api.get("/api/tickets/999999/dependencies"), 404, "not_found")
    assert_error(put(api, type("T", (), {"pk": 999_999}), []), 404, "not_found")


def test_a_direct_cycle_is_refused_and_nothing_changes(api, tickets, board):
    a, b = tickets["A"], tickets["B"]
    put(api, a, [b.pk])
    seq, rows = last_seq(board), len(history_of(b.pk))
    error = assert_error(put(api, b, [a.pk]), 409, "dependency_cycle")
    assert str(a.pk) in error["message"]
    assert blockers(b) == []
    assert (last_seq(board), len(history_of(b.pk))) == (seq, rows)


def test_a_longer_cycle_is_refused_with_the_rest_of_the_list(api, tickets, board):
    a, b, c, d = (tickets[name] for name in "ABCD")
    put(api, a, [b.pk])
    put(api, b, [c.pk])
    put(api, c, [d.pk])
    seq = last_seq(board)
    assert_error(put(api, d, [tickets["E"].pk, a.pk]), 409, "dependency_cycle")
    assert blockers(d) == []
    assert last_seq(board) == seq
    # Not a cycle: a diamond.
    assert put(api, a, [b.pk, c.pk, d.pk]).status_code == 200


def test_add_and_remove_one_dependency(user, tickets):
    a, b, c = tickets["A"], tickets["B"], tickets["C"]
    ticket_add_dependency(actor=user, ticket_id=a.pk, blocked_by_id=b.pk)
    ticket_add_dependency(actor=user, ticket_id=a.pk, blocked_by_id=c.pk)
    assert blockers(a) == [b.pk, c.pk]
    ticket_remove_dependency(actor=user, ticket_id=a.pk, blocked_by_id=b.pk)
    assert blockers(a) == [c.pk]
    with pytest.raises(Exception) as raised:
        ticket_remove_dependency(actor=user, ticket_id=a.pk, blocked_by_id=b.pk)
    assert raised.value.status == 400
    with pytest.raises(Exception) as raised:
        ticket_add_dependency(actor=user, ticket_id=c.pk, blocked_by_id=a.pk)
    assert raised.value.code == "dependency_cycle"


# ---------------------------------------------------------------- unblocking


def unblocked(board, seq) -> list[int]:
    return [pk for kind, pk in events_after(board, seq) if kind == "ticket_unblocked"]


def test_finishing_the_last_blocker_announces_the_dependant(api, user, tickets, board):
    a, b, c, d = (tickets[name] for name in "ABCD")
    put(api, a, [b.pk, c.pk])
    put(api, d, [c.pk])
    seq = last_seq(board)
    ticket_move(actor=user, ticket_id=b.pk, column="In Progress")
    ticket_move(actor=user, ticket_id=b.pk, column="Done")
    assert unblocked(board, seq) == []  # A still waits for C
    seq = last_seq(board)
    ticket_move(actor=user, ticket_id=c.pk, column="Done")
    assert sorted(unblocked(board, seq)) == [a.pk, d.pk]
    event = next(e for e in events_after_objects(board, seq) if e.type == "ticket_unblocked")
    assert event.payload["is_blocked"] is False
    assert event.actor.username == "alice"
    # Moving within the last column finishes nothing new.
    seq = last_seq(board)
    ticket_move(actor=user, ticket_id=c.pk, column="Done", position="top")
    assert unblocked(board, seq) == []


def events_after_objects(board, seq):
    return list(board.events.filter(seq__gt=seq).order_by("seq"))


@pytest.mark.parametrize("how", ["put", "bulk", "move"])
def test_every_way_of_finishing_announces(api, tickets, board, how):
    a, b = tickets["A"], tickets["B"]
    put(api, a, [b.pk])
    seq = last_seq(board)
    if how == "put":
        response = api.put(f"/api/tickets/{b.pk}", {"current_column": "Done"}, "json")
    elif how == "bulk":
        response = api.post(
            "/api/bulk/tickets/move", {"ticket_ids": [b.pk], "column": "Done"}, "json"
        )
    else:
        response = api.post(f"/api/tickets/{b.pk}/move", {"column": "Done"}, "json")
    assert response.status_code == 200, response.content
    assert unblocked(board, seq) == [a.pk]


def test_deleting_a_blocker_unblocks_its_dependants_with_history_and_event(user, board):
    from boards.models import BoardEvent
    from history.models import TicketHistory
    from tests.factories import make_ticket
    from tickets.services import ticket_delete, ticket_set_dependencies

    blocker = make_ticket(user, board, "Blocker")
    dependant = make_ticket(user, board, "Dependant")
    ticket_set_dependencies(actor=user, ticket_id=dependant.pk, blocked_by=[blocker.pk])

    ticket_delete(actor=user, ticket_id=blocker.pk)

    row = TicketHistory.objects.filter(ticket_id=dependant.pk, field_name="blocked_by").last()
    assert (row.old_value, row.new_value, row.changed_by) == (f"#{blocker.pk}", None, user)
    event = BoardEvent.objects.filter(board=board).order_by("-seq").first()
    assert event.type == "ticket_unblocked"
    assert event.payload["id"] == dependant.pk and event.payload["blocked_by"] == []
