"""POST /api/tickets/{id}/move: the order a client reads back is the order it asked for,
and a move writes only the moved card."""

import random

import pytest

from boards.models import BoardEvent
from history.models import TicketHistory
from tests.factories import make_ticket
from tests.tickets.helpers import (
    assert_error,
    assert_seq_gap_free,
    draw,
    set_wip_limits,
    snapshot,
)
from tickets import rules
from tickets.models import Ticket
from tickets.ordering import validate_key


@pytest.fixture
def cards(user, board) -> dict[str, int]:
    """
    Backlog | In Progress | Testing | Done
    A       | D           |         |
    B       | E           |         |
    C       |             |         |
    """
    layout = {"Backlog": "ABC", "In Progress": "DE"}
    return {
        title: make_ticket(user, board, title, column=column).pk
        for column, titles in layout.items()
        for title in titles
    }


def move(api, ticket_id: int, **body):
    return api.post(f"/api/tickets/{ticket_id}/move", body, "json")


def moved(api, ticket_id: int, **body) -> dict:
    response = move(api, ticket_id, **body)
    assert response.status_code == 200, response.content
    return response.json()


def board_of(backlog="", in_progress="", testing="", done="") -> dict[str, list[str]]:
    return {
        "Backlog": list(backlog),
        "In Progress": list(in_progress),
        "Testing": list(testing),
        "Done": list(done),
    }


def test_the_starting_board(api, board, cards):
    assert draw(api, board) == board_of("ABC", "DE")


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"column": "In Progress"}, board_of("AC", "DEB")),
        ({"column": "In Progress", "position": "bottom"}, board_of("AC", "DEB")),
        ({"column": "In Progress", "position": "top"}, board_of("AC", "BDE")),
        ({"column": "In Progress", "position": {"before": "E"}}, board_of("AC", "DBE")),
        ({"column": "In Progress", "position": {"after": "D"}}, board_of("AC", "DBE")),
        ({"column": "In Progress", "position": {"before": "D"}}, board_of("AC", "BDE")),
        ({"column": "In Progress", "position": {"after": "E"}}, board_of("AC", "DEB")),
        ({"column": "testing"}, board_of("AC", "DE", "B")),
        ({"column": "Done", "position": "top"}, board_of("AC", "DE", "", "B")),
    ],
)
def test_move_between_columns(api, board, cards, body, expected):
    body = resolve(body, cards)
    ticket = moved(api, cards["B"], **body)
    assert ticket["current_column"] == expected_column(expected, "B")
    assert ticket["version"] == 2
    assert draw(api, board) == expected


@pytest.mark.parametrize(
    "card, position, expected",
    [
        ("C", "top", board_of("CAB", "DE")),
        ("B", "top", board_of("BAC", "DE")),
        ("A", "top", board_of("ABC", "DE")),
        ("A", "bottom", board_of("BCA", "DE")),
        ("B", "bottom", board_of("ACB", "DE")),
        ("C", "bottom", board_of("ABC", "DE")),
        ("C", {"before": "A"}, board_of("CAB", "DE")),
        ("C", {"before": "B"}, board_of("ACB", "DE")),
        ("A", {"before": "C"}, board_of("BAC", "DE")),
        ("A", {"after": "B"}, board_of("BAC", "DE")),
        ("A", {"after": "C"}, board_of("BCA", "DE")),
        ("C", {"after": "A"}, board_of("ACB", "DE")),
        ("B", {"after": "A"}, board_of("ABC", "DE")),
        ("B", {"before": "C"}, board_of("ABC", "DE")),
    ],
)
def test_move_within_a_column(api, board, cards, card, position, expected):
    body = resolve({"column": "Backlog", "position": position}, cards)
    moved(api, cards[card], **body)
    assert draw(api, board) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"column": "In Progress", "position": "top"},
        {"column": "Backlog", "position": "top"},
        {"column": "Backlog", "position": {"after": "C"}},
        {"column": "Done"},
    ],
)
def test_a_move_writes_only_the_moved_ticket(api, board, cards, body):
    before = snapshot(board)
    moved(api, cards["B"], **resolve(body, cards))
    after = snapshot(board)
    assert {pk: row for pk, row in after.items() if pk != cards["B"]} == {
        pk: row for pk, row in before.items() if pk != cards["B"]
    }
    assert after[cards["B"]][2] == before[cards["B"]][2] + 1


