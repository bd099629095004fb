"""Rules the server keeps are stated in the OpenAPI document, exactly as it keeps them:
each test reads the rule from /api/schema/ and checks the server against it."""

import re

import pytest

from tests.api.envelope import assert_error, error_fields
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api) -> dict:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def body_field(schema: dict, path: str, method: str, field: str) -> dict:
    content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
    return resolve(schema, content["schema"])["properties"][field]


def body_required(schema: dict, path: str, method: str) -> set[str]:
    content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
    return set(resolve(schema, content["schema"]).get("required", []))


def query_parameter(schema: dict, path: str, name: str) -> dict:
    parameters = schema["paths"][path]["get"]["parameters"]
    return next(p for p in parameters if p["name"] == name and p["in"] == "query")["schema"]


# ---------------------------------------------------------------- 1. statistics periods

STATS_PATHS = ["drag-drop/metrics", "flow", "performance", "statistics"]


@pytest.mark.parametrize("endpoint", STATS_PATHS)
def test_stats_period_parameters_are_stated(schema, endpoint):
    path = f"/api/statistics/boards/{{board_id}}/{endpoint}/"
    days = query_parameter(schema, path, "days")
    assert (days["type"], days["minimum"], days["maximum"]) == ("integer", 1, 3660)
    for name in ("from", "to"):
        assert query_parameter(schema, path, name) == {"type": "string", "format": "date"}


@pytest.mark.parametrize(
    "query, status",
    [
        ("days=1", 200),
        ("days=3660", 200),
        ("days=0", 400),
        ("days=-4", 400),
        ("days=3661", 400),
        ("from=2026-01-01&to=2026-01-31", 200),
        ("from=yesterday", 400),
        ("to=", 400),  # not a date, as the document says (not read as absent)
        ("days=", 400),
    ],
)
def test_stats_period_parameters_are_kept(api, board, query, status):
    response = api.get(f"/api/statistics/boards/{board.pk}/flow/?{query}")
    if status == 200:
        assert response.status_code == 200, response.content
    else:
        assert_error(response, 400)


# ---------------------------------------------------------------- 2. ticket search


@pytest.mark.parametrize("query", ["priority=", "board_id=", "column="])
def test_empty_ticket_filters_are_values_not_absent(api, query):
    assert_error(api.get(f"/api/tickets/?{query}"), 400)


def test_an_empty_search_is_stated_and_means_no_filter(schema, api, user, board):
    assert query_parameter(schema, "/api/tickets/", "q").get("minLength", 0) == 0
    make_ticket(user, board, title="Findable")
    response = api.get(f"/api/tickets/?board_id={board.pk}&q=")
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["items"] if isinstance(body, dict) else body
    assert [row["title"] for row in rows] == ["Findable"]


# ---------------------------------------------------------------- 3. board columns


def test_board_column_names_are_strings(schema, api):
    columns = body_field(schema, "/api/boards/", "post", "columns")
    assert columns["items"]["type"] == "string" and columns["minItems"] == 1
    error = assert_error(api.post("/api/boards/", {"name": "B", "columns": [0]}, "json"), 400)
    assert any(field.startswith("columns") for field in error_fields(error)), error
    assert api.post("/api/boards/", {"name": "B", "columns": ["0"]}, "json").status_code == 201
    for body in ({"name": 0}, {"name": "B", "description": 0}):
        assert_error(api.post("/api/boards/", body, "json"), 400)


def test_columns_update_states_min_items(schema, api, board):
    columns = body_field(schema, "/api/boards/{id}/columns/", "put", "columns")
    assert columns["minItems"] == 1
    assert_error(api.put(f"/api/boards/{board.pk}/columns/", {"columns": []}, "json"), 400)
    column = resolve(schema, columns["items"])["properties"]["name"]
    assert column["type"] == "string"
    body = {"columns": [{"name": 7}, {"name": "Done"}]}
    assert_error(api.put(f"/api/boards/{board.pk}/columns/", body, "json"), 400)


# ---------------------------------------------------------------- 4. webhook URLs


def test_webhook_url_rule_is_stated(schema):
    for method, path in [
        ("post", "/api/boards/{board_id}/webhooks/"),
        ("patch", "/api/boards/{board_id}/webhooks/{webhook_id}/"),
    ]:
        url = body_field(schema, path, method, "url")
        assert url["format"] == "uri" and url["maxLength"] == 2000
        pattern = re.compile(url["pattern"])
        assert pattern.search("https://example.com/hook?x=1")
        assert pattern.search("HTTP://example.com")
        for refused in ["0", "ftp://example.com", "http://", "http://u:p@example.com/"]:
            assert not pattern.search(refused), refused


@pytest.mark.parametrize("url", ["0", "ftp://example.com/", "http://u:p@example.com/"])
def test_webhook_urls_outside_the_pattern_are_refused(schema, api, board, url):
    pattern = body_field(schema, "/api/boards/{board_id}/webhooks/", "post", "url")["pattern"]
    assert not re.search(pattern, url)
    response = api.post(f"/api/boards/{board.pk}/webhooks/", {"url": url}, "json")
    assert_error(response, 400)


def test_webhook_events_rule_is_stated_and_kept(schema, api, board):
    events = body_field(schema, "/api/boards/{board_id}/webhooks/", "post", "events")
    every, known = events["oneOf"]
    assert every["items"]["enum"] == ["*"] and every["maxItems"] == 1
    assert "ticket_created" in known["items"]["enum"] and known["minItems"] == 1
    url = f"/api/boards/{board.pk}/webhooks/"
    for refused in [[], ["nope"], ["*", "ticket_created"]]:
        body = {"url": "https://example.com/hook", "events": refused}
        assert_error(api.post(url, body, "json"), 400)


