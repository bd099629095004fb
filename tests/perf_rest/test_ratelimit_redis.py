"""Rate limits on Redis count in one round trip per limit, on the very counters
django-ratelimit reads and writes (same key, window and expiry)."""

import uuid

import pytest
from django_ratelimit.core import get_usage

from core import ratelimits

REDIS = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS,
            "KEY_PREFIX": f"perfrest-{uuid.uuid4().hex}",
        }
    }
    settings.RATELIMIT_ENABLE = True


def counted(key: str, rate: str) -> int:
    usage = get_usage(None, group="ip", key=lambda *_: key, rate=rate, increment=False)
    return usage["count"]


def test_hits_land_on_django_ratelimits_counter(redis_cache):
    key, rate = f"ip:{uuid.uuid4().hex}", "3/m"
    assert ratelimits.hit("ip", key, rate) is None
    assert ratelimits.hit("ip", key, rate) is None
    assert counted(key, rate) == 2
    get_usage(None, group="ip", key=lambda *_: key, rate=rate, increment=True)
    limited = ratelimits.hit("ip", key, rate)
    assert limited is not None and limited.group == "ip"
    assert 1 <= limited.retry_after <= 65
    assert counted(key, rate) == 4


def test_a_new_window_starts_from_one_and_expires(redis_cache):
    from django.core.cache import caches

    key, rate = f"ip:{uuid.uuid4().hex}", "5/m"
    assert ratelimits.hit("ip", key, rate) is None
    client = caches["default"].client.get_client()
    [stored] = client.keys(f"{caches['default'].key_prefix}*")
    assert int(client.get(stored)) == 1
    assert 0 < client.ttl(stored) <= 65


def test_a_cache_that_is_not_redis_still_counts(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.RATELIMIT_ENABLE = True
    key = f"ip:{uuid.uuid4().hex}"
    assert ratelimits.hit("ip", key, "1/m") is None
    assert ratelimits.hit("ip", key, "1/m") is not None
