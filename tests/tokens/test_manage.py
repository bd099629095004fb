"""Making and revoking tokens: who may, what is checked, what is recorded — through the
service and through /api/tokens."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import ApiToken
from agents.services import agent_create, token_issue, token_revoke
from audit.models import AuditEvent
from core.errors import Forbidden, InvalidInput, NotFound
from tests.api.envelope import assert_error, error_fields
from tests.factories import make_agent, make_user
from tests.tokens.conftest import bearer, issue, session

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- the service


def test_issue_checks_expiry_and_boards(user, two_boards):
    mine, _, foreign = two_boards
    with pytest.raises(InvalidInput) as past:
        token_issue(
            actor=user, user=user, name="t", expires_at=timezone.now() - timedelta(minutes=1)
        )
    assert [row["field"] for row in past.value.validation_errors] == ["expires_at"]
    with pytest.raises(InvalidInput) as boards:
        token_issue(actor=user, user=user, name="t", board_ids=[mine.pk, foreign.pk, 99_999])
    fields = [row["field"] for row in boards.value.validation_errors]
    # A board the owner may not read looks exactly like one that does not exist.
    assert fields == ["board_ids[1]", "board_ids[2]"]
    assert {row["code"] for row in boards.value.validation_errors} == {"not_found"}
    with pytest.raises(InvalidInput):
        token_issue(actor=user, user=user, name="  ")
    assert not ApiToken.objects.filter(user=user).exists()

    issued = token_issue(
        actor=user,
        user=user,
        name="scoped",
        read_only=True,
        board_ids=[mine.pk],
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert issued.secret.startswith("ak_") and issued.token.prefix == issued.secret[:10]
    assert issued.token.read_only is True
    assert list(issued.token.boards.values_list("pk", flat=True)) == [mine.pk]


def test_people_make_their_own_tokens_and_site_admins_make_agents_tokens(
    user, other_user, admin_user
):
    agent, _ = make_agent("helper-bot")
    with pytest.raises(Forbidden):
        token_issue(actor=user, user=other_user, name="not yours")
    with pytest.raises(Forbidden):
        token_issue(actor=user, user=agent, name="not an admin")
    with pytest.raises(Forbidden):
        token_issue(actor=admin_user, user=user, name="people make their own")
    made = token_issue(actor=admin_user, user=agent, name="for the agent")
    assert made.token.user == agent
    with pytest.raises(Forbidden):
        agent_create(actor=user, username="sneaky-bot")
    assert agent_create(actor=admin_user, username="admin-made-bot").token.user.is_agent


def test_only_the_owner_or_a_site_admin_revokes(user, other_user, admin_user):
    mine = issue(user).token
    with pytest.raises(NotFound):
        token_revoke(actor=other_user, token=mine)
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is None
    token_revoke(actor=admin_user, token=mine)
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    own = issue(user).token
    token_revoke(actor=user, token=own)
    first = ApiToken.objects.get(pk=own.pk).revoked_at
    token_revoke(actor=user, token=own)  # again: nothing changes, nothing recorded
    assert ApiToken.objects.get(pk=own.pk).revoked_at == first
    assert AuditEvent.objects.filter(action="token.revoked", target_id=str(own.pk)).count() == 1


def test_create_and_revoke_are_audited(user, two_boards):
    mine, _, _ = two_boards
    issued = token_issue(
        actor=user, user=user, name="ci", read_only=True, board_ids=[mine.pk], ip="10.0.0.7"
    )
    token_revoke(actor=user, token=issued.token, ip="10.0.0.8")
    created, revoked = AuditEvent.objects.order_by("id").filter(action__startswith="token.")
    assert (created.action, created.actor, created.ip) == ("token.created", user, "10.0.0.7")
    assert created.target_type == "token" and created.target_id == str(issued.token.pk)
    assert created.details["read_only"] is True and created.details["board_ids"] == [mine.pk]
    assert issued.secret not in str(created.details)
    assert (revoked.action, revoked.actor, revoked.ip) == ("token.revoked", user, "10.0.0.8")


# ---------------------------------------------------------------- /api/tokens


def test_create_list_and_revoke_over_rest(user, two_boards):
    mine, _, _ = two_boards
    client = session(user)
    expires = (timezone.now() + timedelta(days=7)).isoformat()
    made = client.post(
        "/api/tokens",
        {"name": "laptop", "read_only": True, "board_ids": [mine.pk], "expires_at": expires},
        format="json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    secret = body["secret"]
    assert secret.startswith(body["prefix"])
    assert (body["name"], body["user"], body["status"]) == ("laptop", "alice", "active")
    assert body["read_only"] is True and body["board_ids"] == [mine.pk]

    listed = client.get("/api/tokens").json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    assert secret not in str(listed)
    assert bearer(secret).get(f"/api/boards/{mine.pk}").status_code == 200

    revoked = client.post(f"/api/tokens/{body['id']}/revoke")
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    assert_error(bearer(secret).get(f"/api/boards/{mine.pk}"), 401)
    assert client.get(f"/api/tokens/{body['id']}").json()["status"] == "revoked"


def test_rest_refuses_bad_input_in_the_envelope(user, two_boards):
    _, _, foreign = two_boards
    client = session(user)
    past = (timezone.now() - timedelta(days=1)).isoformat()
    error = assert_error(
        client.post("/api/tokens", {"name": "x", "expires_at": past}, format="json"), 400
    )
    assert error_fields(error) == {"expires_at"}
    error = assert_error(
        client.post("/api/tokens", {"name": "x", "board_ids": [foreign.pk]}, format="json"), 400
    )
    assert error_fields(error) == {"board_ids[0]"}
    error = assert_error(
        client.post("/api/tokens", {"name": "x", "scope": "all"}, format="json"), 400
    )
    assert error_fields(error) == {"scope"}
    assert_error(client.post("/api/tokens", {}, format="json"), 400)
    assert not ApiToken.objects.filter(user=user).exists()


def test_other_peoples_tokens_do_not_exist(user, other_user):
    theirs = issue(other_user).token
    client = session(user)
    assert_error(client.get(f"/api/tokens/{theirs.pk}"), 404)
    assert_error(client.post(f"/api/tokens/{theirs.pk}/revoke"), 404)
    assert_error(client.get("/api/tokens?user=bob"), 404)
    made = client.post("/api/tokens", {"name": "for bob", "user": "bob"}, format="json")
    assert_error(made, 404)
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None


def test_site_admin_manages_an_agents_tokens(admin_user, scoped_agent, two_boards):
    mine, _, foreign = two_boards
    client = session(admin_user)
    made = client.post(
        "/api/tokens",
        {"name": "deploy", "user": "scoped-bot", "board_ids": [mine.pk]},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["user"] == "scoped-bot"
    # The agent's boards count, not the admin's.
    refused = client.post(
        "/api/tokens",
        {"name": "x", "user": "scoped-bot", "board_ids": [foreign.pk]},
        format="json",
    )
    assert error_fields(assert_error(refused, 400)) == {"board_ids[0]"}
    listed = client.get("/api/tokens?user=scoped-bot").json()["items"]
    assert {item["name"] for item in listed} == {"deploy", "default"}
    revoked = client.post(f"/api/tokens/{made.json()['id']}/revoke")
    assert revoked.json()["status"] == "revoked"
    audit = AuditEvent.objects.get(action="token.revoked")
    assert audit.actor == admin_user and audit.details["owner_id"] == scoped_agent.pk


def test_tokens_made_with_a_token_are_no_stronger(scoped_agent, two_boards):
    mine, also, _ = two_boards
    read_only = bearer(issue(scoped_agent, read_only=True).secret)
    assert_error(
        read_only.post("/api/tokens", {"name": "x"}, format="json"), 403, "token_read_only"
    )

    ends = timezone.now() + timedelta(days=2)
    limited = bearer(issue(scoped_agent, board_ids=[mine.pk], expires_at=ends).secret)
    outside = limited.post("/api/tokens", {"name": "x", "board_ids": [also.pk]}, format="json")
    assert error_fields(assert_error(outside, 400)) == {"board_ids[0]"}
    later = (ends + timedelta(days=1)).isoformat()
    too_long = limited.post("/api/tokens", {"name": "x", "expires_at": later}, format="json")
    assert error_fields(assert_error(too_long, 400)) == {"expires_at"}
    child = limited.post("/api/tokens", {"name": "child"}, format="json")
    assert child.status_code == 201, child.content
    assert child.json()["board_ids"] == [mine.pk]
    token = ApiToken.objects.get(pk=child.json()["id"])
    assert token.expires_at == ends


def test_the_schema_documents_the_token_endpoints(user):
    schema = session(user).get("/api/schema", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    tokens = next(value for key, value in paths.items() if key.rstrip("/") == "/api/tokens")
    assert {"get", "post"} <= set(tokens)
    assert any(key.startswith("/api/tokens/") and "revoke" in key for key in paths)
    created = schema["components"]["schemas"]["TokenCreated"]
    assert "secret" in created["properties"]


def test_the_create_command_makes_limited_tokens(capsys, user, two_boards):
    from django.core.management import call_command

    mine, _, _ = two_boards
    call_command("create_token", "alice", "--name", "cli", "--read-only", "--board", str(mine.pk))
    token = ApiToken.objects.get(user=user, name="cli")
    assert token.read_only and list(token.boards.values_list("pk", flat=True)) == [mine.pk]
    secret = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ak_"))
    assert bearer(secret).get(f"/api/boards/{mine.pk}").status_code == 200
    audit = AuditEvent.objects.get(action="token.created")
    assert audit.actor is None and audit.details["owner"] == "alice"
    other = make_user("carol")
    with pytest.raises(Exception, match="No board with id 999999"):
        call_command("create_token", "carol", "--board", str(mine.pk), "--board", "999999")
    assert not ApiToken.objects.filter(user=other).exists()
    assert not other.board_memberships.exists()