def test_moving_to_its_own_column_without_position_changes_nothing(api, board, cards):
    ticket = moved(api, cards["B"], column="Backlog")
    assert ticket["version"] == 1
    assert draw(api, board) == board_of("ABC", "DE")


@pytest.mark.parametrize(
    "card, position", [("A", "top"), ("C", "bottom"), ("B", {"after": "A"}), ("B", {"before": "C"})]
)
def test_a_move_to_where_the_card_already_is_changes_nothing(api, board, cards, card, position):
    before = snapshot(board)
    history = TicketHistory.objects.count()
    ticket = moved(api, cards[card], **resolve({"column": "Backlog", "position": position}, cards))
    assert ticket["version"] == 1
    assert snapshot(board) == before
    assert TicketHistory.objects.count() == history


def test_anchor_in_another_column_is_400(api, board, cards):
    response = move(api, cards["A"], column="Backlog", position={"before": cards["D"]})
    assert_error(response, 400, field="position")
    response = move(api, cards["A"], column="Done", position={"after": cards["B"]})
    assert_error(response, 400, field="position")
    assert draw(api, board) == board_of("ABC", "DE")


def test_anchor_that_is_the_moved_card_is_400(api, board, cards):
    response = move(api, cards["A"], column="Backlog", position={"before": cards["A"]})
    assert_error(response, 400, field="position")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "column"),
        ({"column": ""}, "column"),
        ({"column": 3}, "column"),
        ({"column": "Backlog", "position": "middle"}, "position"),
        ({"column": "Backlog", "position": {"before": "A"}}, "position"),
        ({"column": "Backlog", "version": "one"}, "version"),
    ],
)
def test_bad_move_body_is_400(api, board, cards, body, field):
    assert_error(move(api, cards["A"], **body), 400, field=field)
    assert draw(api, board) == board_of("ABC", "DE")


def test_unknown_column_is_400_naming_the_valid_ones(api, board, cards):
    error = assert_error(move(api, cards["A"], column="Archive"), 400, code="unknown_column")
    assert "In Progress" in error["message"]


def test_unknown_ticket_is_404(api, board, cards):
    assert_error(move(api, 999_999, column="Done"), 404, code="not_found")


def test_wip_limit_refuses_a_move_into_a_full_column(api, board, cards):
    set_wip_limits(api, board, {"In Progress": 2})
    before = snapshot(board)
    error = assert_error(move(api, cards["A"], column="In Progress"), 409, code="wip_limit")
    assert error["wip_limit"] == 2
    assert snapshot(board) == before
    # Reordering inside a full column is not an arrival and stays allowed.
    moved(api, cards["E"], column="In Progress", position="top")
    assert draw(api, board) == board_of("ABC", "ED")
    # Once there is room, the move succeeds.
    moved(api, cards["D"], column="Done")
    moved(api, cards["A"], column="In Progress")
    assert draw(api, board) == board_of("BC", "EA", "", "D")


def test_stale_version_is_409(api, board, cards):
    moved(api, cards["A"], column="Testing", version=1)
    response = move(api, cards["A"], column="Done", version=1)
    assert assert_error(response, 409, code="version_conflict")["current_version"] == 2
    response = api.post(
        f"/api/tickets/{cards['A']}/move", {"column": "Done"}, "json", HTTP_IF_MATCH='"1"'
    )
    assert_error(response, 409, code="version_conflict")
    assert draw(api, board) == board_of("BC", "DE", "A")
    ticket = api.post(
        f"/api/tickets/{cards['A']}/move", {"column": "Done"}, "json", HTTP_IF_MATCH='W/"2"'
    )
    assert ticket.status_code == 200
    assert ticket["ETag"] == '"3"'


