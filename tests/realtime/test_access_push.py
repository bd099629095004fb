"""Lost rights reach open WebSockets at once: a member taken off a board stops watching
it, a switched-off account is closed, with the heartbeat far away (60 s) so only the
push through the channel layer (in-memory, or Redis on the PostgreSQL pass and across
processes) can do it in time."""

import asyncio
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from agents import watch
from agents.models import User
from agents.services import token_issue
from boards.models import BoardMembership
from boards.services import membership_remove
from tests.factories import add_member, make_agent, make_board, make_ticket
from tests.realtime.conftest import bearer, receive, receive_events
from tests.realtime.procs import (
    REDIS_URL,
    database_url,
    free_port,
    process_env,
    run_django,
    use_redis_layer,
)

pytestmark = pytest.mark.django_db(transaction=True)

FAR_HEARTBEAT = 60
PROMPTLY = 5  # seconds; far below the heartbeat
UNSUBSCRIBED = "unsubscribed"
SWITCHED_OFF = {
    "type": "error",
    "code": "account_inactive",
    "message": "The account is switched off.",
}


def cookie(session: str) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={session}".encode())]


async def said_until_closed(socket) -> list:
    """Every message until the server closes, then the close code."""
    said = []
    while True:
        output = await socket.receive_output(timeout=PROMPTLY)
        if output["type"] == "websocket.close":
            return [*said, output.get("code")]
        said.append(json.loads(output["text"]))


async def subscribed(socket, board_id: int) -> None:
    await socket.send_json_to({"type": "subscribe_board", "board_id": board_id})
    assert (await receive(socket))["type"] == "subscribed"


@database_sync_to_async
def leaver_on(*boards) -> tuple[User, str]:
    leaver, secret = make_agent("leaver")
    for board in boards:
        add_member(board, leaver, "agent")
    return leaver, secret


async def test_a_removed_member_stops_watching_at_once_and_gets_nothing_after(
    sockets, secret, user, board, settings
):
    settings.WS_HEARTBEAT_SECONDS = FAR_HEARTBEAT
    elsewhere = await database_sync_to_async(make_board)(user, "Elsewhere")
    leaver, leaver_secret = await leaver_on(board, elsewhere)
    leaving = await sockets(f"/ws/connect?board_id={board.pk}", bearer(leaver_secret))
    assert (await receive(leaving))["type"] == "subscribed"
    await subscribed(leaving, elsewhere.pk)
    staying = await sockets(f"/ws/connect?board_id={board.pk}", bearer(secret))
    assert (await receive(staying))["type"] == "subscribed"

    await sync_to_async(membership_remove)(actor=user, board_id=board.pk, user_id=leaver.pk)
    # Written right after the removal: their pushes are queued behind its message.
    for number in range(3):
        await database_sync_to_async(make_ticket)(user, board, f"After {number}")
    await database_sync_to_async(make_ticket)(user, elsewhere, "Still watched")

    assert await receive(leaving, timeout=PROMPTLY) == {
        "type": UNSUBSCRIBED,
        "board_id": board.pk,
        "reason": "board_not_found",
    }
    # The next thing it hears is the board it may still read: none of the three.
    [event] = await receive_events(leaving, 1, timeout=PROMPTLY)
    assert (event["board_id"], event["data"]["title"]) == (elsewhere.pk, "Still watched")
    # Asking again is answered as for a board that does not exist.
    await leaving.send_json_to({"type": "subscribe_board", "board_id": board.pk})
    refusal = await receive(leaving)
    assert (refusal["type"], refusal["code"]) == ("error", "board_not_found")
    assert await leaving.receive_nothing(timeout=0.5)

    # Another watcher of the board is unaffected.
    events = await receive_events(staying, 3, timeout=PROMPTLY)
    assert [e["data"]["title"] for e in events] == ["After 0", "After 1", "After 2"]
    assert await staying.receive_nothing(timeout=0.3)