# ---------------------------------------------------------------- 5. ticket positions

POSITION_PATHS = [("post", "/api/tickets/"), ("post", "/api/tickets/{id}/move/")]


@pytest.mark.parametrize("method, path", POSITION_PATHS)
def test_position_is_stated_exactly(schema, method, path):
    position = body_field(schema, path, method, "position")
    assert not position.get("nullable")
    top, before, after = position["oneOf"]
    assert top == {"type": "string", "enum": ["top", "bottom"]}
    for where, option in (("before", before), ("after", after)):
        assert option["required"] == [where]
        assert option["additionalProperties"] is False
        assert option["properties"][where]["type"] == "integer"


@pytest.mark.parametrize(
    "position", [{}, None, "middle", {"before": 1, "after": 2}, {"before": "1"}, {"after": 0}]
)
def test_positions_outside_the_document_are_refused(api, user, board, position):
    ticket = make_ticket(user, board)
    move = {"column": "Backlog", "position": position}
    error = assert_error(api.post(f"/api/tickets/{ticket.pk}/move/", move, "json"), 400)
    assert "position" in error_fields(error), error
    create = {"board_id": board.pk, "title": "New", "position": position}
    error = assert_error(api.post("/api/tickets/", create, "json"), 400)
    assert "position" in error_fields(error), error


def test_positions_in_the_document_are_accepted(api, user, board):
    anchor = make_ticket(user, board)
    for position in ["top", "bottom", {"before": anchor.pk}, {"after": anchor.pk}]:
        body = {"board_id": board.pk, "title": "New", "position": position}
        assert api.post("/api/tickets/", body, "json").status_code == 201, position


# ---------------------------------------------------------------- 6. lease_seconds

LEASE_PATHS = [
    "/api/tickets/{id}/claim/",
    "/api/tickets/{id}/heartbeat/",
    "/api/boards/{board_id}/claim-next/",
]


@pytest.mark.parametrize("path", LEASE_PATHS)
def test_lease_seconds_bounds_are_stated(schema, path, settings):
    lease = body_field(schema, path, "post", "lease_seconds")
    assert (lease["type"], lease["minimum"], lease["maximum"]) == ("integer", 10, 86400)


@pytest.mark.parametrize("lease", [9, 86401, "60", True, 60.5])
def test_lease_seconds_outside_the_bounds_are_refused(agent_api, user, board, lease):
    ticket = make_ticket(user, board)
    response = agent_api.post(f"/api/tickets/{ticket.pk}/claim/", {"lease_seconds": lease}, "json")
    error = assert_error(response, 400)
    assert "lease_seconds" in error_fields(error), error
    response = agent_api.post(
        f"/api/boards/{board.pk}/claim-next/", {"lease_seconds": lease}, "json"
    )
    assert_error(response, 400)


def test_lease_seconds_within_the_bounds_are_accepted(agent_api, user, board):
    ticket = make_ticket(user, board)
    response = agent_api.post(f"/api/tickets/{ticket.pk}/claim/", {"lease_seconds": 10}, "json")
    assert response.status_code == 200, response.content
    body = {"lease_seconds": 86400, "claim_token": response.json()["claim_token"]}
    response = agent_api.post(f"/api/tickets/{ticket.pk}/heartbeat/", body, "json")
    assert response.status_code == 200, response.content


# ---------------------------------------------------------------- 7. forge secrets


@pytest.mark.parametrize("forge", ["github", "gitlab", "gitea"])
def test_forge_secret_rule_is_stated_and_kept(schema, api, board, forge):
    secret = body_field(schema, "/api/boards/{board_id}/forge/", "put", f"{forge}_secret")
    assert secret["type"] == "string" and secret["nullable"] is True
    assert {"minLength": 12, "maxLength": 255} in secret["anyOf"]
    url = f"/api/boards/{board.pk}/forge/"
    field = f"{forge}_secret"
    for refused in ["short", "x" * 256, 123456789012345]:
        error = assert_error(api.put(url, {field: refused}, "json"), 400)
        assert field in error_fields(error), error
    for accepted in ["x" * 12, "x" * 255, None, ""]:
        response = api.put(url, {field: accepted}, "json")
        assert response.status_code == 200, (accepted, response.content)


# ---------------------------------------------------------------- 8. PATCH a comment


def test_patch_comment_is_partial(schema, api, user, board):
    assert "text" not in body_required(schema, "/api/comments/{id}/", "patch")
    ticket = make_ticket(user, board)
    created = api.post("/api/comments/", {"ticket_id": ticket.pk, "text": "Hello"}, "json")
    comment_id = created.json()["id"]
    response = api.patch(f"/api/comments/{comment_id}/", {}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["text"] == "Hello"
    response = api.patch(f"/api/comments/{comment_id}/", {"text": "Bye"}, "json")
    assert response.json()["text"] == "Bye"


def test_patch_comment_still_checks_the_author(member_api, api, user, board):
    ticket = make_ticket(user, board)
    created = api.post("/api/comments/", {"ticket_id": ticket.pk, "text": "Mine"}, "json")
    response = member_api.patch(f"/api/comments/{created.json()['id']}/", {}, "json")
    assert_error(response, 403)