def test_if_match_disagreeing_with_version_is_400(api, board, cards):
    response = api.post(
        f"/api/tickets/{cards['A']}/move",
        {"column": "Done", "version": 1},
        "json",
        HTTP_IF_MATCH='"2"',
    )
    assert_error(response, 400, field="version")


def test_many_random_moves_match_a_list_model(api, user, board):
    """Sixty random moves; after each, the board reads back exactly as a plain list model."""
    rng = random.Random(20260101)
    names = ["Backlog", "In Progress", "Testing", "Done"]
    model: dict[str, list[str]] = {name: [] for name in names}
    ids: dict[str, int] = {}
    for index in range(12):
        title = f"T{index:02}"
        ids[title] = make_ticket(user, board, title, column=names[index % 2]).pk
        model[names[index % 2]].append(title)
    for _ in range(60):
        title = rng.choice(sorted(ids))
        source = next(name for name in names if title in model[name])
        target = rng.choice(names)
        model[source].remove(title)
        others = model[target]
        kind = rng.choice(["top", "bottom", "before", "after"])
        if kind in ("before", "after") and others:
            anchor = rng.choice(others)
            position = {kind: ids[anchor]}
            index = others.index(anchor) + (kind == "after")
        else:
            position = "top" if kind == "top" else "bottom"
            index = 0 if kind == "top" else len(others)
        others.insert(index, title)
        moved(api, ids[title], column=target, position=position)
        assert draw(api, board) == model
    for key in Ticket.objects.filter(board=board).values_list("position", flat=True):
        validate_key(key)


def test_anonymous_cannot_move(anon, board, cards):
    response = move(anon, cards["A"], column="Done")
    assert response.status_code in (401, 403)
    assert_error(response, response.status_code, code="not_authenticated")


def resolve(body: dict, cards: dict[str, int]) -> dict:
    """Replace card titles in an anchor ({"before": "E"}) by the cards' ids."""
    position = body.get("position")
    if isinstance(position, dict):
        ((where, title),) = position.items()
        return {**body, "position": {where: cards[title]}}
    return body


def expected_column(drawing: dict[str, list[str]], title: str) -> str:
    return next(name for name, titles in drawing.items() if title in titles)


def test_hammering_one_spot_respaces_the_column_and_keeps_the_order(
    api, user, board, cards, monkeypatch
):
    """Keys grow when cards keep landing at one spot; past the limit the column gets
    fresh short keys (same order) instead of outgrowing the field."""
    monkeypatch.setattr(rules, "POSITION_KEY_MAX", 4)
    expected = ["A", "B", "C"]
    for index in range(30):
        title = f"N{index}"
        api.post(
            "/api/tickets/",
            {"board_id": board.pk, "title": title, "position": {"after": cards["A"]}},
            "json",
        )
        expected.insert(1, title)
        assert draw(api, board)["Backlog"] == expected
    moved(api, cards["D"], column="Backlog", position={"before": cards["B"]})
    expected.insert(expected.index("B"), "D")
    assert draw(api, board)["Backlog"] == expected
    keys = list(Ticket.objects.filter(board=board).values_list("position", flat=True))
    assert max(len(key) for key in keys) <= 5
    for key in keys:
        validate_key(key)
    assert BoardEvent.objects.filter(board=board, type="column_respaced").exists()
    assert_seq_gap_free(board)


@pytest.mark.parametrize("field", ["colum", "title"])
def test_move_refuses_unknown_fields(api, board, cards, field):
    response = move(api, cards["A"], column="Done", **{field: "Done"})
    assert_error(response, 400, field=field)
    assert draw(api, board) == board_of("ABC", "DE")


def test_move_takes_the_column_under_the_name_it_is_read_as(api, board, cards):
    assert move(api, cards["A"], current_column="Done").status_code == 200
    torn = move(api, cards["B"], column="Backlog", current_column="Done")
    assert_error(torn, 400, field="current_column")
    assert draw(api, board) == board_of("BC", "DE", "", "A")
