import os

import pytest
from rest_framework.test import APIClient

from tests.factories import add_member, make_agent, make_board, make_user

# Rate limits relaxed for every test but those that test them.
pytest_plugins = ["tests.limits_plugin"]

# The servers tests start share the test database and inherit this environment. One that
# delivered webhooks by itself (the default with SQLite) would race a test's own
# deliverer, with a deployment's settings: private receivers refused, retries 8 s apart.
# The tests of that shape ask for it (tests/webhooks/test_processes.py).
os.environ.setdefault("WEBHOOKS_DELIVER_IN_PROCESS", "false")


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def other_user(db):
    return make_user("bob")


@pytest.fixture
def admin_user(db):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def agent_with_token(db):
    return make_agent("claude-1")


@pytest.fixture
def api(user) -> APIClient:
    """A client logged in with a session, as the browsable API and the pages are."""
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def member_api(other_user) -> APIClient:
    """`other_user` (a member of the shared `board`) logged in with a session."""
    client = APIClient()
    client.force_login(other_user)
    return client


@pytest.fixture
def agent_api(agent_with_token) -> APIClient:
    """A client that authenticates with a bearer token, as agents do."""
    _, secret = agent_with_token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


# The shared users who work on the shared `board` when a test uses them: `user` made it
# (its admin), `other_user` is a member, the token agents are agents.
BOARD_TEAM = {
    "other_user": "member",
    "agent_with_token": "agent",
    "second_agent_with_token": "agent",
    "agent": "agent",  # the folders that define an `agent` fixture of their own
    "other_agent": "agent",
}


# Clients that tests pick by name through parametrize, and the user fixture behind each.
CLIENT_USERS = {
    "agent_api": "agent_with_token",
    "second_agent_api": "second_agent_with_token",
    "member_api": "other_user",
}


def join_team(board, request) -> None:
    callspec = getattr(request.node, "callspec", None)
    picked = {
        CLIENT_USERS[value]
        for value in (callspec.params.values() if callspec else ())
        if isinstance(value, str) and value in CLIENT_USERS
    }
    for name, role in BOARD_TEAM.items():
        if name in request.fixturenames or name in picked:
            found = request.getfixturevalue(name)
            add_member(board, found[0] if isinstance(found, tuple) else found, role)


@pytest.fixture
def board(user, request):
    """A board made by `user`; `other_user` and the token agent are on it when used."""
    made = make_board(user, "Project")
    join_team(made, request)
    return made
