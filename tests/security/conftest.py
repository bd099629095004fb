import pytest

# The browser tests' fixtures (daphne on the test database, Chromium, error watcher).
from tests.e2e.conftest import browser, live_server_url, new_context, watcher  # noqa: F401


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The shared fixtures create users with passwords; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
