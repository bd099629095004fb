"""A WebSocket opened with a session ends with that session: signing out closes the
sockets of that one session at once, a password change those of every session of the
user, and a session deleted or expired without a word is noticed at the next heartbeat.
Sockets opened with an API token are unaffected. The heartbeat is far away (60 s) unless
it is the thing tested, so only the push through the channel layer (in-memory, or Redis
on the PostgreSQL pass and across processes) can close in time."""

import json
import logging
import threading
from importlib import import_module

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.auth.signals import user_logged_out
from django.db import connections
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from agents import watch
from agents.models import User
from agents.services import token_issue
from core import groups
from tests.factories import make_ticket
from tests.realtime.conftest import bearer, receive, receive_events
from tests.realtime.procs import (
    REDIS_URL,
    daphne_servers,
    database_url,
    free_port,
    process_env,
    use_redis_layer,
)
from tests.realtime.test_access_push import (
    FAR_HEARTBEAT,
    PROMPTLY,
    cookie,
    said_until_closed,
)

pytestmark = pytest.mark.django_db(transaction=True)

SIGNED_OUT = {"type": "error", "code": "signed_out", "message": "The session signed out."}
SESSION_ENDED = {
    "type": "error",
    "code": "session_ended",
    "message": "The session has ended: sign in again.",
}
NEW_PASSWORD = "a brand new secret 99"


def signed_in(user) -> Client:
    """A browser of its own: each one holds a session of its own."""
    client = Client()
    client.force_login(user)
    return client


def session_of(client: Client) -> str:
    return client.cookies["sessionid"].value


def session_store(session_key: str):
    return import_module(django_settings.SESSION_ENGINE).SessionStore(session_key)


async def alive(socket) -> None:
    await socket.send_json_to({"type": "ping"})
    assert await receive(socket) == {"type": "pong"}


@pytest.mark.parametrize(
    ("method", "path", "status"), [("post", "/logout/", 302), ("delete", "/api/users/session", 204)]
)
async def test_signing_out_closes_that_sessions_sockets_only(
    sockets, user, board, settings, method, path, status
):
    settings.WS_HEARTBEAT_SECONDS = FAR_HEARTBEAT
    first, second = await sync_to_async(signed_in)(user), await sync_to_async(signed_in)(user)
    watched = f"/ws/connect?board_id={board.pk}"
    leaving = await sockets(watched, cookie(session_of(first)))
    leaving_too = await sockets("/ws/connect", cookie(session_of(first)))
    staying = await sockets(watched, cookie(session_of(second)))
    for socket in (leaving, staying):
        assert (await receive(socket))["type"] == "subscribed"

    response = await sync_to_async(getattr(first, method))(path)
    assert response.status_code == status
    for socket in (leaving, leaving_too):
        assert await said_until_closed(socket) == [SIGNED_OUT, 4401]

    # The other session still signs the user in, and its socket still streams.
    await database_sync_to_async(make_ticket)(user, board, "After sign-out")
    [event] = await receive_events(staying, 1, timeout=PROMPTLY)
    assert event["data"]["title"] == "After sign-out"
    await alive(staying)