@pytest.mark.parametrize("how", ["save", "save_is_active_only"])
async def test_switching_an_account_off_closes_its_sockets_at_once(
    sockets, session_cookie, secret, user, board, settings, how
):
    settings.WS_HEARTBEAT_SECONDS = FAR_HEARTBEAT
    issued = await database_sync_to_async(token_issue)(actor=None, user=user, name="ws")
    by_session = await sockets(f"/ws/connect?board_id={board.pk}", cookie(session_cookie))
    by_token = await sockets(f"/ws/connect?board_id={board.pk}", bearer(issued.secret))
    not_watching = await sockets("/ws/connect", cookie(session_cookie))
    bystander = await sockets(f"/ws/connect?board_id={board.pk}", bearer(secret))
    for socket in (by_session, by_token, bystander):
        assert (await receive(socket))["type"] == "subscribed"

    def switch_off() -> None:
        # As the admin's change form does, or code that saves just the one field.
        user.is_active = False
        user.save(update_fields=["is_active"] if how == "save_is_active_only" else None)

    await sync_to_async(switch_off)()
    for socket in (by_session, by_token, not_watching):
        assert await said_until_closed(socket) == [SWITCHED_OFF, 4401]
    await bystander.send_json_to({"type": "ping"})
    assert await receive(bystander) == {"type": "pong"}


async def test_the_heartbeat_closes_an_account_switched_off_without_a_message(
    sockets, session_cookie, user, settings
):
    settings.WS_HEARTBEAT_SECONDS = 0.3
    # A socket watching nothing: before, the heartbeat only asked about watched boards.
    socket = await sockets("/ws/connect", cookie(session_cookie))
    await socket.send_json_to({"type": "ping"})
    assert await receive(socket) == {"type": "pong"}
    # QuerySet.update() sends no signal: only the heartbeat can notice.
    await database_sync_to_async(User.objects.filter(pk=user.pk).update)(is_active=False)
    await socket.send_json_to({"type": "ping"})  # not closed as silent meanwhile
    said = await said_until_closed(socket)
    assert [m for m in said if m not in ({"type": "heartbeat"}, {"type": "pong"})] == [
        SWITCHED_OFF,
        4401,
    ]


async def test_changes_made_in_another_process_arrive_through_redis(
    sockets, user, board, settings, tmp_path
):
    prefix = use_redis_layer(settings)
    settings.WS_HEARTBEAT_SECONDS = FAR_HEARTBEAT
    leaver, leaver_secret = await leaver_on(board)
    socket = await sockets(f"/ws/connect?board_id={board.pk}", bearer(leaver_secret))
    assert (await receive(socket))["type"] == "subscribed"
    env = process_env(
        tmp_path, database=database_url(), redis=REDIS_URL, CHANNEL_LAYER_PREFIX=prefix
    )
    remove = (
        "from agents.models import User\n"
        "from boards.services import membership_remove\n"
        f"admin = User.objects.get(pk={user.pk})\n"
        f"membership_remove(actor=admin, board_id={board.pk}, user_id={leaver.pk})\n"
    )
    await asyncio.to_thread(run_django, remove, env)
    assert await receive(socket, timeout=PROMPTLY) == {
        "type": UNSUBSCRIBED,
        "board_id": board.pk,
        "reason": "board_not_found",
    }
    switch_off = (
        "from agents.models import User\n"
        f"leaver = User.objects.get(pk={leaver.pk})\n"
        "leaver.is_active = False\n"
        "leaver.save()\n"
    )
    await asyncio.to_thread(run_django, switch_off, env)
    assert await said_until_closed(socket) == [SWITCHED_OFF, 4401]


def test_a_channel_layer_that_is_down_fails_no_write(user, board, settings, caplog):
    leaver, _ = make_agent("leaver")
    add_member(board, leaver, "agent")
    # Nothing listens on this port: every announcement fails.
    use_redis_layer(settings, f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="core.groups"):
        membership_remove(actor=user, board_id=board.pk, user_id=leaver.pk)
        leaver.is_active = False
        leaver.save()
    assert not BoardMembership.objects.filter(board=board, user=leaver).exists()
    assert User.objects.get(pk=leaver.pk).is_active is False
    warnings = [r.getMessage() for r in caplog.records if r.name == "core.groups"]
    assert warnings == [f"Could not announce access.changed to user-{leaver.pk}"] * 2


def test_asking_again_costs_the_same_for_one_board_or_many(user, django_assert_num_queries):
    boards = [make_board(user, f"Board {n}").pk for n in range(5)]
    for watched in (boards[:1], boards):
        with django_assert_num_queries(1):
            assert watch.account_active(user)
        with django_assert_num_queries(1):
            assert watch.boards_readable(user, watched) == set(watched)
