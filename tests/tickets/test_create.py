"""POST /api/tickets/: defaults, placement, labels, assignee, and every way to get it wrong."""

import pytest

from history.models import TicketHistory
from tests.factories import make_board
from tests.tickets.helpers import assert_error, create, draw, set_wip_limits
from tickets import rules
from tickets.models import Ticket


def test_defaults_first_column_medium_priority_at_the_bottom(api, board):
    first = create(api, board, "First")
    second = create(api, board, "Second")
    assert first["current_column"] == "Backlog"
    assert first["priority"] == "medium"
    assert first["version"] == 1
    assert first["created_by"] == "alice"
    assert first["assignee"] is None
    assert first["labels"] == []
    assert first["board_id"] == board.pk
    assert second["position"] > first["position"]
    assert draw(api, board)["Backlog"] == ["First", "Second"]


def test_created_response_carries_an_etag_and_the_ticket_reads_back(api, board):
    response = api.post("/api/tickets/", {"board_id": board.pk, "title": "X"}, "json")
    assert response.status_code == 201
    assert response["ETag"] == '"1"'
    assert api.get(f"/api/tickets/{response.json()['id']}").json() == response.json()


def test_agent_creates_with_bearer_token(agent_api, board):
    response = agent_api.post("/api/tickets/", {"board_id": board.pk, "title": "By agent"}, "json")
    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == "claude-1"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("In Progress", "In Progress"),
        ("in progress", "In Progress"),
        ("IN PROGRESS", "In Progress"),
        ("  Testing ", "Testing"),
    ],
)
def test_explicit_column_by_name_case_insensitive(api, board, name, expected):
    ticket = create(api, board, "Placed", column=name)
    assert ticket["current_column"] == expected
    assert draw(api, board)[expected] == ["Placed"]


def test_all_fields(api, board, other_user):
    ticket = create(
        api,
        board,
        "  Full  ",
        description="Some *words*",
        acceptance_criteria="It works",
        priority="critical",
        assignee="bob",
        labels=["ui", "bug", "ui", " bug "],
    )
    assert ticket["title"] == "Full"
    assert ticket["description"] == "Some *words*"
    assert ticket["acceptance_criteria"] == "It works"
    assert ticket["priority"] == "critical"
    assert ticket["assignee"] == "bob"
    assert ticket["labels"] == ["bug", "ui"]


def test_labels_are_shared_per_board(api, board):
    create(api, board, "A", labels=["bug"])
    create(api, board, "B", labels=["bug", "docs"])
    assert sorted(board.labels.values_list("name", flat=True)) == ["bug", "docs"]


def test_empty_assignee_means_unassigned(api, board):
    assert create(api, board, "A", assignee="")["assignee"] is None
    assert create(api, board, "B", assignee=None)["assignee"] is None


