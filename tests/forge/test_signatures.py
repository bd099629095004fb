"""Each hook takes only deliveries proved the forge's own way with the board's secret:
a bad or missing proof, or a board without that forge's secret, is 401 in the API's error
shape, and a board that does not exist answers word for word the same."""

import json

import pytest
from django.test import Client

from forge.services import forge_settings_update
from tests.factories import make_ticket
from tests.forge.helpers import SECRETS, deliver, sample, signed_headers
from tests.tickets.helpers import assert_error
from tickets.models import TicketLink

pytestmark = pytest.mark.django_db

PUSHES = [("github", "push", "push"), ("gitlab", "push", "Push Hook"), ("gitea", "push", "push")]


def mentioning_push(forge: str, name: str, ticket_id: int) -> dict:
    payload = sample(forge, name)
    payload["commits"][0]["message"] += f" (AK-{ticket_id})"
    return payload


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Signed work")


@pytest.mark.parametrize("forge,name,event", PUSHES)
def test_a_delivery_signed_with_the_boards_secret_is_taken(forge, name, event, board, ticket):
    response = deliver(forge, board.pk, mentioning_push(forge, name, ticket.pk), event)
    assert response.status_code == 200, response.content
    assert [row["ticket_id"] for row in response.json()["linked"]] == [ticket.pk]
    assert TicketLink.objects.filter(ticket=ticket, kind="commit").count() == 1


@pytest.mark.parametrize("forge,name,event", PUSHES)
@pytest.mark.parametrize("secret", ["another secret 0123", None], ids=["wrong", "missing"])
def test_a_wrong_or_missing_proof_is_401(forge, name, event, secret, board, ticket):
    response = deliver(
        forge, board.pk, mentioning_push(forge, name, ticket.pk), event, secret=secret
    )
    assert_error(response, 401, code="bad_signature")
    assert not TicketLink.objects.exists()


@pytest.mark.parametrize("forge,name,event", [PUSHES[0], PUSHES[2]])
def test_a_body_changed_after_signing_is_401(forge, name, event, board, ticket):
    payload = mentioning_push(forge, name, ticket.pk)
    headers = signed_headers(forge, json.dumps(payload).encode(), SECRETS[forge], event, "d-1")
    payload["commits"][0]["message"] += " and more"
    response = deliver(forge, board.pk, payload, event, secret=None, headers=headers)
    assert_error(response, 401, code="bad_signature")


@pytest.mark.parametrize("forge,name,event", PUSHES)
def test_a_board_without_the_forges_secret_refuses_every_delivery(
    forge, name, event, user, board, ticket
):
    forge_settings_update(actor=user, board_id=board.pk, **{f"{forge}_secret": None})
    for secret in ("default", "", None):
        response = deliver(
            forge, board.pk, mentioning_push(forge, name, ticket.pk), event, secret=secret
        )
        assert_error(response, 401, code="bad_signature")


@pytest.mark.parametrize("forge", ["github", "gitlab", "gitea"])
def test_an_unknown_board_answers_as_a_board_without_a_secret(forge, user, board):
    bare = deliver(forge, board.pk, {}, "push", secret=None).json()["error"]
    forge_settings_update(actor=user, board_id=board.pk, **{f"{forge}_secret": None})
    unset = deliver(forge, board.pk, {}, "push").json()["error"]
    for missing in (999_999, 2**70):
        response = deliver(forge, missing, {}, "push")
        assert response.status_code == 401
        assert response.json()["error"]["message"] == unset["message"] == bare["message"]


def test_a_hook_needs_no_session_nor_csrf_and_ignores_one(client, user, board, ticket):
    """A signed-in browser posting to the hook gains nothing: the proof decides."""
    client.force_login(user)
    client.handler.enforce_csrf_checks = True
    response = client.post(f"/api/hooks/github/{board.pk}", b"{}", content_type="application/json")
    assert_error(response, 401, code="bad_signature")


def test_only_post_and_only_known_forges(board):
    assert Client().get(f"/api/hooks/github/{board.pk}").status_code == 405
    assert Client().post(f"/api/hooks/bitbucket/{board.pk}").status_code == 404