@pytest.mark.parametrize("how", ["save", "save_password_only", "save_staff"])
async def test_a_password_change_closes_every_session_socket_but_not_token_sockets(
    sockets, user, board, settings, how
):
    settings.WS_HEARTBEAT_SECONDS = FAR_HEARTBEAT
    if how == "save_staff":
        # A staff user's saves were not announced before: no rights to take away.
        await database_sync_to_async(User.objects.filter(pk=user.pk).update)(is_staff=True)
    first, second = await sync_to_async(signed_in)(user), await sync_to_async(signed_in)(user)
    issued = await database_sync_to_async(token_issue)(actor=None, user=user, name="ws")
    watched = f"/ws/connect?board_id={board.pk}"
    by_sessions = [
        await sockets(watched, cookie(session_of(first))),
        await sockets("/ws/connect", cookie(session_of(second))),
    ]
    by_token = await sockets(watched, bearer(issued.secret))
    # A token decides the identity even when a session cookie comes along.
    by_token_and_cookie = await sockets(
        watched, [*bearer(issued.secret), *cookie(session_of(first))]
    )
    for socket in (by_sessions[0], by_token, by_token_and_cookie):
        assert (await receive(socket))["type"] == "subscribed"

    def change_password() -> None:
        changed = User.objects.get(pk=user.pk)
        changed.set_password(NEW_PASSWORD)
        changed.save(update_fields=["password"] if how == "save_password_only" else None)

    await sync_to_async(change_password)()
    for socket in by_sessions:
        assert await said_until_closed(socket) == [SESSION_ENDED, 4401]
    await database_sync_to_async(make_ticket)(user, board, "After the change")
    for socket in (by_token, by_token_and_cookie):
        [event] = await receive_events(socket, 1, timeout=PROMPTLY)
        assert event["data"]["title"] == "After the change"
        await alive(socket)


async def test_a_save_that_leaves_the_password_keeps_session_sockets_open(
    sockets, user, session_cookie, settings
):
    settings.WS_HEARTBEAT_SECONDS = FAR_HEARTBEAT
    socket = await sockets("/ws/connect", cookie(session_cookie))

    def rename() -> None:
        user.first_name = "Alice"
        user.save()  # announced (a full save may change anything); the session holds

    await sync_to_async(rename)()
    await alive(socket)
    assert await socket.receive_nothing(timeout=0.3)


@pytest.mark.parametrize("how", ["deleted", "expired", "password_updated"])
async def test_the_heartbeat_closes_a_socket_whose_session_ended_without_a_message(
    sockets, user, session_cookie, settings, how
):
    settings.WS_HEARTBEAT_SECONDS = 0.3
    socket = await sockets("/ws/connect", cookie(session_cookie))
    await alive(socket)

    def end_quietly() -> None:
        store = session_store(session_cookie)
        if how == "deleted":
            store.delete()
        elif how == "expired":
            store.load()
            store.set_expiry(-60)
            store.save()
        else:
            # QuerySet.update() sends no signal: only the heartbeat can notice.
            User.objects.filter(pk=user.pk).update(password="!changed-elsewhere")

    await sync_to_async(end_quietly)()
    await socket.send_json_to({"type": "ping"})  # not closed as silent meanwhile
    said = await said_until_closed(socket)
    assert [m for m in said if m not in ({"type": "heartbeat"}, {"type": "pong"})] == [
        SESSION_ENDED,
        4401,
    ]


async def test_a_session_ended_before_the_socket_joined_its_group_is_refused(
    sockets, user, session_cookie, settings, monkeypatch
):
    """The auth middleware read the session; it ends before the consumer joins the
    session's group, so no message can reach it: the consumer asks once it has joined."""
    settings.WS_HEARTBEAT_SECONDS = FAR_HEARTBEAT
    group_name = groups.session_group_name

    def end_session() -> None:
        session_store(session_cookie).delete()
        connections.close_all()

    def group_after_the_end(session_key: str) -> str:
        # Called on the event loop, between sign-in and joining: end it from a thread.
        ending = threading.Thread(target=end_session)
        ending.start()
        ending.join()
        return group_name(session_key)

    monkeypatch.setattr(groups, "session_group_name", group_after_the_end)
    socket = await sockets("/ws/connect", cookie(session_cookie))
    assert await said_until_closed(socket) == [SESSION_ENDED, 4401]


