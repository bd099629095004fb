"""The bad-input corpus through the main REST write endpoints: every hostile value is
either refused with a 4xx in the error envelope, leaving the database exactly as it was,
or (valid text) accepted and stored as sent. Never a 5xx."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from tests.factories import make_board, make_ticket
from tests.security.corpus import BAD_NUMBERS, BAD_TEXT, RAW_BODIES, TEXT
from tests.security.envelope import assert_error
from tests.security.snapshot import changed_tables, database_rows

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class World:
    board: object
    ticket: object
    column_ids: list[int]


@pytest.fixture
def world(user) -> World:
    board = make_board(user, "Target", columns=["Backlog", "Doing", "Done"])
    ticket = make_ticket(user, board, "Victim", labels=["api"])
    return World(board, ticket, list(board.columns.values_list("pk", flat=True)))


@dataclass(frozen=True)
class Write:
    """One write endpoint with the hostile value in one place. `stores`: valid text sent
    there is free text that must be accepted and come back unchanged."""

    method: str
    url: Callable[[World], str]
    body: Callable[[World, object], dict]
    stores: bool = False


def _limits(world: World, value) -> dict:
    return {
        "columns": [{"id": pk, "name": f"C{pk}", "wip_limit": value} for pk in world.column_ids]
    }


def _columns(world: World, value) -> dict:
    kept = [{"id": pk, "name": name} for pk, name in zip(world.column_ids, "BDF", strict=True)]
    return {"columns": [*kept, {"name": value}]}


TEXT_WRITES = {
    "board_create.name": Write(
        "post", lambda w: "/api/boards/", lambda w, v: {"name": v}, stores=True
    ),
    "board_create.description": Write(
        "post", lambda w: "/api/boards/", lambda w, v: {"name": "B", "description": v}, True
    ),
    "board_create.columns": Write(
        "post", lambda w: "/api/boards/", lambda w, v: {"name": "B", "columns": ["A", v]}
    ),
    "board_update.name": Write(
        "patch", lambda w: f"/api/boards/{w.board.pk}", lambda w, v: {"name": v}, True
    ),
    "board_columns.name": Write("put", lambda w: f"/api/boards/{w.board.pk}/columns", _columns),
    "ticket_create.title": Write(
        "post", lambda w: "/api/tickets/", lambda w, v: {"board_id": w.board.pk, "title": v}, True
    ),
    "ticket_create.description": Write(
        "post",
        lambda w: "/api/tickets/",
        lambda w, v: {"board_id": w.board.pk, "title": "T", "description": v},
        True,
    ),
    "ticket_create.labels": Write(
        "post",
        lambda w: "/api/tickets/",
        lambda w, v: {"board_id": w.board.pk, "title": "T", "labels": [v]},
    ),
    "ticket_create.column": Write(
        "post",
        lambda w: "/api/tickets/",
        lambda w, v: {"board_id": w.board.pk, "title": "T", "column": v},
    ),
    "ticket_create.assignee": Write(
        "post",
        lambda w: "/api/tickets/",
        lambda w, v: {"board_id": w.board.pk, "title": "T", "assignee": v},
    ),
    "ticket_update.title": Write(
        "patch", lambda w: f"/api/tickets/{w.ticket.pk}", lambda w, v: {"title": v}, True
    ),
    "ticket_update.acceptance_criteria": Write(
        "patch",
        lambda w: f"/api/tickets/{w.ticket.pk}",
        lambda w, v: {"acceptance_criteria": v},
        True,
    ),
    "ticket_move.column": Write(
        "post", lambda w: f"/api/tickets/{w.ticket.pk}/move", lambda w, v: {"column": v}
    ),
    "comment_create.text": Write(
        "post", lambda w: "/api/comments/", lambda w, v: {"ticket_id": w.ticket.pk, "text": v}, True
    ),
    "bulk_move.column": Write(
        "post",
        lambda w: "/api/bulk/tickets/move",
        lambda w, v: {"ticket_ids": [w.ticket.pk], "column": v},
    ),
    "bulk_assign.assignee": Write(
        "post",
        lambda w: "/api/bulk/tickets/assign",
        lambda w, v: {"ticket_ids": [w.ticket.pk], "assignee": v},
    ),
    "bulk_priority.priority": Write(
        "post",
        lambda w: "/api/bulk/tickets/priority",
        lambda w, v: {"ticket_ids": [w.ticket.pk], "priority": v},
    ),
    "claim_next.column": Write(
        "post", lambda w: f"/api/boards/{w.board.pk}/claim-next", lambda w, v: {"column": v}
    ),
    "claim_next.labels": Write(
        "post", lambda w: f"/api/boards/{w.board.pk}/claim-next", lambda w, v: {"labels": [v]}
    ),
}

NUMBER_WRITES = {
    "ticket_create.board_id": Write(
        "post", lambda w: "/api/tickets/", lambda w, v: {"board_id": v, "title": "T"}
    ),
    "ticket_update.version": Write(
        "patch", lambda w: f"/api/tickets/{w.ticket.pk}", lambda w, v: {"title": "T", "version": v}
    ),
    "ticket_move.position_before": Write(
        "post",
        lambda w: f"/api/tickets/{w.ticket.pk}/move",
        lambda w, v: {"column": "Doing", "position": {"before": v}},
    ),
    "board_columns.wip_limit": Write(
        "put",
        lambda w: f"/api/boards/{w.board.pk}/columns",
        lambda w, v: {
            "columns": [{"id": pk, "name": f"C{pk}", "wip_limit": v} for pk in w.column_ids]
        },
    ),
    "comment_create.ticket_id": Write(
        "post", lambda w: "/api/comments/", lambda w, v: {"ticket_id": v, "text": "hi"}
    ),
    "bulk_move.ticket_ids": Write(
        "post",
        lambda w: "/api/bulk/tickets/move",
        lambda w, v: {"ticket_ids": [v], "column": "Done"},
    ),
    "claim.lease_seconds": Write(
        "post", lambda w: f"/api/tickets/{w.ticket.pk}/claim", lambda w, v: {"lease_seconds": v}
    ),
    "claim_next.lease_seconds": Write(
        "post", lambda w: f"/api/boards/{w.board.pk}/claim-next", lambda w, v: {"lease_seconds": v}
    ),
    "dependencies.blocked_by": Write(
        "put",
        lambda w: f"/api/tickets/{w.ticket.pk}/dependencies",
        lambda w, v: {"blocked_by": [v]},
    ),
}

RAW_TARGETS = {
    "board_create": ("post", lambda w: "/api/boards/"),
    "ticket_create": ("post", lambda w: "/api/tickets/"),
    "ticket_update": ("patch", lambda w: f"/api/tickets/{w.ticket.pk}"),
    "comment_create": ("post", lambda w: "/api/comments/"),
    "bulk_move": ("post", lambda w: "/api/bulk/tickets/move"),
    "claim": ("post", lambda w: f"/api/tickets/{w.ticket.pk}/claim"),
}


def send(api: APIClient, method: str, url: str, body) -> object:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return getattr(api, method)(url, raw, content_type="application/json")


def strings_in(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(strings_in(item) for item in value)) if value else set()
    return set()


def assert_refused_cleanly(api: APIClient, method: str, url: str, body) -> dict:
    before = database_rows()
    response = send(api, method, url, body)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    error = assert_error(response, response.status_code)
    assert not changed_tables(before, database_rows()), error
    return error


@pytest.mark.parametrize("value_name", TEXT)
@pytest.mark.parametrize("write_name", TEXT_WRITES)
def test_valid_text_is_refused_cleanly_or_stored_as_sent(api, world, write_name, value_name):
    write, value = TEXT_WRITES[write_name], TEXT[value_name]
    before = database_rows()
    response = send(api, write.method, write.url(world), write.body(world, value))
    if write.stores:
        assert response.status_code in (200, 201), response.content[:500]
    if response.status_code >= 400:
        assert response.status_code < 500, response.content[:500]
        assert_error(response, response.status_code)
        assert not changed_tables(before, database_rows())
    else:
        assert response.status_code in (200, 201), response.content[:500]
        if write.stores:
            stored = strings_in(response.json())
            assert value in stored or value.strip() in stored, stored


@pytest.mark.parametrize("value_name", BAD_TEXT)
@pytest.mark.parametrize("write_name", TEXT_WRITES)
def test_bad_text_is_refused_and_nothing_is_stored(api, world, write_name, value_name):
    write = TEXT_WRITES[write_name]
    assert_refused_cleanly(
        api, write.method, write.url(world), write.body(world, BAD_TEXT[value_name])
    )


@pytest.mark.parametrize("value_name", BAD_NUMBERS)
@pytest.mark.parametrize("write_name", NUMBER_WRITES)
def test_bad_numbers_are_refused_and_nothing_is_stored(
    api, agent_api, world, write_name, value_name
):
    write = NUMBER_WRITES[write_name]
    assert_refused_cleanly(
        api, write.method, write.url(world), write.body(world, BAD_NUMBERS[value_name])
    )


@pytest.mark.parametrize("body_name", RAW_BODIES)
@pytest.mark.parametrize("target", RAW_TARGETS)
def test_unreadable_bodies_are_refused_and_nothing_is_stored(api, world, target, body_name):
    method, url = RAW_TARGETS[target]
    error = assert_refused_cleanly(api, method, url(world), RAW_BODIES[body_name])
    assert "Traceback" not in error["message"] and "SELECT" not in error["message"]


def test_a_refused_bulk_write_changes_none_of_its_tickets(api, user, world):
    """One bad id among good ones: the whole batch is refused, not half applied."""
    other = make_ticket(user, world.board, "Second")
    body = {"ticket_ids": [world.ticket.pk, other.pk, 2**64], "column": "Done"}
    assert_refused_cleanly(api, "post", "/api/bulk/tickets/move", body)
