"""The board WebSocket against the real ASGI application and database."""

import json

import pytest
from channels.db import database_sync_to_async

from agents.services import token_revoke
from tests.factories import add_member, make_board, make_ticket
from tests.realtime.conftest import bearer, closed_with, receive, receive_events

pytestmark = pytest.mark.django_db(transaction=True)

make_ticket_async = database_sync_to_async(make_ticket)


async def test_subscribe_by_query_then_live_events(sockets, secret, board, user):
    socket = await sockets(
        f"/ws/connect?board_id={board.pk}&client_id=x&username=y", bearer(secret)
    )
    assert await receive(socket) == {"type": "subscribed", "board_id": board.pk, "seq": 1}
    ticket = await make_ticket_async(user, board, "Live one")
    [event] = await receive_events(socket, 1)
    assert event["event"] == "ticket_created"
    assert event["seq"] == 2 and event["board_id"] == board.pk
    assert event["data"]["id"] == ticket.pk and event["data"]["title"] == "Live one"
    assert event["actor"] == user.username and event["timestamp"]
    assert await socket.receive_nothing(timeout=0.2)


@pytest.mark.parametrize("how", ["header", "query", "session"])
async def test_identity_from_token_header_query_or_session(
    sockets, secret, session_cookie, board, how
):
    headers, path = [], f"/ws/connect?board_id={board.pk}"
    if how == "header":
        headers = bearer(secret)
    elif how == "query":
        path += f"&token={secret}"
    else:
        headers = [(b"cookie", f"sessionid={session_cookie}".encode())]
    socket = await sockets(path, headers)
    assert (await receive(socket))["type"] == "subscribed"


async def test_session_from_a_foreign_page_is_not_trusted(sockets, session_cookie, board):
    cookie = (b"cookie", f"sessionid={session_cookie}".encode())
    ours = await sockets(
        f"/ws/connect?board_id={board.pk}", [cookie, (b"origin", b"http://127.0.0.1:8000")]
    )
    assert (await receive(ours))["type"] == "subscribed"
    foreign = await sockets(
        f"/ws/connect?board_id={board.pk}", [cookie, (b"origin", b"https://evil.example")]
    )
    assert await closed_with(foreign) == 4401


async def test_anonymous_is_refused(sockets, board):
    socket = await sockets(f"/ws/connect?board_id={board.pk}")
    assert await closed_with(socket) == 4401


@pytest.mark.parametrize("where", ["header", "query", "revoked", "not_bearer", "empty_query"])
async def test_bad_tokens_are_refused(sockets, agent_with_token, session_cookie, board, where):
    agent, secret = agent_with_token
    path, headers = f"/ws/connect?board_id={board.pk}", []
    # A bad token wins over a good session: the client said who it is, and it is wrong.
    cookie = (b"cookie", f"sessionid={session_cookie}".encode())
    if where == "header":
        headers = [*bearer("ak_not-a-real-token"), cookie]
    elif where == "query":
        path += "&token=ak_not-a-real-token"
    elif where == "revoked":
        await database_sync_to_async(
            lambda: token_revoke(actor=None, token=agent.api_tokens.get())
        )()
        headers = bearer(secret)
    elif where == "not_bearer":
        headers = [(b"authorization", b"Basic YWxpY2U6cHc="), cookie]
    else:
        path += "&token="
    socket = await sockets(path, headers)
    assert await closed_with(socket) == 4401


@pytest.mark.parametrize(
    ("query", "code"),
    [("board_id=999999", 4404), ("board_id=abc", 4400), ("board_id=1&since=-1", 4400)],
)
async def test_bad_board_query_is_refused(sockets, secret, board, query, code):
    socket = await sockets(f"/ws/connect?{query}", bearer(secret))
    assert (await receive(socket))["type"] == "error"
    assert await closed_with(socket) == code


async def test_boards_are_isolated(sockets, secret, user, board, agent_with_token):
    other = await database_sync_to_async(make_board)(user, "Other")
    await database_sync_to_async(add_member)(other, agent_with_token[0], "agent")
    watching_board = await sockets(f"/ws/connect?board_id={board.pk}", bearer(secret))
    watching_other = await sockets(f"/ws/connect?board_id={other.pk}", bearer(secret))
    watching_none = await sockets("/ws/connect", bearer(secret))
    await receive(watching_board), await receive(watching_other)
    await make_ticket_async(user, other, "Elsewhere")
    await make_ticket_async(user, board, "Here")
    [here] = await receive_events(watching_board, 1)
    [there] = await receive_events(watching_other, 1)
    assert (here["board_id"], here["data"]["title"]) == (board.pk, "Here")
    assert (there["board_id"], there["data"]["title"]) == (other.pk, "Elsewhere")
    for socket in (watching_board, watching_other, watching_none):
        assert await socket.receive_nothing(timeout=0.3)


