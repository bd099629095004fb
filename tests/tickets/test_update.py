"""GET/PUT/PATCH/DELETE /api/tickets/{id}: versions, If-Match, ETag, and errors."""

import pytest

from boards.models import BoardEvent
from history.models import TicketHistory
from tests.factories import make_ticket
from tests.tickets.helpers import assert_error, draw, history_of, set_wip_limits
from tickets.models import Ticket


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Original", labels=["bug"])


def url(ticket, slash: bool = False) -> str:
    return f"/api/tickets/{ticket.pk}" + ("/" if slash else "")


def bump(api, ticket, version: int) -> int:
    """Change the ticket once (naming `version`) and return the new version."""
    response = api.patch(url(ticket), {"description": f"v{version}", "version": version}, "json")
    assert response.status_code == 200, response.content
    return response.json()["version"]


@pytest.mark.parametrize("slash", [False, True])
def test_get_with_and_without_slash(api, ticket, slash):
    response = api.get(url(ticket, slash))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == ticket.pk and body["title"] == "Original"
    assert response["ETag"] == f'"{body["version"]}"' == '"1"'


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("slash", [False, True])
def test_update_with_version_in_body(api, ticket, method, slash):
    response = getattr(api, method)(url(ticket, slash), {"title": "Renamed", "version": 1}, "json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "Renamed"
    assert body["version"] == 2
    assert body["labels"] == ["bug"]  # untouched fields stay
    assert response["ETag"] == '"2"'
    assert api.get(url(ticket))["ETag"] == '"2"'


@pytest.mark.parametrize("header", ['"1"', 'W/"1"', "1", ' "1" '])
def test_update_with_if_match(api, ticket, header):
    response = api.patch(url(ticket), {"priority": "low"}, "json", HTTP_IF_MATCH=header)
    assert response.status_code == 200, response.content
    assert response.json()["priority"] == "low"
    assert response.json()["version"] == 2


def test_if_match_three_after_two_changes(api, ticket):
    assert bump(api, ticket, bump(api, ticket, 1)) == 3
    response = api.patch(url(ticket), {"title": "Third"}, "json", HTTP_IF_MATCH='W/"3"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"4"'


def test_if_match_agreeing_with_body_version(api, ticket):
    response = api.patch(url(ticket), {"title": "Both", "version": 1}, "json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.content


def test_if_match_star_means_any_version(api, ticket):
    bump(api, ticket, 1)
    response = api.patch(url(ticket), {"title": "Any"}, "json", HTTP_IF_MATCH="*")
    assert response.status_code == 200, response.content


def test_update_without_a_version_is_last_writer_wins(api, ticket):
    bump(api, ticket, 1)
    response = api.patch(url(ticket), {"title": "Blind"}, "json")
    assert response.status_code == 200
    assert response.json()["version"] == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"title": "Stale", "version": 1}},
        {"data": {"title": "Stale"}, "HTTP_IF_MATCH": '"1"'},
        {"data": {"title": "Stale"}, "HTTP_IF_MATCH": 'W/"1"'},
    ],
)
def test_stale_version_is_409_with_current_version(api, ticket, kwargs):
    bump(api, ticket, 1)
    response = api.patch(url(ticket), format="json", **kwargs)
    error = assert_error(response, 409, code="version_conflict")
    assert error["current_version"] == 2
    assert Ticket.objects.get(pk=ticket.pk).title == "Original"


def test_version_from_the_future_is_409(api, ticket):
    response = api.put(url(ticket), {"title": "Future", "version": 7}, "json")
    assert assert_error(response, 409, code="version_conflict")["current_version"] == 1


def test_if_match_disagreeing_with_body_is_400(api, ticket):
    response = api.patch(url(ticket), {"title": "X", "version": 1}, "json", HTTP_IF_MATCH='"2"')
    assert_error(response, 400, field="version")
    assert Ticket.objects.get(pk=ticket.pk).version == 1


@pytest.mark.parametrize("header", ["abc", '"abc"', 'W/"x"', '"1", "2"', "-1", '""', "1.0"])
def test_non_numeric_if_match_is_400(api, ticket, header):
    response = api.patch(url(ticket), {"title": "X"}, "json", HTTP_IF_MATCH=header)
    assert_error(response, 400, field="If-Match")
    assert Ticket.objects.get(pk=ticket.pk).title == "Original"


