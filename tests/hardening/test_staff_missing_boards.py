"""Issue 19, point 5: a board that does not exist is "not found" for a site admin too.
A site admin is an admin of every board, so their role proves no board exists: a token
limited to a missing board answered 500, and a missing board's members, tickets and
activity answered 200 with nothing in them. Members and non-members keep their answers
(a board they may not read is as missing as one that does not exist)."""

import pytest
from rest_framework.test import APIClient

from agents.services import token_issue
from tests.factories import make_board, make_ticket, make_user
from tests.tokens.conftest import bearer, session

MISSING = 987654


@pytest.fixture
def staff(db):
    return make_user("site-admin", is_staff=True)


@pytest.fixture
def board(staff):
    owner = make_user("owner")
    board = make_board(owner, "Real")
    make_ticket(owner, board, "On the real board")
    return board


def token_client(user) -> APIClient:
    """A client with a new token of `user`'s (the way agents and scripts call)."""
    return bearer(token_issue(actor=None, user=user, name="test").secret)


def assert_not_found(response, code: str = "not_found") -> dict:
    assert response.status_code == 404, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) >= {"message", "code", "error_id", "timestamp", "validation_errors"}
    return error


READS = [
    f"/api/boards/{MISSING}/members",
    f"/api/boards/{MISSING}/tickets",
    f"/api/tickets/?board_id={MISSING}",
    f"/api/history/boards/{MISSING}/activity",
    f"/api/statistics/boards/{MISSING}/statistics",
    f"/api/statistics/boards/{MISSING}/flow",
    f"/api/statistics/boards/{MISSING}/performance",
    f"/api/statistics/boards/{MISSING}/tickets/colors",
]


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("client", [token_client, session], ids=["token", "session"])
def test_a_missing_board_is_not_found_for_a_site_admin(staff, board, client, path):
    error = assert_not_found(client(staff).get(path))
    assert str(MISSING) in error["message"]


@pytest.mark.parametrize("path", READS)
def test_a_non_member_still_gets_what_a_missing_board_gets(board, path):
    """A board one may not read answers as a missing one, word for word."""
    stranger = session(make_user("stranger"))
    real = path.replace(str(MISSING), str(board.pk))
    hidden = assert_not_found(stranger.get(real))
    missing = assert_not_found(stranger.get(path))
    assert hidden["message"].replace(str(board.pk), "N") == missing["message"].replace(
        str(MISSING), "N"
    )


@pytest.mark.parametrize("path", READS)
def test_a_site_admin_still_reads_a_board_they_are_not_a_member_of(staff, board, path):
    response = session(staff).get(path.replace(str(MISSING), str(board.pk)))
    assert response.status_code == 200, response.content


def test_a_site_admin_adding_a_member_to_a_missing_board_is_not_found(staff):
    member = make_user("would-be-member")
    response = session(staff).post(
        f"/api/boards/{MISSING}/members", {"user_id": member.pk, "role": "member"}, format="json"
    )
    assert_not_found(response)


@pytest.mark.parametrize("client", [token_client, session], ids=["token", "session"])
def test_a_token_limited_to_a_missing_board_is_refused_as_for_anyone(staff, board, client):
    """400 with the field error a non-member gets for a board they may not read: the
    body names a board, so a bad one is invalid input, as every other bad reference."""
    response = client(staff).post(
        "/api/tokens/", {"name": "scoped", "board_ids": [board.pk, MISSING]}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["validation_errors"] == [
        {"field": "board_ids[1]", "message": f"No board {MISSING}.", "code": "not_found"}
    ], error
    assert staff.api_tokens.filter(name="scoped").count() == 0


def test_a_non_member_limiting_a_token_to_a_board_gets_the_same_refusal(board):
    stranger = make_user("stranger")
    response = session(stranger).post(
        "/api/tokens/", {"name": "scoped", "board_ids": [board.pk]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["validation_errors"] == [
        {"field": "board_ids[0]", "message": f"No board {board.pk}.", "code": "not_found"}
    ]


def test_a_site_admin_limits_a_token_to_a_board_that_exists(staff, board):
    response = session(staff).post(
        "/api/tokens/", {"name": "scoped", "board_ids": [board.pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["board_ids"] == [board.pk]
