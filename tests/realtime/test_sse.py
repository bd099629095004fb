"""Server-sent events and the JSON page, through a real daphne process."""

import asyncio
import json
import os
import re
import time
from contextlib import AsyncExitStack

import httpx
import pytest

from boards.services import board_delete
from tests.factories import make_board, make_ticket
from tests.realtime.procs import channel_prefix, daphne_servers, database_url, process_env

pytestmark = pytest.mark.django_db(transaction=True)

ERROR_KEYS = {"message", "code", "error_id", "timestamp", "validation_errors"}


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """One daphne for the module, on the test database: each test's data is committed
    (transaction=True), so the server sees it."""
    tmp_path = tmp_path_factory.mktemp("sse")
    env = process_env(
        tmp_path,
        database=database_url(),
        redis=os.environ.get("REDIS_URL"),
        CHANNEL_LAYER_PREFIX=channel_prefix(),
        SSE_POLL_MS=100,
        SSE_HEARTBEAT_SECONDS=1,
    )
    with daphne_servers(1, env, tmp_path) as [daphne]:
        yield daphne


def frames(lines):
    """Server-sent event frames as dicts of their fields; comments under ':'."""
    frame: dict = {}
    for line in lines:
        if line == "":
            if frame:
                yield frame
            frame = {}
            continue
        field, _, value = line.partition(":")
        frame[field or ":"] = value.removeprefix(" ")


def next_event(stream, timeout: float = 10) -> dict:
    """The next event frame; heartbeats keep the connection busy, so the read timeout
    alone would never fire."""
    deadline = time.monotonic() + timeout
    for frame in stream:
        if "event" in frame:
            return {**frame, "data": json.loads(frame["data"])}
        assert time.monotonic() < deadline, "no event in time"
    raise AssertionError("the stream ended")


def open_stream(server, board, headers, query=""):
    url = f"{server.http}/api/boards/{board.pk}/events{query}"
    return httpx.stream("GET", url, headers=headers, timeout=15)


def test_stream_replays_since_then_streams_live_with_heartbeats(server, secret, user, board):
    make_ticket(user, board, "Before")
    auth = {"Authorization": f"Bearer {secret}"}
    with open_stream(server, board, auth, "?since=1") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        stream = frames(response.iter_lines())
        first = next_event(stream)
        assert (first["id"], first["event"]) == ("2", "ticket_created")
        assert first["data"]["seq"] == 2 and first["data"]["data"]["title"] == "Before"
        assert set(first["data"]) == {"event", "data", "board_id", "seq", "timestamp", "actor"}
        make_ticket(user, board, "After")
        second = next_event(stream)
        assert (second["id"], second["data"]["data"]["title"]) == ("3", "After")
        assert next(stream) == {":": "heartbeat"}


def test_last_event_id_wins_and_session_works(server, session_cookie, user, board):
    for number in range(4):
        make_ticket(user, board, f"T{number}")
    headers = {"Cookie": f"sessionid={session_cookie}", "Last-Event-ID": "3"}
    with open_stream(server, board, headers, "?since=0") as response:
        assert response.status_code == 200
        stream = frames(response.iter_lines())
        assert [next_event(stream)["id"] for _ in range(2)] == ["4", "5"]


def test_stream_without_since_starts_now_and_ends_when_the_board_goes(server, secret, user, board):
    make_ticket(user, board, "Old")
    with open_stream(server, board, {"Authorization": f"Bearer {secret}"}) as response:
        stream = frames(response.iter_lines())
        assert next(stream) == {"retry": "400", ":": "connected"}
        make_ticket(user, board, "New")
        assert next_event(stream)["data"]["data"]["title"] == "New"
        board_delete(actor=user, board_id=board.pk)
        gone = next_event(stream)
        assert gone["event"] == "board_deleted" and gone["data"]["board_id"] == board.pk
        assert list(stream) == []


