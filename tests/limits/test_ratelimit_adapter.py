"""core.ratelimit_keys leans on django_ratelimit's private names: these tests fail,
naming the version they were written against, when an upgrade changes them, and they
prove our one-round-trip counter is the very counter the public `get_usage` counts."""

import inspect
import uuid
from importlib.metadata import version

from django.core.cache import caches
from django_ratelimit import core as ratelimit_core
from django_ratelimit.core import get_usage

from core import ratelimits
from core.ratelimit_keys import counter

WRITTEN_AGAINST = "django-ratelimit 4.1.0"


def test_the_private_names_keep_their_shape():
    expected = {
        "_split_rate": ["rate"],
        "_get_window": ["value", "period"],
        "_make_cache_key": ["group", "window", "rate", "value", "methods"],
    }
    for name, parameters in expected.items():
        function = getattr(ratelimit_core, name, None)
        assert function is not None, f"{name} is gone since {WRITTEN_AGAINST}"
        assert list(inspect.signature(function).parameters) == parameters, (
            f"{name} changed its arguments since {WRITTEN_AGAINST} "
            f"(installed: {version('django-ratelimit')})"
        )
    assert isinstance(ratelimit_core.EXPIRATION_FUDGE, int), WRITTEN_AGAINST
    assert ratelimit_core._split_rate("5/2m") == (5, 120), WRITTEN_AGAINST


def test_the_public_counter_is_the_one_the_adapter_names(settings):
    # The default cache of the pass: local memory on SQLite, Redis on PostgreSQL.
    settings.RATELIMIT_ENABLE = True
    key, rate = f"user:{uuid.uuid4().hex}", "3/m"
    found = counter("write", key, rate)
    for count in (1, 2):
        get_usage(None, group="write", key=lambda *_: key, rate=rate, increment=True)
        assert caches["default"].get(found.key) == count, WRITTEN_AGAINST
    assert found.limit == 3
    assert found.expiry_seconds == 60 + ratelimit_core.EXPIRATION_FUDGE


def test_our_count_and_the_public_count_add_up(settings):
    settings.RATELIMIT_ENABLE = True
    key, rate = f"user:{uuid.uuid4().hex}", "2/m"
    assert ratelimits.hit("write", key, rate) is None
    get_usage(None, group="write", key=lambda *_: key, rate=rate, increment=True)
    # The third request of the window, counted by either path, is over the limit.
    assert ratelimits.hit("write", key, rate) is not None
