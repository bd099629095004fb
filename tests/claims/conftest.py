import pytest
from rest_framework.test import APIClient

from tests.claims.helpers import bearer
from tests.factories import make_agent


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The shared fixtures create users with passwords; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def agent(agent_with_token):
    return agent_with_token[0]


@pytest.fixture
def second_agent_with_token(db):
    return make_agent("codex-2")


@pytest.fixture
def second_agent(second_agent_with_token):
    return second_agent_with_token[0]


@pytest.fixture
def second_agent_api(second_agent_with_token) -> APIClient:
    return bearer(second_agent_with_token[1])


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    client = APIClient()
    client.force_login(admin_user)
    return client
