import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The default hasher costs most of a second per user on this machine; these tests
    check the API, not the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
