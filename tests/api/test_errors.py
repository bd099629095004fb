"""The one error shape, and bodies that must never turn into a 500."""

import json

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from boards.models import Board
from comments.services import comment_create
from tests.api.envelope import assert_error
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def logged_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# (method, path, JSON body or None, client: "user", "other", "anon" or "csrf", status, code)
ERRORS = [
    ("get", "/api/boards/", None, "anon", 401, "not_authenticated"),
    ("post", "/api/tickets/", {"title": "x"}, "anon", 401, "not_authenticated"),
    ("post", "/api/boards/", {"name": "x"}, "csrf", 403, "permission_denied"),
    ("put", "/api/comments/COMMENT", {"text": "x"}, "other", 403, "forbidden"),
    ("get", "/api/nope", None, "user", 404, "not_found"),
    ("get", "/api/nope/", None, "anon", 404, "not_found"),
    ("get", "/api/boards/abc", None, "user", 404, "not_found"),
    ("get", "/api/boards/9999/", None, "user", 404, "not_found"),
    ("get", "/api/boards/99999999999999999999999", None, "user", 404, "not_found"),
    ("get", "/api/comments/9999", None, "user", 404, "not_found"),
    ("get", "/api/tickets/9999", None, "user", 404, "not_found"),
    ("get", "/api/history/tickets/9999/history", None, "user", 404, "not_found"),
    ("get", "/api/history/boards/abc/activity", None, "user", 404, "not_found"),
    ("delete", "/api/boards/", None, "user", 405, "method_not_allowed"),
    ("get", "/api/comments/", None, "user", 405, "method_not_allowed"),
    ("post", "/api/history/stats", {}, "user", 405, "method_not_allowed"),
    ("post", "/api/boards/", {"name": ""}, "user", 400, "invalid"),
    ("put", "/api/boards/BOARD/columns", {"columns": []}, "user", 400, "invalid"),
    ("put", "/api/boards/BOARD/columns", {"columns": [{"name": "Only"}]}, "user", 409, None),
    ("get", "/api/boards/?page=abc", None, "user", 400, "invalid"),
    ("post", "/api/users/session", {}, "anon", 400, "invalid"),
    ("post", "/api/users/session", {"username": "a", "password": "b"}, "anon", 401, None),
]


@pytest.mark.parametrize(("method", "path", "body", "who", "status", "code"), ERRORS)
def test_every_error_has_the_envelope(
    user, other_user, board, method, path, body, who, status, code
):
    ticket = make_ticket(user, board)
    comment = comment_create(actor=user, ticket_id=ticket.pk, text="x")
    path = path.replace("BOARD", str(board.pk)).replace("COMMENT", str(comment.pk))
    client = {
        "user": logged_in(user),
        "other": logged_in(other_user),
        "anon": APIClient(),
        "csrf": APIClient(enforce_csrf_checks=True),
    }[who]
    if who == "csrf":
        client.force_login(user)
    kwargs = {"format": "json"} if body is not None else {}
    response = getattr(client, method)(path, body, **kwargs)
    assert_error(response, status, code)


def test_unsupported_media_type_and_accept(api):
    response = api.post("/api/boards/", data="name=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")
    response = api.get("/api/boards/", HTTP_ACCEPT="application/xml")
    assert_error(response, 406, "not_acceptable")


def test_error_ids_are_unique_and_there_is_no_trace(api):
    first = assert_error(api.get("/api/boards/9999"), 404)
    second = assert_error(api.get("/api/boards/9999"), 404)
    assert first["error_id"] != second["error_id"]
    assert "Traceback" not in first["message"]


# ---------------------------------------------------------------- hostile bodies


def post_raw(client, path: str, data, content_type: str = "application/json"):
    return client.generic("POST", path, data, content_type=content_type)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_body_over_the_upload_limit_is_413(api, content_type):
    big = "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    if content_type == "application/json":
        data = json.dumps({"name": "Big", "description": big})
    else:
        data = f"name=Big&description={big}"
    assert_error(post_raw(api, "/api/boards/", data, content_type), 413, "payload_too_large")
    assert not Board.objects.exists()


def test_body_over_the_upload_limit_on_a_ticket_route_is_413(api, board):
    big = "b" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = json.dumps({"board_id": board.pk, "title": "t", "description": big})
    assert_error(post_raw(api, "/api/tickets/", body), 413, "payload_too_large")


@pytest.mark.parametrize(
    "data",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"name": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}",
    ],
)
def test_deeply_nested_json_is_400(api, data):
    assert_error(post_raw(api, "/api/boards/", data), 400, "parse_error")
    assert api.get("/api/boards/").status_code == 200  # the process is fine afterwards


def test_moderately_nested_json_is_a_validation_error(api):
    nested = {"name": [[[[["deep"]]]]], "columns": [{"a": {"b": {"c": 1}}}]}
    assert_error(api.post("/api/boards/", nested, format="json"), 400, "invalid")


