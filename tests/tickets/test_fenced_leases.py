"""Fenced leases: a claim answers with a `claim_token`, new with every claim. Heartbeat,
release, move, edit and comment accept it (body `claim_token` or header X-Claim-Token);
once the claim it names is no longer current — the lease ran out, the ticket was released
or claimed again, even by the same identity from another worker — the write is refused
with 409 `lease_lost` and nothing is written. Without a token, nothing changes."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from boards.models import BoardEvent
from comments.models import Comment
from comments.services import comment_create
from core import groups
from core.errors import LeaseLost
from history.models import TicketHistory
from stats.models import RefusedMove
from tests.claims.helpers import bearer, expire_lease
from tests.factories import make_agent, make_ticket
from tests.tickets.helpers import assert_error
from tickets.models import Ticket
from tickets.services import (
    leases_expire,
    ticket_claim,
    ticket_heartbeat,
    ticket_move,
    ticket_release,
    ticket_update,
)

pytestmark = pytest.mark.django_db

TOKEN_FORM = re.compile(r"[A-Za-z0-9_-]{43}")
# Well formed, but no claim was ever given it.
UNKNOWN_TOKEN = "A" * 43


@pytest.fixture
def second_agent_with_token(db):
    return make_agent("codex-2")


@pytest.fixture
def second_agent_api(second_agent_with_token):
    return bearer(second_agent_with_token[1])


@pytest.fixture
def agent(agent_with_token):
    return agent_with_token[0]


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Write the parser")


def claim(client, ticket, **body) -> dict:
    response = client.post(f"/api/tickets/{ticket.pk}/claim", body, "json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert TOKEN_FORM.fullmatch(answer["claim_token"]), answer
    return answer


def stored_token(ticket) -> str | None:
    return Ticket.objects.get(pk=ticket.pk).claim_token


def footprint(ticket, board) -> dict:
    """Everything a write to `ticket` could leave behind."""
    row = Ticket.objects.filter(pk=ticket.pk).values().get()
    return {
        "ticket": row,
        "labels": list(Ticket.objects.get(pk=ticket.pk).labels.values_list("name", flat=True)),
        "history": TicketHistory.objects.filter(ticket_id=ticket.pk).count(),
        "comments": Comment.objects.filter(ticket_id=ticket.pk).count(),
        "events": BoardEvent.objects.filter(board=board).count(),
        "refused_moves": RefusedMove.objects.count(),
    }


def write(client, kind: str, ticket, token: str | None, *, form: str = "body"):
    """One of the fenced writes, naming `token` in the body or the X-Claim-Token header."""
    url, body = {
        "heartbeat": (f"/api/tickets/{ticket.pk}/heartbeat", {"lease_seconds": 600}),
        "release": (f"/api/tickets/{ticket.pk}/release", {}),
        "move": (f"/api/tickets/{ticket.pk}/move", {"column": "Testing"}),
        "edit": (f"/api/tickets/{ticket.pk}", {"title": "Overwritten", "priority": "low"}),
        "edit_column": (f"/api/tickets/{ticket.pk}", {"current_column": "Done"}),
        "comment": ("/api/comments/", {"ticket_id": ticket.pk, "text": "Half done."}),
    }[kind]
    headers = {}
    if token is not None and form == "body":
        body = {**body, "claim_token": token}
    elif token is not None:
        headers["HTTP_X_CLAIM_TOKEN"] = token
    method = client.patch if kind.startswith("edit") else client.post
    return method(url, body, "json", **headers)


WRITES = ["heartbeat", "release", "move", "edit", "edit_column", "comment"]


@pytest.fixture(params=["other_agent", "same_agent"])
def lost(request, ticket, agent_api, second_agent_api):
    """claude-1 claimed the ticket, its lease ran out, and it was claimed again: by
    codex-2, or by claude-1 itself from another worker. (old token, new token)."""
    old = claim(agent_api, ticket, lease_seconds=10)["claim_token"]
    expire_lease(ticket.pk)
    again = second_agent_api if request.param == "other_agent" else agent_api
    new = claim(again, ticket, lease_seconds=600)["claim_token"]
    assert new != old
    return old, new


# ---------------------------------------------------------------- refused, nothing written


@pytest.mark.parametrize("form", ["body", "header"])
@pytest.mark.parametrize("kind", WRITES)
def test_the_old_token_is_refused_and_nothing_is_written(
    lost, kind, form, agent_api, ticket, board
):
    old, _ = lost
    before = footprint(ticket, board)

    response = write(agent_api, kind, ticket, old, form=form)

    error = assert_error(response, 409, code="lease_lost")
    assert "no longer current" in error["message"]
    assert footprint(ticket, board) == before


@pytest.mark.parametrize("kind", WRITES)
def test_a_lease_that_ran_out_refuses_its_own_token(kind, agent_api, ticket, board):
    """Nobody claimed it since, and the token is the ticket's: the lease is still over."""
    token = claim(agent_api, ticket, lease_seconds=10)["claim_token"]
    expire_lease(ticket.pk)
    before = footprint(ticket, board)

    assert_error(write(agent_api, kind, ticket, token), 409, code="lease_lost")

    assert footprint(ticket, board) == before