@pytest.mark.parametrize("version", [0, -1, "abc", None, 1.5, [1]])
def test_bad_body_version_is_400(api, ticket, version):
    assert_error(api.patch(url(ticket), {"version": version}, "json"), 400, field="version")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"version": 1},
        {"title": "Original"},
        {"title": "  Original  ", "labels": ["bug"], "priority": "medium"},
        {"current_column": "Backlog"},
        {"current_column": "backlog", "assignee": None, "description": ""},
    ],
)
def test_updating_nothing_changes_nothing(api, ticket, body):
    before_history = TicketHistory.objects.count()
    before_events = BoardEvent.objects.count()
    response = api.put(url(ticket), body, "json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    assert response["ETag"] == '"1"'
    assert TicketHistory.objects.count() == before_history
    assert BoardEvent.objects.count() == before_events


def test_each_field_can_be_changed(api, ticket, other_user):
    response = api.patch(
        url(ticket),
        {
            "title": "New title",
            "description": "New description",
            "acceptance_criteria": "Done when done",
            "priority": "critical",
            "assignee": "bob",
            "labels": ["ui", "docs"],
        },
        "json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["description"], body["acceptance_criteria"]) == (
        "New title",
        "New description",
        "Done when done",
    )
    assert (body["priority"], body["assignee"], body["labels"]) == (
        "critical",
        "bob",
        ["docs", "ui"],
    )
    assert body["version"] == 2  # one write, one version


def test_unassign_and_clear_labels(api, user, board, other_user):
    ticket = make_ticket(user, board, "T", assignee="bob", labels=["a"])
    response = api.patch(url(ticket), {"assignee": None, "labels": []}, "json")
    assert response.json()["assignee"] is None
    assert response.json()["labels"] == []


def test_put_with_current_column_moves_to_the_bottom(api, user, board, ticket):
    make_ticket(user, board, "Already done", column="Done")
    response = api.put(url(ticket), {"current_column": "done", "version": 1}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["current_column"] == "Done"
    assert response.json()["version"] == 2
    assert draw(api, board) == {
        "Backlog": [],
        "In Progress": [],
        "Testing": [],
        "Done": ["Already done", "Original"],
    }
    assert ("current_column", "Backlog", "Done", "alice") in history_of(ticket.pk)


def test_put_with_unknown_current_column_is_400(api, ticket):
    response = api.put(url(ticket), {"current_column": "Limbo"}, "json")
    error = assert_error(response, 400, code="unknown_column", field="column")
    assert "Backlog" in error["message"]


def test_put_into_a_full_column_is_409(api, user, board, ticket):
    set_wip_limits(api, board, {"Done": 1})
    make_ticket(user, board, "Fills it", column="Done")
    response = api.put(url(ticket), {"current_column": "Done", "title": "Moved"}, "json")
    assert_error(response, 409, code="wip_limit")
    assert Ticket.objects.get(pk=ticket.pk).title == "Original"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"title": 5}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"labels": "bug"}, "labels"),
        ({"priority": "whenever"}, "priority"),
        ({"assignee": "nobody"}, "assignee"),
        ({"assignee": 3}, "assignee"),
        ({"description": None}, "description"),
        ({"current_column": 1}, "current_column"),
    ],
)
def test_invalid_update_is_400_and_changes_nothing(api, ticket, body, field):
    assert_error(api.patch(url(ticket), body, "json"), 400, field=field)
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.title, fresh.version) == ("Original", 1)


def test_non_json_and_list_bodies_are_400(api, ticket):
    assert_error(api.put(url(ticket), "{oops", content_type="application/json"), 400)
    assert_error(api.put(url(ticket), '[{"title": "x"}]', content_type="application/json"), 400)


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("ticket_id", [999_999, 99999999999999999999999])
def test_unknown_id_is_404(api, board, method, ticket_id):
    response = getattr(api, method)(f"/api/tickets/{ticket_id}", {"title": "x"}, "json")
    assert_error(response, 404, code="not_found")


def test_non_numeric_id_is_404_in_the_envelope(api, board):
    assert_error(api.get("/api/tickets/abc"), 404)


@pytest.mark.parametrize("slash", [False, True])
def test_delete(api, ticket, slash):
    response = api.delete(url(ticket, slash))
    assert response.status_code == 204
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert_error(api.get(url(ticket)), 404, code="not_found")
    assert_error(api.delete(url(ticket)), 404, code="not_found")


def test_delete_with_stale_if_match_is_409(api, ticket):
    bump(api, ticket, 1)
    response = api.delete(url(ticket), HTTP_IF_MATCH='"1"')
    assert assert_error(response, 409, code="version_conflict")["current_version"] == 2
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert api.delete(url(ticket), HTTP_IF_MATCH='"2"').status_code == 204


def test_delete_with_bad_if_match_is_400(api, ticket):
    assert_error(api.delete(url(ticket), HTTP_IF_MATCH="soon"), 400, field="If-Match")
    assert Ticket.objects.filter(pk=ticket.pk).exists()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_anonymous_is_refused(anon, ticket, method):
    response = getattr(anon, method)(url(ticket), {"title": "x"}, "json")
    assert response.status_code in (401, 403)
    assert_error(response, response.status_code, code="not_authenticated")
    assert Ticket.objects.get(pk=ticket.pk).title == "Original"


def test_what_was_read_can_be_sent_back(api, ticket):
    """All but the fields that change through their own endpoints (move, claim, dependencies),
    which are refused with directions rather than silently dropped."""
    read = api.get(url(ticket)).json()
    elsewhere = ("position", "blocked_by", "claimed_by")
    sent = {key: value for key, value in read.items() if key not in elsewhere}
    response = api.put(url(ticket), {**sent, "title": "Round trip"}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Round trip"
    assert response.json()["version"] == 2


@pytest.mark.parametrize("field", ["titel", "position", "column", "claimed_by", "blocked_by"])
def test_unknown_or_misplaced_fields_are_refused(api, ticket, field):
    response = api.patch(url(ticket), {"title": "X", field: "top"}, "json")
    assert_error(response, 400, field=field)
    assert Ticket.objects.get(pk=ticket.pk).title == "Original"
