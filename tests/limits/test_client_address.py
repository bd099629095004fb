"""The audit log and the rate limits see one client address (`core.http.request_ip`): for
an IPv6 client behind a trusted proxy, the /64 block its forwarded address belongs to."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.ratelimits import hit
from tests.limits.conftest import assert_rate_limited

pytestmark = [pytest.mark.ratelimits, pytest.mark.django_db]

PROXY = "10.9.8.7"
CLIENT = "2001:db8:1:2:aaaa:bbbb:cccc:dddd"
SAME_64 = "2001:db8:1:2::77"  # another address of the client's /64 block
OTHER_64 = "2001:db8:1:3::77"
CLIENT_64 = "2001:db8:1:2::"
OTHER_64_BLOCK = "2001:db8:1:3::"


def failed_login(username: str, forwarded_for: str):
    """A sign-in with a wrong password, as nginx forwards it."""
    return Client().post(
        "/api/users/session",
        {"username": username, "password": "wrong"},
        content_type="application/json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"198.51.100.1, {forwarded_for}",  # the left hop is the client's say
    )


def failed_login_addresses() -> list[str]:
    rows = AuditEvent.objects.filter(action="auth.login_failed").order_by("pk")
    return [str(ip) for ip in rows.values_list("ip", flat=True)]


@pytest.fixture
def behind_proxy(limits):
    limits.TRUSTED_PROXIES = ["10.0.0.0/8"]
    limits.RATELIMIT_LOGIN = "2/d"
    return limits


def test_audit_and_login_limit_count_one_ipv6_client_by_its_64(behind_proxy):
    # Each attempt names another user, so only the per-address count can refuse.
    assert failed_login("nobody-1", CLIENT).status_code == 401
    assert failed_login("nobody-2", SAME_64).status_code == 401
    assert_rate_limited(failed_login("nobody-3", SAME_64), "login attempts")
    assert failed_login("nobody-4", OTHER_64).status_code == 401
    # The refused attempt never reached the sign-in, so it left no row.
    assert failed_login_addresses() == [CLIENT_64, CLIENT_64, OTHER_64_BLOCK]


def test_the_login_counter_is_keyed_by_the_address_the_audit_log_keeps(behind_proxy):
    assert failed_login("nobody-1", CLIENT).status_code == 401
    assert failed_login("nobody-2", SAME_64).status_code == 401
    [audited, _] = failed_login_addresses()
    # Two attempts counted under the audited address: the next one there is over the limit.
    assert hit("login", f"ip:{audited}", behind_proxy.RATELIMIT_LOGIN) is not None
    # Nothing was counted under the address as sent, nor under the proxy's.
    assert hit("login", f"ip:{CLIENT}", behind_proxy.RATELIMIT_LOGIN) is None
    assert hit("login", f"ip:{PROXY}", behind_proxy.RATELIMIT_LOGIN) is None
