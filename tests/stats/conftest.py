import pytest
from django.core.cache import cache

from tests.factories import make_agent
from tests.stats.scenario import build


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The shared fixtures create users with passwords; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts cold: the statistics it reads are computed from its own data."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(db):
    return make_agent("stats-agent")[0]


@pytest.fixture
def known(user, agent):
    return build(user, agent)