async def test_one_socket_watches_several_boards_until_unsubscribed(
    sockets, secret, user, board, agent_with_token
):
    other = await database_sync_to_async(make_board)(user, "Other")
    await database_sync_to_async(add_member)(other, agent_with_token[0], "agent")
    socket = await sockets("/ws/connect", bearer(secret))
    for board_id in (board.pk, other.pk):
        await socket.send_json_to({"type": "subscribe_board", "board_id": board_id})
        assert await receive(socket) == {"type": "subscribed", "board_id": board_id, "seq": 1}
    await make_ticket_async(user, board, "A")
    await make_ticket_async(user, other, "B")
    events = await receive_events(socket, 2)
    assert [(e["board_id"], e["data"]["title"]) for e in events] == [
        (board.pk, "A"),
        (other.pk, "B"),
    ]

    await socket.send_json_to({"type": "unsubscribe_board", "board_id": board.pk})
    assert await receive(socket) == {"type": "unsubscribed", "board_id": board.pk}
    await make_ticket_async(user, board, "Unwatched")
    await make_ticket_async(user, other, "Watched")
    [event] = await receive_events(socket, 1)
    assert event["data"]["title"] == "Watched"
    assert await socket.receive_nothing(timeout=0.3)


async def test_replay_since_then_live_without_gap_or_duplicate(sockets, secret, user, board):
    for number in range(5):
        await make_ticket_async(user, board, f"Missed {number}")
    socket = await sockets(f"/ws/connect?board_id={board.pk}&since=3", bearer(secret))
    replayed = await receive_events(socket, 3)
    assert [e["seq"] for e in replayed] == [4, 5, 6]
    assert [e["data"]["title"] for e in replayed] == ["Missed 2", "Missed 3", "Missed 4"]
    assert await receive(socket) == {"type": "subscribed", "board_id": board.pk, "seq": 6}
    await make_ticket_async(user, board, "Live")
    [live] = await receive_events(socket, 1)
    assert (live["seq"], live["data"]["title"]) == (7, "Live")
    assert await socket.receive_nothing(timeout=0.3)


async def test_subscribe_message_with_since_replays(sockets, secret, user, board):
    await make_ticket_async(user, board, "Before")
    socket = await sockets("/ws/connect", bearer(secret))
    await socket.send_json_to({"type": "subscribe_board", "board_id": board.pk, "since": 0})
    events = await receive_events(socket, 2)
    assert [(e["seq"], e["event"]) for e in events] == [(1, "board_created"), (2, "ticket_created")]


async def test_since_beyond_the_log_does_not_hold_back_new_events(sockets, secret, user, board):
    socket = await sockets(f"/ws/connect?board_id={board.pk}&since=500", bearer(secret))
    assert await receive(socket) == {"type": "subscribed", "board_id": board.pk, "seq": 1}
    await make_ticket_async(user, board)
    assert [e["seq"] for e in await receive_events(socket, 1)] == [2]


async def test_ping_and_malformed_messages(sockets, secret, board):
    socket = await sockets("/ws/connect", bearer(secret))
    await socket.send_json_to({"type": "ping"})
    assert await receive(socket) == {"type": "pong"}
    bad = {
        "{not json": "invalid_json",
        "[" * 50_000: "invalid_json",
        "[1, 2]": "unknown_type",
        '"ping"': "unknown_type",
        '{"type": "dance"}': "unknown_type",
        '{"type": 7}': "unknown_type",
        '{"type": "subscribe_board"}': "invalid",
        '{"type": "subscribe_board", "board_id": "x"}': "invalid",
        '{"type": "subscribe_board", "board_id": true}': "invalid",
        '{"type": "subscribe_board", "board_id": 99999999999999999999999}': "invalid",
        '{"type": "subscribe_board", "board_id": 1, "since": -4}': "invalid",
        '{"type": "subscribe_board", "board_id": 424242}': "board_not_found",
        '{"type": "unsubscribe_board", "board_id": []}': "invalid",
    }
    for text, code in bad.items():
        await socket.send_to(text_data=text)
        reply = await receive(socket)
        assert (reply["type"], reply["code"]) == ("error", code), text
        assert reply["message"]
    await socket.send_to(bytes_data=b"\xff\xfe\x00")
    assert (await receive(socket))["code"] == "invalid_json"
    await socket.send_json_to({"type": "get_stats"})
    assert (await receive(socket))["boards"] == []  # the unknown board was not kept
    await socket.send_json_to({"type": "ping"})
    assert await receive(socket) == {"type": "pong"}


async def test_message_over_the_size_limit_closes(sockets, secret, settings):
    settings.WS_MAX_MESSAGE_BYTES = 1000
    socket = await sockets("/ws/connect", bearer(secret))
    await socket.send_to(text_data=json.dumps({"type": "ping", "pad": "é" * 600}))
    reply = await receive(socket)
    assert (reply["type"], reply["code"]) == ("error", "message_too_large")
    assert await closed_with(socket) == 4413


async def test_board_deleted_is_delivered_and_ends_the_subscription(sockets, secret, user, board):
    from boards.services import board_delete

    socket = await sockets(f"/ws/connect?board_id={board.pk}", bearer(secret))
    await receive(socket)
    await database_sync_to_async(board_delete)(actor=user, board_id=board.pk)
    [event] = await receive_events(socket, 1)
    assert (event["event"], event["seq"]) == ("board_deleted", 2)
    assert set(event) >= {"event", "data", "board_id", "seq", "timestamp", "actor"}
    await socket.send_json_to({"type": "get_stats"})
    assert (await receive(socket))["boards"] == []
