"""One delivery attempt: a signed POST to the receiver, within a deadline.

The standard library's http.client, not a client with more features: it follows no
redirects, reads no proxy settings from the environment, and lets the connection go to
the very address that was checked (addresses.py) while the Host header and the TLS
certificate check keep the URL's name."""

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

from webhooks import addresses
from webhooks.rules import ERROR_TEXT_MAX, RESPONSE_BODY_MAX, USER_AGENT

READ_CHUNK = 8192


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""


def encode(body: dict) -> bytes:
    return json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed with the secret, of `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def headers(*, secret: str, event: str, delivery_id: str, raw_body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Connection": "close",
        "X-Agent-Kanban-Event": event,
        "X-Agent-Kanban-Delivery": delivery_id,
        "X-Agent-Kanban-Timestamp": timestamp,
        "X-Agent-Kanban-Signature": signature(secret, timestamp, raw_body),
    }


def _connect(target: addresses.Target, timeout: float) -> socket.socket:
    failure: OSError | None = None
    for address in target.addresses:
        try:
            return socket.create_connection((address, target.port), timeout=timeout)
        except OSError as error:
            failure = error
    raise failure or OSError("no address to connect to")


def _connection(target: addresses.Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    # http.client would resolve the name again; it gets the checked addresses instead.
    connection._create_connection = lambda *args, **kwargs: _connect(target, timeout)
    return connection


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_TEXT_MAX else text[: ERROR_TEXT_MAX - 1] + "…"


def post(
    url: str, raw_body: bytes, request_headers: dict, *, timeout: float, allow_private: bool
) -> Outcome:
    """POST `raw_body` to `url`; a 2xx answer within `timeout` seconds (name resolution,
    connection, request and up to RESPONSE_BODY_MAX bytes of the answer) is a success."""
    deadline = time.monotonic() + timeout
    try:
        target = addresses.check(url, allow_private=allow_private, timeout=timeout)
    except addresses.UrlRefused as refused:
        return Outcome(False, None, _cut(refused.message))
    connection = _connection(target, max(deadline - time.monotonic(), 0.01))
    # A receiver that trickles its answer byte by byte would keep each read inside the
    # socket timeout forever: at the deadline the socket is shut, which ends any read.
    watchdog = threading.Timer(max(deadline - time.monotonic(), 0.01), _shut, [connection])
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=raw_body, headers=request_headers)
        response = connection.getresponse()
        text = _read_some(response, deadline)
        status = response.status
    except TimeoutError:
        return Outcome(False, None, f"No answer within {timeout:g} s.")
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() >= deadline:
            return Outcome(False, None, f"No answer within {timeout:g} s.")
        return Outcome(False, None, _cut(f"{type(error).__name__}: {error}".rstrip(": ")))
    finally:
        watchdog.cancel()
        connection.close()
    if 200 <= status < 300:
        return Outcome(True, status)
    if 300 <= status < 400:
        where = response.getheader("Location", "")
        return Outcome(False, status, _cut(f"HTTP {status}: redirects are not followed ({where})"))
    return Outcome(False, status, _cut(f"HTTP {status}: {text.strip()}".strip().rstrip(":")))


def _read_some(response: http.client.HTTPResponse, deadline: float) -> str:
    """Up to RESPONSE_BODY_MAX bytes of the answer, as text; the rest is never read."""
    chunks, size = [], 0
    while size < RESPONSE_BODY_MAX:
        if time.monotonic() >= deadline:
            raise TimeoutError
        chunk = response.read(min(READ_CHUNK, RESPONSE_BODY_MAX - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