class TestPosition:
    @pytest.fixture
    def abc(self, api, board):
        return {title: create(api, board, title)["id"] for title in "ABC"}

    def test_top(self, api, board, abc):
        create(api, board, "New", position="top")
        assert draw(api, board)["Backlog"] == ["New", "A", "B", "C"]

    def test_bottom(self, api, board, abc):
        create(api, board, "New", position="bottom")
        assert draw(api, board)["Backlog"] == ["A", "B", "C", "New"]

    def test_before(self, api, board, abc):
        create(api, board, "New", position={"before": abc["B"]})
        assert draw(api, board)["Backlog"] == ["A", "New", "B", "C"]

    def test_before_the_first(self, api, board, abc):
        create(api, board, "New", position={"before": abc["A"]})
        assert draw(api, board)["Backlog"] == ["New", "A", "B", "C"]

    def test_after(self, api, board, abc):
        create(api, board, "New", position={"after": abc["B"]})
        assert draw(api, board)["Backlog"] == ["A", "B", "New", "C"]

    def test_after_the_last(self, api, board, abc):
        create(api, board, "New", position={"after": abc["C"]})
        assert draw(api, board)["Backlog"] == ["A", "B", "C", "New"]

    def test_top_of_an_empty_column(self, api, board, abc):
        create(api, board, "New", column="Done", position="top")
        assert draw(api, board)["Done"] == ["New"]

    def test_many_inserts_before_the_same_card(self, api, board, abc):
        for index in range(12):
            create(api, board, f"N{index}", position={"before": abc["B"]})
        expected = ["A", *(f"N{index}" for index in range(12)), "B", "C"]
        assert draw(api, board)["Backlog"] == expected

    def test_anchor_in_another_column(self, api, board, abc):
        response = api.post(
            "/api/tickets/",
            {"board_id": board.pk, "title": "X", "column": "Done", "position": {"after": abc["A"]}},
            "json",
        )
        assert_error(response, 400, field="position")
        assert Ticket.objects.count() == 3

    def test_unknown_anchor(self, api, board, abc):
        response = api.post(
            "/api/tickets/",
            {"board_id": board.pk, "title": "X", "position": {"before": 999_999}},
            "json",
        )
        assert_error(response, 400, field="position")

    @pytest.mark.parametrize(
        "position",
        [
            "middle",
            "",
            5,
            None,
            [],
            {"before": "1"},
            {"before": True},
            {"beside": 1},
            {"before": 1, "after": 2},
        ],
    )
    def test_malformed(self, api, board, abc, position):
        response = api.post(
            "/api/tickets/", {"board_id": board.pk, "title": "X", "position": position}, "json"
        )
        assert_error(response, 400, field="position")


def test_unknown_board_is_404(api, board):
    response = api.post("/api/tickets/", {"board_id": 999_999, "title": "X"}, "json")
    assert_error(response, 404, code="not_found")


def test_unknown_column_names_the_valid_ones(api, board):
    response = api.post(
        "/api/tickets/", {"board_id": board.pk, "title": "X", "column": "Doing"}, "json"
    )
    error = assert_error(response, 400, code="unknown_column", field="column")
    for name in ("Backlog", "In Progress", "Testing", "Done"):
        assert name in error["message"]
    assert "Doing" in error["message"]


def test_column_of_another_board_is_unknown(api, board, user):
    make_board(user, "Other", columns=["Elsewhere"])
    response = api.post(
        "/api/tickets/", {"board_id": board.pk, "title": "X", "column": "Elsewhere"}, "json"
    )
    assert_error(response, 400, code="unknown_column", field="column")


def test_unknown_assignee(api, board):
    response = api.post(
        "/api/tickets/", {"board_id": board.pk, "title": "X", "assignee": "nobody"}, "json"
    )
    error = assert_error(response, 400, field="assignee")
    assert "nobody" in error["message"]


