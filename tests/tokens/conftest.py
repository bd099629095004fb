import pytest
from rest_framework.test import APIClient

from agents.services import token_issue
from tests.factories import add_member, make_agent, make_board, make_user


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bearer(secret: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def two_boards(user):
    """Two boards `user` administers, and a third they are not a member of."""
    mine = make_board(user, "Mine")
    also = make_board(user, "Also mine")
    stranger = make_user("stranger")
    foreign = make_board(stranger, "Foreign")
    return mine, also, foreign


@pytest.fixture
def scoped_agent(db, user, two_boards):
    """An agent that is a member of both of `user`'s boards."""
    mine, also, _ = two_boards
    agent, _ = make_agent("scoped-bot")
    add_member(mine, agent, "agent")
    add_member(also, agent, "agent")
    return agent


def issue(owner, **options):
    return token_issue(actor=None, user=owner, name=options.pop("name", "t"), **options)


# Real processes and WebSocket clients, shared with the real-time and MCP tests.
from tests.mcp.conftest import start_daphne  # noqa: E402, F401
from tests.realtime.conftest import sockets  # noqa: E402, F401