def test_sign_out_and_password_change_reach_daphne_through_redis(user, settings, tmp_path):
    """The production shape: the socket is on a daphne process, the sign-out and the
    password change happen in another process (here, as in a gunicorn worker)."""
    prefix = use_redis_layer(settings)
    first, second = signed_in(user), signed_in(user)
    env = process_env(
        tmp_path,
        database=database_url(),
        redis=REDIS_URL,
        CHANNEL_LAYER_PREFIX=prefix,
        WS_HEARTBEAT_SECONDS=FAR_HEARTBEAT,
    )
    with daphne_servers(1, env, tmp_path) as (server,):
        url = f"{server.ws}/ws/connect"
        with (
            connect(url, additional_headers={"Cookie": f"sessionid={session_of(first)}"}) as a,
            connect(url, additional_headers={"Cookie": f"sessionid={session_of(second)}"}) as b,
        ):
            for socket in (a, b):
                socket.send(json.dumps({"type": "ping"}))
                assert json.loads(socket.recv(timeout=15)) == {"type": "pong"}
            # The groups in Redis are named from a hash: no session key is visible there.
            names = [key.decode() for key in redis.Redis.from_url(REDIS_URL).keys(f"{prefix}*")]
            session_groups = {name for name in names if ":group:session-" in name}
            expected = {groups.session_group_name(session_of(c)) for c in (first, second)}
            assert {name.rsplit(":", 1)[1] for name in session_groups} == expected
            assert not [n for n in names for c in (first, second) if session_of(c) in n]

            assert first.post("/logout/").status_code == 302
            assert closing_words(a) == ([SIGNED_OUT], 4401)
            b.send(json.dumps({"type": "ping"}))
            assert json.loads(b.recv(timeout=15)) == {"type": "pong"}

            user.set_password(NEW_PASSWORD)
            user.save()
            assert closing_words(b) == ([SESSION_ENDED], 4401)


def closing_words(socket) -> tuple[list[dict], int | None]:
    """What the server said until it closed, and its close code."""
    said = []
    try:
        while True:
            said.append(json.loads(socket.recv(timeout=PROMPTLY)))
    except ConnectionClosed as closed:
        return said, closed.rcvd.code if closed.rcvd else None


def test_a_channel_layer_that_is_down_fails_neither_sign_out_nor_save(user, settings, caplog):
    # Nothing listens on this port: every announcement fails.
    use_redis_layer(settings, f"redis://127.0.0.1:{free_port()}/0")
    browser = signed_in(user)
    session_key = session_of(browser)
    with caplog.at_level(logging.WARNING, logger="core.groups"):
        assert browser.post("/logout/").status_code == 302
        user.set_password(NEW_PASSWORD)
        user.save()
    assert session_store(session_key).load() == {}
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    warnings = [r.getMessage() for r in caplog.records if r.name == "core.groups"]
    assert warnings == [
        f"Could not announce session.signed_out to {groups.session_group_name(session_key)}",
        f"Could not announce access.changed to user-{user.pk}",
    ]


def test_asking_whether_a_session_still_holds_costs_two_queries(user, django_assert_num_queries):
    browser = signed_in(user)
    key = session_of(browser)
    opened = session_store(key).load()[HASH_SESSION_KEY]
    with django_assert_num_queries(2):
        assert watch.session_valid(user, session_key=key, opened_hash=opened)
    # Opened with a hash the user no longer has: ended, even if the store were rewritten.
    with django_assert_num_queries(2):
        assert not watch.session_valid(user, session_key=key, opened_hash="0" * 64)
    other = signed_in(User.objects.create_user(username="mallory"))
    with django_assert_num_queries(1):
        assert not watch.session_valid(user, session_key=session_of(other), opened_hash=opened)
    with django_assert_num_queries(1):
        assert not watch.session_valid(user, session_key="no-such-key", opened_hash=opened)


def test_a_session_group_name_hides_the_key():
    key = "k" * 32
    name = groups.session_group_name(key)
    assert name.startswith("session-") and len(name) == len("session-") + 32
    assert key not in name
    assert name != groups.session_group_name("j" * 32)


def test_a_sign_out_without_a_request_announces_nothing(user, caplog):
    # Channels' own `logout(scope)` sends user_logged_out with request=None.
    with caplog.at_level(logging.DEBUG, logger="live.access_push"):
        user_logged_out.send(sender=User, request=None, user=user)
    assert not [r for r in caplog.records if r.name == "live.access_push"]
