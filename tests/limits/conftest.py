import uuid

import pytest

from core.ratelimits import LIMIT_SETTINGS

ENVELOPE_KEYS = {"message", "code", "error_id", "timestamp", "validation_errors", "request_id"}


@pytest.fixture(autouse=True)
def limits(settings):
    """The limits on, every rate off until the test sets the one it tests, and counters
    of this test's own: the PostgreSQL pass shares one Redis cache between all tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_CACHE_PREFIX = f"rl-test-{uuid.uuid4().hex}:"
    for name in LIMIT_SETTINGS:
        setattr(settings, name, None)
    return settings


def assert_rate_limited(response, words: str) -> int:
    """A 429 in the error envelope, with the same Retry-After in the header and the
    body; returns it."""
    assert response.status_code == 429, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == ENVELOPE_KEYS | {"retry_after"}, error
    assert error["code"] == "rate_limited"
    assert words in error["message"], error["message"]
    retry_after = int(response["Retry-After"])
    assert retry_after == error["retry_after"]
    assert 1 <= retry_after <= 24 * 60 * 60
    return retry_after
