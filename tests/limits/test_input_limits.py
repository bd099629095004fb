"""Input limits: text sizes, page sizes, batch sizes, nesting, uploads, Markdown."""

import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from boards.models import Board
from tests.api.envelope import assert_error, error_fields
from tests.factories import make_ticket
from tickets import rules
from web.templatetags.board_tags import render_markdown

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/tickets/", {"title": "t" * (rules.TITLE_MAX + 1)}, "title"),
        ("/api/tickets/", {"title": "t", "description": "d" * (rules.TEXT_MAX + 1)}, "description"),
        ("/api/tickets/", {"title": "t", "labels": ["l" * (rules.LABEL_MAX + 1)]}, "labels"),
        ("/api/tickets/", {"title": "t", "labels": [f"l{n}" for n in range(21)]}, "labels"),
        ("/api/comments/", {"text": "c" * 20_001}, "text"),
        ("/api/boards/", {"name": "n" * 256}, "name"),
        ("/api/boards/", {"name": "ok", "columns": ["c" * 101]}, "columns"),
        ("/api/boards/", {"name": "ok", "description": "d" * 20_001}, "description"),
    ],
)
def test_every_text_field_has_a_maximum(api, board, user, path, body, field):
    body = dict(body)
    if path == "/api/tickets/":
        body["board_id"] = board.pk
    if path == "/api/comments/":
        body["ticket_id"] = make_ticket(user, board, "For comments").pk
    error = assert_error(api.post(path, body, format="json"), 400, "invalid")
    assert any(name.startswith(field) for name in error_fields(error)), error


def test_page_sizes_are_capped(api, board):
    for path in ("/api/boards/", "/api/tickets/"):
        too_big = api.get(f"{path}?page_size={settings.API_MAX_PAGE_SIZE + 1}")
        assert_error(too_big, 400, "invalid")
        assert api.get(f"{path}?page_size={settings.API_MAX_PAGE_SIZE}").status_code == 200


def test_bulk_batches_are_capped_by_the_setting(api, board):
    assert rules.BULK_MAX == settings.BULK_MAX_ITEMS
    ids = list(range(1, settings.BULK_MAX_ITEMS + 2))
    response = api.post(
        "/api/bulk/tickets/priority", {"ticket_ids": ids, "priority": "high"}, format="json"
    )
    assert "ticket_ids" in error_fields(assert_error(response, 400, "invalid"))


@pytest.mark.parametrize("path", ["/api/boards/", "/api/users/session", "/api/bulk/tickets/move"])
def test_deeply_nested_json_is_400_everywhere(api, path):
    deep = "[" * 100_000 + "]" * 100_000
    response = api.generic("POST", path, deep, content_type="application/json")
    assert response.status_code == 400, response.content
    nested = json.dumps({"username": {"a": [[[[1]]]]}, "password": "x"})
    assert api.generic("POST", path, nested, content_type="application/json").status_code in (
        400,
        401,
    )


def upload(name: str = "evil.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"x" * 10_000, content_type="text/plain")


def test_the_api_accepts_no_file_uploads(api):
    response = api.post("/api/boards/", {"name": "With a file", "file": upload()})
    error = assert_error(response, 415, "unsupported_media_type")
    assert "File uploads are not accepted" in error["message"]
    assert not Board.objects.exists()
    # A multipart form without a file is still a form.
    assert api.post("/api/boards/", {"name": "Plain form"}).status_code == 201


def test_pages_refuse_file_uploads_with_400(user):
    browser = Client()
    assert browser.post("/login/", {"username": "alice", "file": upload()}).status_code == 400
    browser.force_login(user)
    response = browser.post("/boards/new/", {"name": "From a page", "file": upload()})
    assert response.status_code == 400
    assert not Board.objects.exists()


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<svg onload="alert(1)"></svg>',
        "[click](javascript:alert(1))",
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<iframe src="https://example.com"></iframe>',
        '<p style="position:fixed" onclick="alert(1)">x</p>',
    ],
)
def test_markdown_renders_without_script(source):
    html = render_markdown(source).lower()
    for bad in ("<script", "onerror", "onload", "onclick", "javascript:", "data:", "<iframe",
                "<svg", "<img", "position:"):  # fmt: skip
        assert bad not in html, html


@pytest.mark.ratelimits
def test_a_login_with_a_file_is_400_while_login_attempts_are_counted(settings, user):
    settings.RATELIMIT_LOGIN = "100/d"
    response = Client().post("/login/", {"username": "alice", "file": upload()})
    assert response.status_code == 400
    response = Client().post("/api/users/session", {"username": "alice", "file": upload()})
    assert_error(response, 400)


@pytest.mark.ratelimits
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_login_body_over_the_upload_limit_is_413(settings, content_type):
    settings.RATELIMIT_LOGIN = "100/d"
    big = "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    if content_type == "application/json":
        data = json.dumps({"username": "alice", "password": big})
    else:
        data = f"username=alice&password={big}"
    response = Client().generic("POST", "/api/users/session", data, content_type=content_type)
    assert_error(response, 413, "payload_too_large")