@pytest.mark.parametrize("kind", WRITES)
def test_a_token_of_a_cleared_claim_is_refused(kind, agent_api, ticket, board):
    """Expired and swept (leases_expire), or released: the token names no claim."""
    token = claim(agent_api, ticket, lease_seconds=10)["claim_token"]
    expire_lease(ticket.pk)
    assert leases_expire() == 1
    assert stored_token(ticket) is None
    before = footprint(ticket, board)

    assert_error(write(agent_api, kind, ticket, token), 409, code="lease_lost")

    assert footprint(ticket, board) == before


def test_a_released_claims_token_is_refused(agent_api, ticket, board):
    token = claim(agent_api, ticket)["claim_token"]
    assert write(agent_api, "release", ticket, token).status_code == 200
    assert stored_token(ticket) is None
    before = footprint(ticket, board)

    assert_error(write(agent_api, "edit", ticket, token), 409, code="lease_lost")
    assert_error(write(agent_api, "release", ticket, token), 409, code="lease_lost")

    assert footprint(ticket, board) == before


def test_a_token_no_claim_was_given_is_refused(agent_api, ticket, board):
    claim(agent_api, ticket)
    before = footprint(ticket, board)

    assert_error(write(agent_api, "move", ticket, UNKNOWN_TOKEN), 409, code="lease_lost")

    assert footprint(ticket, board) == before


def test_the_services_refuse_the_old_token_too(lost, agent, ticket, board):
    """The rule is the services': MCP tools, pages and commands get it as REST does."""
    old, _ = lost
    before = footprint(ticket, board)
    calls = [
        lambda: ticket_heartbeat(actor=agent, ticket_id=ticket.pk, claim_token=old),
        lambda: ticket_release(actor=agent, ticket_id=ticket.pk, claim_token=old),
        lambda: ticket_move(actor=agent, ticket_id=ticket.pk, column="Done", claim_token=old),
        lambda: ticket_update(actor=agent, ticket_id=ticket.pk, title="X", claim_token=old),
        lambda: comment_create(actor=agent, ticket_id=ticket.pk, text="Hi", claim_token=old),
    ]
    for call in calls:
        with pytest.raises(LeaseLost):
            call()
    assert footprint(ticket, board) == before


# ---------------------------------------------------------------- the current token works


@pytest.mark.parametrize("form", ["body", "header"])
def test_the_current_token_works_for_every_write(lost, form, ticket, agent_api, second_agent_api):
    _, new = lost
    holder = (
        second_agent_api
        if Ticket.objects.get(pk=ticket.pk).claimed_by.username == ("codex-2")
        else agent_api
    )

    beat = write(holder, "heartbeat", ticket, new, form=form)
    assert beat.status_code == 200, beat.content
    assert beat.json()["claim_token"] == new  # a heartbeat keeps the claim and its token

    edited = write(holder, "edit", ticket, new, form=form)
    assert edited.status_code == 200, edited.content
    assert (edited.json()["title"], edited.json()["priority"]) == ("Overwritten", "low")

    moved = write(holder, "move", ticket, new, form=form)
    assert moved.status_code == 200, moved.content
    assert moved.json()["current_column"] == "Testing"

    commented = write(holder, "comment", ticket, new, form=form)
    assert commented.status_code == 201, commented.content
    assert Comment.objects.filter(ticket_id=ticket.pk, text="Half done.").count() == 1

    released = write(holder, "release", ticket, new, form=form)
    assert released.status_code == 200, released.content
    assert released.json()["claimed_by"] is None
    assert "claim_token" not in released.json()
    assert stored_token(ticket) is None


