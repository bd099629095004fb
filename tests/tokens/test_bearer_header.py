"""One reading of `Authorization: Bearer <token>` for every surface (`core.http.bearer_secret`):
the REST API, the WebSocket and MCP over HTTP tell a missing, a malformed and a
well-formed header apart the same way."""

import pytest

from core.http import bearer_secret
from live.auth import token_from_scope


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        (None, None),
        ("", None),
        ("Token ak_x", None),  # another scheme: not a bearer token at all
        ("Basic YWxpY2U6cHc=", None),
        ("Bearer ak_x", "ak_x"),
        ("bearer   ak_x  ", "ak_x"),
        ("Bearer\tak_x", "ak_x"),
        ("Bearer", ""),  # the Bearer scheme without one ASCII token: malformed
        ("Bearer ", ""),
        ("Bearer a b", ""),
        ("Bearer ak_caf\u00e9", ""),
    ],
)
def test_bearer_secret(header, secret):
    assert bearer_secret(header) == secret


@pytest.mark.parametrize(
    ("headers", "query", "secret"),
    [
        ([], b"", None),  # no credentials: the session decides
        ([(b"authorization", b"Bearer ak_x")], b"", "ak_x"),
        ([(b"authorization", b"Bearer a b")], b"", ""),
        ([(b"authorization", b"Basic YWxpY2U6cHc=")], b"", ""),  # a header of ours, unusable
        ([(b"authorization", b"Bearer ak_x")], b"token=ak_y", "ak_x"),  # the header wins
        ([], b"token=ak_y", "ak_y"),
    ],
)
def test_a_websocket_reads_the_header_as_every_surface_does(headers, query, secret):
    assert token_from_scope({"headers": headers, "query_string": query}) == secret
