import pytest
from rest_framework.test import APIClient

from tests.factories import make_agent, make_board, make_user


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
def agent_api(agent_with_token) -> APIClient:
    """A client that authenticates with a bearer token, as agents do."""
    _, secret = agent_with_token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def board(user):
    return make_board(user, "Project")