def test_moving_to_the_last_column_ends_the_claim_and_its_token(agent_api, ticket, board):
    token = claim(agent_api, ticket)["claim_token"]

    done = write(agent_api, "edit_column", ticket, token)

    assert done.status_code == 200, done.content
    row = Ticket.objects.get(pk=ticket.pk)
    assert (row.claimed_by_id, row.claim_token) == (None, None)
    assert_error(write(agent_api, "comment", ticket, token), 409, code="lease_lost")


def test_bulk_move_to_the_last_column_clears_the_token(api, agent_api, ticket):
    token = claim(agent_api, ticket)["claim_token"]
    response = api.post(
        "/api/bulk/tickets/move", {"ticket_ids": [ticket.pk], "column": "Done"}, "json"
    )
    assert response.status_code == 200, response.content
    assert stored_token(ticket) is None
    assert_error(write(agent_api, "heartbeat", ticket, token), 409, code="lease_lost")


# ---------------------------------------------------------------- without a token: as before


def test_without_a_token_the_old_worker_of_the_same_identity_still_writes(agent_api, ticket):
    """Today's rule, unchanged: the claim is the identity's, whichever worker writes."""
    claim(agent_api, ticket, lease_seconds=10)
    expire_lease(ticket.pk)
    claim(agent_api, ticket, lease_seconds=600)

    for kind, status in [("heartbeat", 200), ("edit", 200), ("comment", 201), ("release", 200)]:
        response = write(agent_api, kind, ticket, None)
        assert response.status_code == status, (kind, response.content)


def test_without_a_token_someone_elses_claim_is_still_claimed(
    agent_api, second_agent_api, ticket, board
):
    claim(agent_api, ticket, lease_seconds=10)
    expire_lease(ticket.pk)
    claim(second_agent_api, ticket, lease_seconds=600)
    before_history = TicketHistory.objects.filter(ticket_id=ticket.pk).count()

    assert_error(write(agent_api, "move", ticket, None), 409, code="claimed")
    assert_error(write(agent_api, "edit", ticket, None), 409, code="claimed")
    assert_error(write(agent_api, "heartbeat", ticket, None), 409, code="claimed")
    assert_error(write(agent_api, "release", ticket, None), 403)
    # Commenting on someone else's claimed ticket was and is allowed.
    assert write(agent_api, "comment", ticket, None).status_code == 201
    assert TicketHistory.objects.filter(ticket_id=ticket.pk).count() == before_history


def test_an_admin_without_a_token_still_overrides_a_claim(api, agent_api, ticket):
    claim(agent_api, ticket)
    assert write(api, "edit", ticket, None).status_code == 200
    assert write(api, "release", ticket, None).status_code == 200


# ---------------------------------------------------------------- header, body, bad tokens


