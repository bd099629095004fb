"""django_ratelimit's counter for one group, key and rate: its cache key, window and
expiry. The package has no public API for them (only `get_usage`, which costs two
cache round trips), and `core.ratelimits` counts in one Redis pipeline on exactly the
counter `get_usage` would use, so both paths share counts. Every private name of the
package is used here and nowhere else; tests/limits/test_ratelimit_adapter.py fails if
the package changes them (written against django-ratelimit 4.1.0)."""

from dataclasses import dataclass

from django_ratelimit import core as ratelimit_core


@dataclass(frozen=True)
class Counter:
    key: str  # before the cache's own prefix and version
    limit: int
    window_ends: int  # Unix time
    expiry_seconds: int


def counter(group: str, key: str, rate: str) -> Counter:
    limit, period = ratelimit_core._split_rate(rate)
    window = ratelimit_core._get_window(key, period)
    cache_key = ratelimit_core._make_cache_key(group, window, rate, key, ratelimit_core.ALL)
    return Counter(
        key=cache_key,
        limit=limit,
        window_ends=window,
        expiry_seconds=period + ratelimit_core.EXPIRATION_FUDGE,
    )
