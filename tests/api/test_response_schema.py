"""What the API returns for tickets, boards and comments is what the published OpenAPI
document says: each response validates against the schema of its operation, and each
object has exactly the schema's properties, in their order. The serializers declare
those properties; the apps' representation functions produce the objects; this holds
the two in step."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker

from boards.models import BoardEvent
from comments.services import comment_create
from tests.factories import add_member, make_agent, make_board, make_ticket
from tickets.models import Ticket
from tickets.services import ticket_claim, ticket_move, ticket_set_dependencies

pytestmark = pytest.mark.django_db

ISO_WITH_OFFSET = FormatChecker()


@ISO_WITH_OFFSET.checks("date-time", raises=ValueError)
def _is_iso_8601_with_offset(value) -> bool:
    """Design rule 6: ISO 8601 with an offset (jsonschema's own check needs a package)."""
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value).utcoffset() is not None


@pytest.fixture
def openapi(anon) -> dict:
    response = anon.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def as_json_schema(node, components: dict):
    """An OpenAPI 3.0 schema as JSON Schema: `$ref`s inlined, `nullable` as a null type."""
    if isinstance(node, list):
        return [as_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return as_json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components)
    converted = {
        key: as_json_schema(value, components) for key, value in node.items() if key != "nullable"
    }
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
    return converted


def assert_matches(openapi: dict, response, path: str, method: str = "get") -> None:
    """`response` is what `path` (a template of the document) answers with its status."""
    status = str(response.status_code)
    operation = openapi["paths"][path][method]
    assert status in operation["responses"], f"{method} {path} documents no {status}"
    declared = operation["responses"][status]["content"]["application/json"]["schema"]
    schema = as_json_schema(declared, openapi["components"]["schemas"])
    Draft202012Validator(schema, format_checker=ISO_WITH_OFFSET).validate(response.json())


def assert_exact_properties(openapi: dict, component: str, objects: list[dict]) -> None:
    """No field the schema leaves out, none missing, in the schema's order."""
    properties = list(openapi["components"]["schemas"][component]["properties"])
    assert objects
    for shown in objects:
        assert list(shown) == properties


@pytest.fixture
def varied(user):
    """A board whose tickets show each state: claimed, blocked, finished, lapsed, bare."""
    board = make_board(user, "Schema", columns=["Todo", "Doing", "Done"], description="Why")
    agent, _ = make_agent()
    add_member(board, agent, "agent")
    bare = make_ticket(user, board, "Bare")
    dressed = make_ticket(
        user, board, "Dressed", priority="high", assignee=user.username, labels=["b", "a"]
    )
    finished = make_ticket(user, board, "Finished")
    ticket_move(actor=user, ticket_id=finished.pk, column="Done")
    ticket_claim(actor=agent, ticket_id=dressed.pk, lease_seconds=600)
    ticket_set_dependencies(actor=user, ticket_id=dressed.pk, blocked_by=[bare.pk, finished.pk])
    lapsed = make_ticket(user, board, "Lapsed")
    ticket_claim(actor=agent, ticket_id=lapsed.pk, lease_seconds=600)
    Ticket.objects.filter(pk=lapsed.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=5)
    )
    comment_create(actor=user, ticket_id=dressed.pk, text="First")
    comment_create(actor=agent, ticket_id=dressed.pk, text="Second")
    agent.delete()  # a comment whose author is gone shows `author: null`
    return {"board": board, "dressed": dressed, "bare": bare}


def test_ticket_responses_match_the_schema(api, openapi, varied):
    board, dressed = varied["board"], varied["dressed"]
    one = api.get(f"/api/tickets/{dressed.pk}/")
    assert_matches(openapi, one, "/api/tickets/{id}/")
    listed = api.get("/api/tickets/", {"board_id": board.pk})
    assert_matches(openapi, listed, "/api/tickets/")
    on_board = api.get(f"/api/boards/{board.pk}/tickets/")
    assert_matches(openapi, on_board, "/api/boards/{id}/tickets/")
    created = api.post("/api/tickets/", {"board_id": board.pk, "title": "New"}, format="json")
    assert_matches(openapi, created, "/api/tickets/", "post")
    moved = api.post(f"/api/tickets/{created.json()['id']}/move/", {"column": "Doing"})
    assert_matches(openapi, moved, "/api/tickets/{id}/move/", "post")
    tickets = [one.json(), *listed.json()["items"], *on_board.json(), created.json()]
    assert len({ticket["title"] for ticket in tickets}) == 5
    assert_exact_properties(openapi, "Ticket", tickets)


def test_board_responses_match_the_schema(api, openapi, varied):
    board = varied["board"]
    one = api.get(f"/api/boards/{board.pk}/")
    assert_matches(openapi, one, "/api/boards/{id}/")
    listed = api.get("/api/boards/")
    assert_matches(openapi, listed, "/api/boards/")
    created = api.post("/api/boards/", {"name": "Another"}, format="json")
    assert_matches(openapi, created, "/api/boards/", "post")
    patched = api.patch(f"/api/boards/{board.pk}/", {"description": ""}, format="json")
    assert_matches(openapi, patched, "/api/boards/{id}/", "patch")
    boards = [one.json(), *listed.json()["items"], created.json(), patched.json()]
    assert_exact_properties(openapi, "Board", boards)


def test_comment_responses_match_the_schema(api, openapi, varied):
    dressed = varied["dressed"]
    listed = api.get(f"/api/comments/ticket/{dressed.pk}/")
    assert_matches(openapi, listed, "/api/comments/ticket/{ticket_id}/")
    assert [row["author"] for row in listed.json()["items"]] == ["alice", None]
    created = api.post("/api/comments/", {"ticket_id": dressed.pk, "text": "Third"})
    assert_matches(openapi, created, "/api/comments/", "post")
    one = api.get(f"/api/comments/{created.json()['id']}/")
    assert_matches(openapi, one, "/api/comments/{id}/")
    comments = [*listed.json()["items"], created.json(), one.json()]
    assert_exact_properties(openapi, "Comment", comments)


def test_event_payloads_are_the_response_objects(api, varied):
    """Board events carry the very objects the API returns."""
    board, bare = varied["board"], varied["bare"]
    events = BoardEvent.objects.filter(board=board).order_by("seq")
    payloads = [(event.type, event.payload) for event in events]
    last_of_bare = [body for kind, body in payloads if body.get("title") == "Bare"][-1]
    assert last_of_bare == api.get(f"/api/tickets/{bare.pk}/").json()
    first_comment = next(body for kind, body in payloads if kind == "comment_added")
    assert first_comment == api.get(f"/api/comments/{first_comment['id']}/").json()