def test_header_and_body_may_both_name_the_same_token(agent_api, ticket):
    token = claim(agent_api, ticket)["claim_token"]
    response = agent_api.post(
        f"/api/tickets/{ticket.pk}/move",
        {"column": "Testing", "claim_token": token},
        "json",
        HTTP_X_CLAIM_TOKEN=token,
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("kind", WRITES)
def test_header_and_body_that_disagree_are_refused(kind, agent_api, ticket, board):
    token = claim(agent_api, ticket)["claim_token"]
    before = footprint(ticket, board)
    url, body = {
        "heartbeat": (f"/api/tickets/{ticket.pk}/heartbeat", {}),
        "release": (f"/api/tickets/{ticket.pk}/release", {}),
        "move": (f"/api/tickets/{ticket.pk}/move", {"column": "Testing"}),
        "edit": (f"/api/tickets/{ticket.pk}", {"title": "New"}),
        "edit_column": (f"/api/tickets/{ticket.pk}", {"current_column": "Done"}),
        "comment": ("/api/comments/", {"ticket_id": ticket.pk, "text": "Hi"}),
    }[kind]
    method = agent_api.patch if kind.startswith("edit") else agent_api.post

    response = method(url, {**body, "claim_token": token}, "json", HTTP_X_CLAIM_TOKEN=UNKNOWN_TOKEN)

    assert_error(response, 400, code="invalid", field="claim_token")
    assert footprint(ticket, board) == before


@pytest.mark.parametrize(
    "bad",
    ["", "short", "A" * 42, "A" * 44, "A" * 42 + "!", "A" * 42 + "é", "A" * 200],
)
@pytest.mark.parametrize("form", ["body", "header"])
@pytest.mark.parametrize("kind", ["heartbeat", "edit", "comment"])
def test_a_malformed_token_is_a_400_not_a_500(bad, form, kind, agent_api, ticket, board):
    claim(agent_api, ticket)
    before = footprint(ticket, board)

    response = write(agent_api, kind, ticket, bad, form=form)

    assert_error(response, 400, code="invalid", field="claim_token")
    assert footprint(ticket, board) == before


@pytest.mark.parametrize("bad", [123, None, ["x"], {"token": "x"}, True])
def test_a_token_that_is_not_text_is_a_400(bad, agent_api, ticket, board):
    claim(agent_api, ticket)
    before = footprint(ticket, board)
    response = agent_api.post(
        f"/api/tickets/{ticket.pk}/move", {"column": "Testing", "claim_token": bad}, "json"
    )
    assert_error(response, 400, field="claim_token")
    assert footprint(ticket, board) == before


def test_a_service_given_a_token_that_is_not_text_says_so(agent, ticket):
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    for bad in (123, b"x" * 43, "A" * 42):
        with pytest.raises(Exception) as caught:
            ticket_heartbeat(actor=agent, ticket_id=ticket.pk, claim_token=bad)
        assert getattr(caught.value, "code", None) == "invalid"
        assert caught.value.validation_errors[0]["field"] == "claim_token"


def test_a_claim_takes_no_token(agent_api, ticket):
    token = claim(agent_api, ticket)["claim_token"]
    response = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {"claim_token": token}, "json")
    assert_error(response, 400, field="claim_token")


def test_a_token_for_a_ticket_the_writer_may_not_see_is_not_found(agent_api, ticket, user):
    """The fence comes after the board's access rule: no token probes a hidden ticket."""
    from tests.factories import make_board

    hidden = make_ticket(user, make_board(user, "Private"), "Hidden")
    token = claim(agent_api, ticket)["claim_token"]
    for kind in ("heartbeat", "edit", "comment"):
        assert_error(write(agent_api, kind, hidden, token), 404)


# ---------------------------------------------------------------- a new token per claim


