"""Who is calling: the session login at /api/users/session, and bearer tokens."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import ApiToken
from agents.services import token_issue, token_revoke
from history.models import TicketHistory
from tests.api.envelope import assert_error
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse 42"  # tests.factories.make_user's default


def csrf_client() -> APIClient:
    return APIClient(enforce_csrf_checks=True)


def log_in(client: APIClient, username: str = "alice", password: str = PASSWORD):
    return client.post(
        "/api/users/session", {"username": username, "password": password}, format="json"
    )


def bearer(secret: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


# ---------------------------------------------------------------- session


def test_login_sets_a_session_that_works_with_csrf(user):
    client = csrf_client()

    response = log_in(client)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["username"], body["kind"], body["is_admin"]) == ("alice", "human", False)
    assert body["csrf_token"]
    assert response.cookies[settings.SESSION_COOKIE_NAME].value
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]

    me = client.get("/api/users/session")
    assert me.status_code == 200 and me.json()["username"] == "alice"

    # A write on a session needs the CSRF token...
    refused = client.post("/api/boards/", {"name": "No token"}, format="json")
    error = assert_error(refused, 403, "permission_denied")
    assert "CSRF" in error["message"]
    # ...and works with it.
    created = client.post(
        "/api/boards/", {"name": "With token"}, format="json", HTTP_X_CSRFTOKEN=body["csrf_token"]
    )
    assert created.status_code == 201, created.content
    assert created.json()["created_by"] == "alice"


def test_logout_ends_the_session(user):
    client = csrf_client()
    token = log_in(client).json()["csrf_token"]

    assert_error(client.delete("/api/users/session"), 403)  # no CSRF token: still logged in
    assert client.get("/api/users/session").status_code == 200
    assert client.delete("/api/users/session", HTTP_X_CSRFTOKEN=token).status_code == 204

    assert_error(client.get("/api/users/session"), 401, "not_authenticated")
    assert_error(client.get("/api/boards/"), 401, "not_authenticated")


def test_admin_login_says_so(admin_user):
    body = log_in(csrf_client(), "root").json()
    assert body["is_admin"] is True


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("alice", ""), ("ALICE ", PASSWORD)],
)
def test_wrong_credentials_are_401(user, username, password):
    response = log_in(csrf_client(), username, password)
    if password == "":
        assert_error(response, 400, "invalid")
    else:
        assert_error(response, 401, "invalid_credentials")
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_inactive_user_and_agent_cannot_log_in(agent_with_token):
    make_user("gone", is_active=False)
    assert_error(log_in(csrf_client(), "gone"), 401, "invalid_credentials")
    assert_error(log_in(csrf_client(), "claude-1", ""), 400)
    assert_error(log_in(csrf_client(), "claude-1", "anything"), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "payload",
    [{}, {"username": "alice"}, {"password": PASSWORD}, {"username": "", "password": "x"}],
)
def test_login_with_missing_fields_is_400(user, payload):
    response = csrf_client().post("/api/users/session", payload, format="json")
    error = assert_error(response, 400, "invalid")
    assert error["validation_errors"]


def test_session_get_without_login_is_401(anon):
    response = anon.get("/api/users/session")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------- bearer tokens


def test_valid_token_identifies_the_agent_and_needs_no_csrf(agent_with_token, board):
    _, secret = agent_with_token
    client = bearer(secret)

    me = client.get("/api/users/session").json()
    assert (me["username"], me["kind"]) == ("claude-1", "agent")
    response = client.post("/api/tickets/", {"board_id": board.pk, "title": "T"}, format="json")
    assert response.status_code == 201, response.content


def test_token_use_sets_last_used_at(agent_with_token):
    agent, secret = agent_with_token
    token = ApiToken.objects.get(user=agent)
    assert token.last_used_at is None
    before = timezone.now()

    assert bearer(secret).get("/api/boards/").status_code == 200

    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at >= before


def test_revoked_token_is_401(agent_with_token):
    agent, secret = agent_with_token
    token_revoke(actor=None, token=ApiToken.objects.get(user=agent))
    response = bearer(secret).get("/api/boards/")
    error = assert_error(response, 401, "authentication_failed")
    assert "revoked" in error["message"]
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_expired_token_is_401_and_a_current_one_works(agent_with_token):
    agent, _ = agent_with_token
    expired = token_issue(actor=None, user=agent, name="old")
    # A token cannot be made already expired: it expires after it is made.
    ApiToken.objects.filter(pk=expired.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    current = token_issue(
        actor=None, user=agent, name="new", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert_error(bearer(expired.secret).get("/api/boards/"), 401, "authentication_failed")
    assert bearer(current.secret).get("/api/boards/").status_code == 200


def test_token_of_an_inactive_user_is_401():
    person = make_user("left", is_active=False)
    issued = token_issue(actor=None, user=person, name="script")
    assert_error(bearer(issued.secret).get("/api/boards/"), 401, "authentication_failed")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer ak_unknown",
        "bearer ak_unknown",
        "Bearer ak_caf\u00e9",
    ],
)
def test_malformed_or_unknown_bearer_header_is_401(agent_with_token, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/boards/")
    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_other_schemes_fall_back_to_not_authenticated(agent_with_token):
    _, secret = agent_with_token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert_error(client.get("/api/boards/"), 401, "not_authenticated")


# ---------------------------------------------------------------- attribution


def test_writes_with_a_token_are_attributed_to_the_agent(agent_api, board):
    response = agent_api.post(
        "/api/tickets/", {"board_id": board.pk, "title": "By the agent"}, format="json"
    )
    assert response.status_code == 201, response.content
    ticket = response.json()
    assert ticket["created_by"] == "claude-1"
    moved = agent_api.post(f"/api/tickets/{ticket['id']}/move", {"column": "Done"}, format="json")
    assert moved.status_code == 200, moved.content

    history = agent_api.get(f"/api/history/tickets/{ticket['id']}/history").json()["items"]
    assert history and {row["changed_by"] for row in history} == {"claude-1"}
    assert set(
        TicketHistory.objects.filter(ticket_id=ticket["id"]).values_list(
            "changed_by__username", flat=True
        )
    ) == {"claude-1"}
    stats = agent_api.get("/api/history/stats").json()
    assert stats["by_actor"] == [{"username": "claude-1", "kind": "agent", "count": len(history)}]