def test_json_page(server, secret, user, board):
    for number in range(4):
        make_ticket(user, board, f"T{number}")
    url = f"{server.http}/api/boards/{board.pk}/events"
    auth = {"Authorization": f"Bearer {secret}"}
    first = httpx.get(
        url, params={"format": "json", "since": 0, "limit": 2}, headers=auth, timeout=30
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert [item["seq"] for item in page["items"]] == [1, 2]
    assert (page["next_since"], page["has_more"]) == (2, True)
    rest = httpx.get(url, params={"format": "json", "since": 2}, headers=auth, timeout=30).json()
    assert [item["seq"] for item in rest["items"]] == [3, 4, 5]
    assert [item["data"]["title"] for item in rest["items"]] == ["T1", "T2", "T3"]
    assert (rest["next_since"], rest["has_more"]) == (5, False)
    empty = httpx.get(url, params={"format": "json", "since": 5}, headers=auth, timeout=30).json()
    assert empty == {"items": [], "next_since": 5, "has_more": False}


def assert_error(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert list(body) == ["error"] and set(body["error"]) >= ERROR_KEYS, body
    if code:
        assert body["error"]["code"] == code, body


@pytest.mark.parametrize(
    "query",
    [
        "?format=json&limit=0",
        "?format=json&limit=1001",
        "?format=json&limit=abc",
        "?format=json&since=-1",
        "?since=1.5",
        "?since=99999999999999999999999",
        "?format=xml",
    ],
)
def test_bad_parameters_are_400(api, board, query):
    assert_error(api.get(f"/api/boards/{board.pk}/events{query}"), 400, "invalid")


def test_unknown_board_is_404_and_strangers_are_401(api, anon, user):
    gone = make_board(user, "Gone")
    board_delete(actor=user, board_id=gone.pk)
    for query in ("", "?format=json"):
        assert_error(api.get(f"/api/boards/{gone.pk}/events{query}"), 404, "not_found")
        assert_error(anon.get(f"/api/boards/{gone.pk}/events{query}"), 401)
        bad = anon.get(f"/api/boards/{gone.pk}/events{query}", HTTP_AUTHORIZATION="Bearer nope")
        assert_error(bad, 401)
        assert bad["WWW-Authenticate"].startswith("Bearer")


def frames_after_cut(server, board, username: str, cut) -> list[dict]:
    """Open a stream as a new agent member of `board`, call `cut(agent_user, token)`,
    write a ticket, and return every frame the stream still sent before it ended."""
    from agents.services import agent_create
    from tests.factories import add_member

    issued = agent_create(username=username)
    add_member(board, issued.token.user, "agent")
    headers = {"Authorization": f"Bearer {issued.secret}"}
    with open_stream(server, board, headers) as response:
        assert response.status_code == 200
        stream = frames(response.iter_lines())
        assert next(stream) == {"retry": "400", ":": "connected"}
        cut(issued.token.user, issued.token)
        make_ticket(board.created_by, board, "After the cut")
        rest, deadline = [], time.monotonic() + 10
        for frame in stream:  # heartbeats come every second, so this loop checks often
            rest.append(frame)
            assert time.monotonic() < deadline, "the stream went on after the cut"
        return rest


def test_stream_ends_when_the_watcher_is_removed_from_the_board(server, user, board):
    from boards.services import membership_remove

    def remove(agent, token):
        membership_remove(actor=user, board_id=board.pk, user_id=agent.pk)

    rest = frames_after_cut(server, board, "sse-watcher", remove)
    assert all(frame.get("event") != "ticket_created" for frame in rest)


def test_stream_ends_when_its_token_is_revoked(server, user, board):
    from agents.services import token_revoke

    rest = frames_after_cut(
        server, board, "sse-revoked", lambda agent, token: token_revoke(actor=None, token=token)
    )
    assert all(frame.get("event") != "ticket_created" for frame in rest)


def test_a_session_stream_ends_when_its_session_signs_out(server, user, board):
    from django.contrib.auth import get_user_model

    watcher = get_user_model().objects.create_user(username="sse-session", password="pw-123456!")
    from tests.factories import add_member

    add_member(board, watcher, "member")
    browser = httpx.Client(base_url=server.http, timeout=15)
    login = browser.get("/login/")
    token = browser.cookies["csrftoken"]
    signed_in = browser.post(
        "/login/",
        data={"username": "sse-session", "password": "pw-123456!", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{server.http}/login/"},
    )
    assert login.status_code == 200 and signed_in.status_code in (200, 302)
    cookie = {"Cookie": f"sessionid={browser.cookies['sessionid']}"}
    with open_stream(server, board, cookie) as response:
        assert response.status_code == 200
        stream = frames(response.iter_lines())
        assert next(stream) == {"retry": "400", ":": "connected"}
        make_ticket(user, board, "Before sign-out")
        assert next_event(stream)["data"]["data"]["title"] == "Before sign-out"
        signed_out = browser.post(
            "/logout/",
            data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{server.http}/"},
        )
        assert signed_out.status_code in (200, 302)
        make_ticket(user, board, "After sign-out")
        rest, deadline = [], time.monotonic() + 10
        for frame in stream:
            rest.append(frame)
            assert time.monotonic() < deadline, "the stream went on after signing out"
    assert all(frame.get("event") != "ticket_created" for frame in rest)
    browser.close()


STREAMS = 40


def sse_log_reads(server) -> float:
    text = httpx.get(f"{server.http}/metrics", timeout=10).text
    found = re.search(r"^agent_kanban_sse_log_reads_total (\S+)$", text, re.MULTILINE)
    assert found, "no agent_kanban_sse_log_reads_total in /metrics"
    return float(found.group(1))


def test_streams_of_one_board_share_their_polls_of_the_log(secret, user, board, tmp_path):
    """On the in-process layer each stream polls the log every SSE_POLL_MS; the streams
    of one board share a read, so 40 streams cost about what one does, and a write still
    reaches every one of them."""
    env = process_env(tmp_path, database=database_url(), SSE_POLL_MS=100, SSE_HEARTBEAT_SECONDS=60)
    auth = {"Authorization": f"Bearer {secret}"}

    async def watch(daphne) -> tuple[float, list[str]]:
        url = f"{daphne.http}/api/boards/{board.pk}/events"
        async with httpx.AsyncClient(headers=auth, timeout=15) as client, AsyncExitStack() as held:
            streams = [
                await held.enter_async_context(client.stream("GET", url)) for _ in range(STREAMS)
            ]
            lines = [stream.aiter_lines() for stream in streams]
            for each in lines:
                assert await anext(each) == "retry: 400"
            before = await asyncio.to_thread(sse_log_reads, daphne)
            await asyncio.sleep(2)
            reads = await asyncio.to_thread(sse_log_reads, daphne) - before
            # Written by another process: only a poll of the log can bring it here.
            await asyncio.to_thread(make_ticket, user, board, "Polled")
            heard = await asyncio.gather(*(first_event(each) for each in lines))
        return reads, heard

    with daphne_servers(1, env, tmp_path) as [daphne]:
        reads, heard = asyncio.run(watch(daphne))
    # Alone, 40 streams polling every 100 ms for 2 s read 800 times; shared, a read
    # serves every stream polling within 50 ms: at most 40 reads, and a few more for
    # the wait of /metrics.
    assert reads <= 60, reads
    assert heard == ["ticket_created"] * STREAMS


async def first_event(lines) -> str:
    async for line in lines:
        if line.startswith("event: "):
            return line.removeprefix("event: ")
    raise AssertionError("the stream ended")