def test_every_claim_gets_a_new_token_and_a_renewal_keeps_it(
    agent_api, second_agent_api, ticket, board
):
    seen = []
    first = claim(agent_api, ticket, lease_seconds=60)["claim_token"]
    seen.append(first)
    assert stored_token(ticket) == first

    # Claiming a live claim of one's own renews it: the same claim, the same token.
    renewed = claim(agent_api, ticket, lease_seconds=600)
    assert renewed["claim_token"] == first
    assert write(agent_api, "heartbeat", ticket, first).status_code == 200

    # Released, then claimed again by the same identity: a new claim.
    assert write(agent_api, "release", ticket, first).status_code == 200
    seen.append(claim(agent_api, ticket, lease_seconds=10)["claim_token"])

    # Lapsed, then claimed again by the same identity: a new claim.
    expire_lease(ticket.pk)
    seen.append(claim(agent_api, ticket, lease_seconds=10)["claim_token"])

    # Lapsed, then claimed by someone else.
    expire_lease(ticket.pk)
    seen.append(claim(second_agent_api, ticket, lease_seconds=10)["claim_token"])

    # Lapsed, then taken by claim-next.
    expire_lease(ticket.pk)
    response = agent_api.post(f"/api/boards/{board.pk}/claim-next", {}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == ticket.pk
    seen.append(response.json()["claim_token"])

    assert len(set(seen)) == len(seen)
    assert all(TOKEN_FORM.fullmatch(token) for token in seen)
    assert stored_token(ticket) == seen[-1]


def test_a_claim_made_before_tokens_existed_gets_one_when_renewed(agent, agent_api, ticket):
    """A claim without a token (one made before the migration, or imported) is fenced
    from its holder's next claim on."""
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    Ticket.objects.filter(pk=ticket.pk).update(claim_token=None)
    assert write(agent_api, "heartbeat", ticket, None).status_code == 200
    assert_error(write(agent_api, "heartbeat", ticket, UNKNOWN_TOKEN), 409, code="lease_lost")

    token = claim(agent_api, ticket)["claim_token"]

    assert stored_token(ticket) == token
    assert write(agent_api, "heartbeat", ticket, token).status_code == 200


def test_the_claim_answers_carry_the_token(agent, agent_api, ticket, board):
    claimed = claim(agent_api, ticket)
    beat = write(agent_api, "heartbeat", ticket, None)
    assert beat.status_code == 200
    assert beat.json()["claim_token"] == claimed["claim_token"]
    # The ticket's other fields are its one representation.
    plain = agent_api.get(f"/api/tickets/{ticket.pk}").json()
    assert {k: v for k, v in beat.json().items() if k != "claim_token"}.keys() == plain.keys()


# ---------------------------------------------------------------- nobody else sees it


def test_the_token_is_shown_to_no_one_but_the_claim_answers(
    api,
    member_api,
    agent_api,
    ticket,
    board,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    pushed = []
    real_send = groups.group_send
    monkeypatch.setattr(groups, "group_send", lambda group, message: pushed.append(message))
    with django_capture_on_commit_callbacks(execute=True):
        token = claim(agent_api, ticket)["claim_token"]
        write(agent_api, "heartbeat", ticket, token)
        write(agent_api, "edit", ticket, token)
        write(agent_api, "comment", ticket, token)
        write(agent_api, "move", ticket, token)
        claim(agent_api, ticket)
    monkeypatch.setattr(groups, "group_send", real_send)
    assert stored_token(ticket) == token

    # The live pushes and the event log every watcher catches up from.
    assert pushed
    assert all(token not in message["text"] for message in pushed)
    assert all(token not in json.dumps(message["message"]) for message in pushed)
    for event in BoardEvent.objects.filter(board=board):
        assert token not in json.dumps(event.payload)
        assert "claim_token" not in event.payload
    # History, which every reader of the board may read.
    for values in TicketHistory.objects.filter(ticket_id=ticket.pk).values_list(
        "field_name", "old_value", "new_value"
    ):
        assert token not in json.dumps(values)
    # Every read of the ticket, by others and by the holder alike.
    reads = [
        f"/api/tickets/{ticket.pk}",
        f"/api/tickets/?board_id={board.pk}",
        f"/api/boards/{board.pk}/tickets",
        f"/api/comments/ticket/{ticket.pk}",
        f"/api/history/tickets/{ticket.pk}/history",
        f"/api/history/boards/{board.pk}/activity",
    ]
    for client in (api, member_api, agent_api):
        for url in reads:
            response = client.get(url)
            assert response.status_code == 200, (url, response.content)
            assert token not in response.content.decode(), url
            assert "claim_token" not in response.content.decode(), url
    # The board page and its cards, for a person watching.
    for url in (f"/boards/{board.pk}/", f"/boards/{board.pk}/cards/{ticket.pk}/"):
        page = api.get(url)
        assert page.status_code == 200, url
        assert token not in page.content.decode(), url
    # The answers of writes other than claims.
    assert token not in write(agent_api, "edit", ticket, token).content.decode()
    assert token not in write(agent_api, "release", ticket, token).content.decode()


def test_the_fence_is_checked_on_the_locked_row(agent, ticket, monkeypatch):
    """The token is compared with what the row holds under the write's lock, not with a
    read made before it: a claim taken meanwhile is seen."""
    from tickets.services import _writes

    token = ticket_claim(actor=agent, ticket_id=ticket.pk).claim_token
    real_lock = _writes.lock_tickets

    def lock_after_a_reclaim(ids):
        # Another worker of the same identity re-claims between the caller's decision
        # to write and the write's lock.
        Ticket.objects.filter(pk=ticket.pk).update(
            claim_token=UNKNOWN_TOKEN, lease_expires_at=timezone.now() + timedelta(seconds=60)
        )
        real_lock(ids)

    monkeypatch.setattr(_writes, "lock_tickets", lock_after_a_reclaim)
    with pytest.raises(LeaseLost):
        ticket_update(actor=agent, ticket_id=ticket.pk, title="Late", claim_token=token)
    assert Ticket.objects.get(pk=ticket.pk).title == "Write the parser"
