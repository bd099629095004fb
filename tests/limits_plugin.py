"""The rate limits stay on for the whole suite, with rates so high that no test trips
them (tests make many writes as the same user, and the browser tests log in from one
address); tests marked `ratelimits` run with the rates they set themselves.

The environment defaults reach the servers the tests start (daphne processes inherit
os.environ); the fixture covers the settings of this process."""

import os

import pytest

RELAXED = {
    "RATELIMIT_WRITE": "1000000/m",
    "RATELIMIT_BULK": "1000000/m",
    "RATELIMIT_LOGIN": "1000000/m",
    "RATELIMIT_WS_CONNECT": "1000000/m",
    "RATELIMIT_PER_IP": "1000000/m",
}
for _name, _rate in RELAXED.items():
    os.environ.setdefault(_name, _rate)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "ratelimits: run with the rate limits the test sets, not the relaxed ones"
    )


@pytest.fixture(autouse=True)
def relaxed_rate_limits(request, settings) -> None:
    if request.node.get_closest_marker("ratelimits") is None:
        for name, rate in RELAXED.items():
            setattr(settings, name, rate)