@pytest.mark.parametrize(
    "data",
    [
        b'{"name": "\xff\xfe"}',
        b'{"name": "\xc3\x28"}',
        b"\xef\xbb\xbf\xff",
        b"{not json}",
        b'{"name": NaN}',
        b'{"name": "x"',
    ],
)
def test_invalid_bytes_or_json_is_400(api, data):
    assert_error(post_raw(api, "/api/boards/", data), 400, "parse_error")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/comments/", {"ticket_id": 10**30, "text": "x"}, 404),
        ("post", "/api/comments/", {"ticket_id": -(10**30), "text": "x"}, 400),
        ("put", "/api/boards/BOARD/columns", {"columns": [{"id": 10**30, "name": "x"}]}, 400),
        (
            "put",
            "/api/boards/BOARD/columns",
            {"columns": [{"name": "x", "wip_limit": 10**30}]},
            400,
        ),
        ("post", "/api/tickets/", {"board_id": 10**30, "title": "x"}, None),
        ("post", "/api/bulk/tickets/move/", {"ticket_ids": [10**30], "column": "Done"}, None),
    ],
)
def test_huge_integers_for_ids_are_4xx(api, board, method, path, body, status):
    path = path.replace("BOARD", str(board.pk))
    response = getattr(api, method)(path, body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert_error(response, status or response.status_code)


def test_a_number_too_long_to_parse_is_400(api, board):
    data = '{"ticket_id": ' + "9" * 5000 + ', "text": "x"}'
    assert_error(post_raw(api, "/api/comments/", data), 400, "parse_error")


@pytest.mark.parametrize(
    "path",
    [
        "/api/boards/?page=99999999999999999999999",
        "/api/boards/?page_size=99999999999999999999999",
        "/api/history/stats?page=-1",
        "/api/tickets/99999999999999999999999",
    ],
)
def test_huge_numbers_in_the_url_are_not_500(api, path):
    assert api.get(path).status_code < 500


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/boards/", {"name": "a\u0000b"}),
        ("/api/boards/", {"name": "ok", "columns": ["a\u0000"]}),
        ("/api/comments/", {"ticket_id": 1, "text": "\u0000"}),
        ("/api/users/session", {"username": "\u0000", "password": "x"}),
    ],
)
def test_null_characters_are_400(api, path, body):
    assert_error(api.post(path, body, format="json"), 400, "invalid")


@pytest.mark.parametrize(
    "body", [[], "just a string", 42, None, [{"name": "x"}], {"name": {"nested": "object"}}]
)
def test_bodies_of_the_wrong_shape_are_400(api, board, body):
    for path in ["/api/boards/", "/api/comments/", f"/api/boards/{board.pk}/columns"]:
        method = api.put if path.endswith("columns") else api.post
        response = method(path, json.dumps(body), content_type="application/json")
        assert_error(response, 400)


# ---------------------------------------------------------------- unknown paths and methods


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/nope"),
        ("get", "/api/boards/abc"),
        ("get", "/api/tickets/1/nope/"),
        ("get", "/api/statistics/boards/1/nope"),
        ("post", "/api/nope/"),
        ("delete", "/api/history/nope"),
    ],
)
def test_an_unknown_path_is_the_json_404_even_in_debug(settings, user, method, path):
    """With DEBUG on, Django answered its HTML debug page, listing every URL pattern."""
    settings.DEBUG = True
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    error = assert_error(getattr(client, method)(path), 404, "not_found")
    assert error["message"] == f"No endpoint at {path}."


def test_the_last_route_leaves_every_real_route_with_and_without_its_slash(api, board):
    for path in ("/api/", "/api/boards", "/api/boards/", f"/api/boards/{board.pk}"):
        assert api.get(path).status_code == 200, path
    assert api.get(f"/api/boards/{board.pk}/").status_code == 200
    assert api.get(f"/api/boards/{board.pk}/columns").status_code == 200
    assert api.get("/api/tokens").status_code == 200
    assert api.get(f"/api/statistics/boards/{board.pk}/flow/").status_code == 200


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("delete", "/api/boards/", {"GET", "POST"}),
        ("put", "/api/status", {"GET"}),
        ("post", "/api/health/", {"GET"}),
        ("delete", "/api/health/simple", {"GET", "HEAD"}),
        ("post", "/api/health/live/", {"GET", "HEAD"}),
        ("post", "/api/boards/BOARD/events?format=json", {"GET"}),
    ],
)
def test_a_wrong_method_is_405_with_allow_in_the_envelope(api, board, method, path, allowed):
    response = getattr(api, method)(path.replace("BOARD", str(board.pk)))
    assert_error(response, 405, "method_not_allowed")
    assert allowed <= {name.strip() for name in response["Allow"].split(",")}
