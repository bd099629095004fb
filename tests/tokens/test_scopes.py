"""What a token may do: read-only tokens read, board-limited tokens see their boards only,
expired and revoked tokens do nothing — on the REST API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import ApiToken
from agents.services import token_revoke
from tests.api.envelope import assert_error
from tests.factories import make_ticket
from tests.tokens.conftest import bearer, issue

pytestmark = pytest.mark.django_db


def test_read_only_token_reads_but_every_write_is_403(user, scoped_agent, two_boards):
    mine, _, _ = two_boards
    ticket = make_ticket(user, mine, "Existing")
    client = bearer(issue(scoped_agent, read_only=True).secret)

    assert client.get(f"/api/boards/{mine.pk}").status_code == 200
    assert client.get(f"/api/tickets/{ticket.pk}").status_code == 200
    created = client.post("/api/tickets/", {"board_id": mine.pk, "title": "New"}, format="json")
    assert_error(created, 403, "token_read_only")
    edited = client.patch(f"/api/tickets/{ticket.pk}", {"title": "Changed"}, format="json")
    assert_error(edited, 403, "token_read_only")
    comment = client.post("/api/comments/", {"ticket_id": ticket.pk, "text": "x"}, format="json")
    assert_error(comment, 403, "token_read_only")
    ticket.refresh_from_db()
    assert ticket.title == "Existing"


def test_a_full_token_of_the_same_agent_may_write(scoped_agent, two_boards):
    mine, _, _ = two_boards
    client = bearer(issue(scoped_agent).secret)
    created = client.post("/api/tickets/", {"board_id": mine.pk, "title": "New"}, format="json")
    assert created.status_code == 201, created.content


def test_board_limited_token_sees_only_its_boards(user, scoped_agent, two_boards):
    mine, also, _ = two_boards
    elsewhere = make_ticket(user, also, "Elsewhere")
    client = bearer(issue(scoped_agent, board_ids=[mine.pk]).secret)

    listed = client.get("/api/boards/").json()["items"]
    assert [board["id"] for board in listed] == [mine.pk]
    assert client.get(f"/api/boards/{mine.pk}").status_code == 200
    # The agent is a member of the other board, but this token does not reach it.
    assert_error(client.get(f"/api/boards/{also.pk}"), 404)
    assert_error(client.get(f"/api/tickets/{elsewhere.pk}"), 404)
    moved = client.post("/api/tickets/", {"board_id": also.pk, "title": "No"}, format="json")
    assert_error(moved, 404)
    here = client.post("/api/tickets/", {"board_id": mine.pk, "title": "Yes"}, format="json")
    assert here.status_code == 201, here.content


def test_expired_token_is_refused(scoped_agent):
    issued = issue(scoped_agent, expires_at=timezone.now() + timedelta(hours=1))
    client = bearer(issued.secret)
    assert client.get("/api/boards/").status_code == 200
    ApiToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_error(client.get("/api/boards/"), 401, "authentication_failed")


def test_revoked_token_is_refused_at_once(scoped_agent):
    issued = issue(scoped_agent)
    client = bearer(issued.secret)
    assert client.get("/api/users/session").status_code == 200
    token_revoke(actor=None, token=issued.token)
    assert_error(client.get("/api/users/session"), 401, "authentication_failed")


def test_each_request_gets_a_fresh_user_carrying_its_own_token(scoped_agent, two_boards):
    """Two tokens of one agent, used one after the other: the limits of the first must not
    stay with the user of the second."""
    mine, also, _ = two_boards
    limited = bearer(issue(scoped_agent, board_ids=[mine.pk], read_only=True).secret)
    full = bearer(issue(scoped_agent).secret)
    assert [b["id"] for b in limited.get("/api/boards/").json()["items"]] == [mine.pk]
    full_ids = {b["id"] for b in full.get("/api/boards/").json()["items"]}
    assert full_ids == {mine.pk, also.pk}
    created = full.post("/api/tickets/", {"board_id": also.pk, "title": "x"}, format="json")
    assert created.status_code == 201
    assert [b["id"] for b in limited.get("/api/boards/").json()["items"]] == [mine.pk]