def test_title_of_exactly_the_maximum_is_accepted(api, board):
    title = "t" * rules.TITLE_MAX
    assert create(api, board, title)["title"] == title


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": "t" * (rules.TITLE_MAX + 1)}, "title"),
        ({"title": 123}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": {"a": 1}}, "title"),
        ({"title": True}, "title"),
        ({"title": "X", "labels": "bug"}, "labels"),
        ({"title": "X", "labels": [1, 2]}, "labels"),
        ({"title": "X", "labels": ["l" * (rules.LABEL_MAX + 1)]}, "labels"),
        ({"title": "X", "labels": [f"l{i}" for i in range(rules.LABELS_MAX + 1)]}, "labels"),
        ({"title": "X", "labels": {"a": 1}}, "labels"),
        ({"title": "X", "priority": "urgent"}, "priority"),
        ({"title": "X", "priority": 1}, "priority"),
        ({"title": "X", "description": 5}, "description"),
        ({"title": "X", "description": "d" * (rules.TEXT_MAX + 1)}, "description"),
        ({"title": "X", "acceptance_criteria": ["x"]}, "acceptance_criteria"),
        ({"title": "X", "assignee": 7}, "assignee"),
        ({"title": "X", "column": 3}, "column"),
        ({"title": "X", "column": ""}, "column"),
        ({"title": "a\x00b"}, "title"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(api, board, body, field):
    response = api.post("/api/tickets/", {"board_id": board.pk, **body}, "json")
    assert_error(response, 400, code="invalid", field=field)
    assert Ticket.objects.count() == 0
    assert TicketHistory.objects.count() == 0


@pytest.mark.parametrize("board_id", ["abc", None, "", 0, -1, 1.5, [1], True])
def test_bad_board_id_is_400(api, board, board_id):
    response = api.post("/api/tickets/", {"board_id": board_id, "title": "X"}, "json")
    assert_error(response, 400, field="board_id")


def test_missing_board_id_is_400(api, board):
    assert_error(api.post("/api/tickets/", {"title": "X"}, "json"), 400, field="board_id")


def test_several_errors_are_all_listed(api, board):
    response = api.post("/api/tickets/", {"board_id": "abc", "title": ""}, "json")
    error = assert_error(response, 400)
    assert {row["field"] for row in error["validation_errors"]} >= {"board_id", "title"}


@pytest.mark.parametrize("raw", ["{not json", '{"title": "X",}', "", "nul"])
def test_non_json_body_is_400(api, board, raw):
    response = api.post("/api/tickets/", raw, content_type="application/json")
    assert_error(response, 400)


@pytest.mark.parametrize("body", ['[{"board_id": 1, "title": "X"}]', '"a string"', "42", "null"])
def test_json_that_is_not_an_object_is_400(api, board, body):
    response = api.post("/api/tickets/", body, content_type="application/json")
    assert_error(response, 400)
    assert Ticket.objects.count() == 0


def test_unsupported_media_type_in_the_envelope(api, board):
    response = api.post("/api/tickets/", "<ticket/>", content_type="application/xml")
    assert_error(response, 415)


def test_wip_limit_refuses_create_into_a_full_column(api, board):
    set_wip_limits(api, board, {"Backlog": 1})
    create(api, board, "Fits")
    response = api.post("/api/tickets/", {"board_id": board.pk, "title": "Too many"}, "json")
    error = assert_error(response, 409, code="wip_limit")
    assert error["wip_limit"] == 1
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_refused_in_the_envelope(anon, board, method):
    response = getattr(anon, method)("/api/tickets/", {"board_id": board.pk, "title": "X"}, "json")
    assert response.status_code in (401, 403)
    assert_error(response, response.status_code, code="not_authenticated")
    assert Ticket.objects.count() == 0


def test_bad_bearer_token_is_refused_in_the_envelope(board):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = client.post("/api/tickets/", {"board_id": board.pk, "title": "X"}, "json")
    assert response.status_code in (401, 403)
    assert_error(response, response.status_code)
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize("field", ["titel", "id", "version"])
def test_unknown_or_misplaced_fields_are_refused(api, board, field):
    response = api.post(
        "/api/tickets/", {"board_id": board.pk, "title": "X", field: "Done"}, "json"
    )
    assert_error(response, 400, field=field)
    assert Ticket.objects.count() == 0


def test_the_column_is_also_accepted_under_the_name_it_is_read_as(api, board):
    """A seed-era client sends `current_column`, the name GET answers with."""
    read = create(api, board, "Seed era", current_column="testing")
    assert read["current_column"] == "Testing"
    agreeing = create(api, board, "Both", column="Testing", current_column="Testing")
    assert agreeing["current_column"] == "Testing"
    response = api.post(
        "/api/tickets/",
        {"board_id": board.pk, "title": "Torn", "column": "Done", "current_column": "Testing"},
        "json",
    )
    assert_error(response, 400, code="invalid", field="current_column")
    assert draw(api, board)["Testing"] == ["Seed era", "Both"]
