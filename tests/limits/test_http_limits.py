"""Rate limits on HTTP requests, through the real middleware and the real cache."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import make_agent, make_ticket, make_user
from tests.limits.conftest import assert_rate_limited

pytestmark = [pytest.mark.ratelimits, pytest.mark.django_db]


def create_board(client, name: str = "B", **extra):
    return client.post("/api/boards/", {"name": name}, format="json", **extra)


def test_writes_over_the_limit_get_429_with_retry_after(limits, api):
    limits.RATELIMIT_WRITE = "3/d"
    for index in range(3):
        assert create_board(api, f"B{index}").status_code == 201
    assert_rate_limited(create_board(api), "at most 3 per day")
    # Every further write is refused too, whatever the endpoint.
    assert_rate_limited(api.post("/api/comments/", {}, format="json"), "writes")


def test_reads_are_not_limited_by_the_write_limit(limits, api):
    limits.RATELIMIT_WRITE = "1/d"
    assert create_board(api).status_code == 201
    assert create_board(api).status_code == 429
    for _ in range(5):
        assert api.get("/api/boards/").status_code == 200


def test_the_write_limit_is_per_identity(limits, api, user):
    limits.RATELIMIT_WRITE = "2/d"
    for _ in range(2):
        assert create_board(api).status_code == 201
    assert create_board(api).status_code == 429
    someone_else = APIClient()
    someone_else.force_login(make_user("carol"))
    assert create_board(someone_else).status_code == 201


def test_a_token_and_a_session_of_one_user_share_one_count(limits):
    limits.RATELIMIT_WRITE = "2/d"
    agent, secret = make_agent("counted-agent")
    by_token = APIClient()
    by_token.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    by_session = APIClient()
    by_session.force_login(agent)
    assert create_board(by_token).status_code == 201
    assert create_board(by_session).status_code == 201
    assert_rate_limited(create_board(by_token), "writes")
    assert_rate_limited(create_board(by_session), "writes")


def test_anonymous_writes_count_per_address(limits, anon):
    limits.RATELIMIT_WRITE = "2/d"
    for _ in range(2):
        assert create_board(anon, REMOTE_ADDR="10.0.0.1").status_code == 401
    assert_rate_limited(create_board(anon, REMOTE_ADDR="10.0.0.1"), "writes")
    assert create_board(anon, REMOTE_ADDR="10.0.0.2").status_code == 401


def test_an_unknown_token_counts_against_its_address(limits):
    limits.RATELIMIT_WRITE = "1/d"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    assert create_board(client, REMOTE_ADDR="10.0.0.3").status_code == 401
    assert create_board(client, REMOTE_ADDR="10.0.0.3").status_code == 429
    assert create_board(client, REMOTE_ADDR="10.0.0.4").status_code == 401


def test_bulk_operations_have_their_own_lower_limit(limits, api, user, board):
    limits.RATELIMIT_WRITE = "100/d"
    limits.RATELIMIT_BULK = "2/d"
    ticket = make_ticket(user, board, "One")
    body = {"ticket_ids": [ticket.pk], "priority": "high"}
    for _ in range(2):
        assert api.post("/api/bulk/tickets/priority", body, format="json").status_code == 200
    response = api.post("/api/bulk/tickets/priority", body, format="json")
    assert_rate_limited(response, "bulk operations")
    assert_rate_limited(api.post("/api/bulk/tickets/move", {}, format="json"), "bulk")
    # Single writes still go through.
    assert api.post(f"/api/tickets/{ticket.pk}/claim", {}, format="json").status_code == 200


def test_switched_off_by_ratelimit_enable(limits, api):
    limits.RATELIMIT_WRITE = "1/d"
    limits.RATELIMIT_PER_IP = "1/d"
    limits.RATELIMIT_ENABLE = False
    for index in range(4):
        assert create_board(api, f"B{index}").status_code == 201


def test_a_rate_of_off_switches_one_limit_off(limits, api):
    limits.RATELIMIT_WRITE = None
    limits.RATELIMIT_PER_IP = "100/d"
    for index in range(4):
        assert create_board(api, f"B{index}").status_code == 201


def test_every_request_from_one_address_counts_against_the_address_limit(limits, anon):
    limits.RATELIMIT_PER_IP = "3/d"
    for _ in range(3):
        assert anon.get("/api/health/simple", REMOTE_ADDR="10.0.1.1").status_code == 200
        assert anon.get("/api/boards/", REMOTE_ADDR="10.0.1.1").status_code == 401
    assert_rate_limited(anon.get("/api/boards/", REMOTE_ADDR="10.0.1.1"), "your address")
    # Health checks are exempt; other addresses have their own count.
    assert anon.get("/api/health/simple", REMOTE_ADDR="10.0.1.1").status_code == 200
    assert anon.get("/api/boards/", REMOTE_ADDR="10.0.1.2").status_code == 401


def test_ipv6_clients_count_per_64_block(limits, anon):
    limits.RATELIMIT_PER_IP = "2/d"
    assert anon.get("/api/boards/", REMOTE_ADDR="2001:db8:1:1::1").status_code == 401
    assert anon.get("/api/boards/", REMOTE_ADDR="2001:db8:1:1::2").status_code == 401
    assert anon.get("/api/boards/", REMOTE_ADDR="2001:db8:1:1:ffff::9").status_code == 429
    assert anon.get("/api/boards/", REMOTE_ADDR="2001:db8:1:2::1").status_code == 401


def test_forwarded_for_counts_only_behind_a_trusted_proxy(limits, anon):
    limits.RATELIMIT_PER_IP = "1/d"
    spoofed = {"REMOTE_ADDR": "10.0.2.1"}
    assert anon.get("/api/boards/", HTTP_X_FORWARDED_FOR="1.1.1.1", **spoofed).status_code == 401
    # Not behind a trusted proxy: a made-up X-Forwarded-For does not buy a new count.
    response = anon.get("/api/boards/", HTTP_X_FORWARDED_FOR="2.2.2.2", **spoofed)
    assert response.status_code == 429
    limits.TRUSTED_PROXIES = ["127.0.0.1"]
    proxied = {"REMOTE_ADDR": "127.0.0.1"}
    assert anon.get("/api/boards/", HTTP_X_FORWARDED_FOR="3.3.3.3", **proxied).status_code == 401
    assert anon.get("/api/boards/", HTTP_X_FORWARDED_FOR="4.4.4.4", **proxied).status_code == 401
    # The client's own additions to the header (left of the proxy's) do not count.
    again = anon.get("/api/boards/", HTTP_X_FORWARDED_FOR="9.9.9.9, 3.3.3.3", **proxied)
    assert again.status_code == 429


# ------------------------------------------------------------------ logging in


def log_in(client, username: str, password: str, **extra):
    body = {"username": username, "password": password}
    return client.post("/api/users/session", body, format="json", **extra)


def test_login_attempts_are_limited_per_address(limits, user, anon):
    limits.RATELIMIT_LOGIN = "3/d"
    for attempt in range(3):
        assert log_in(anon, f"nobody{attempt}", "wrong").status_code == 401
    # Over the limit even with the right password.
    assert_rate_limited(log_in(anon, "alice", "correct horse 42"), "login attempts")
    assert log_in(anon, "alice", "correct horse 42", REMOTE_ADDR="10.0.3.1").status_code == 200


def test_login_attempts_are_limited_per_username(limits, user, anon):
    limits.RATELIMIT_LOGIN = "3/d"
    for attempt in range(3):
        response = log_in(anon, "Alice", "wrong", REMOTE_ADDR=f"10.0.4.{attempt}")
        assert response.status_code == 401
    response = log_in(anon, "alice", "correct horse 42", REMOTE_ADDR="10.0.4.9")
    assert_rate_limited(response, "login attempts")
    assert log_in(anon, "bob", "x", REMOTE_ADDR="10.0.4.9").status_code == 401


def test_the_login_page_answers_429_with_a_page(limits, user):
    limits.RATELIMIT_LOGIN = "2/d"
    browser = Client()
    for _ in range(2):
        page = browser.post("/login/", {"username": "alice", "password": "wrong"})
        assert page.status_code == 200  # the form again, with its error
    page = browser.post("/login/", {"username": "alice", "password": "correct horse 42"})
    assert page.status_code == 429
    assert page["Content-Type"].startswith("text/html")
    assert int(page["Retry-After"]) >= 1
    html = page.content.decode()
    assert "Too many login attempts" in html and 'href="/login/"' in html
    assert "_auth_user_id" not in browser.session


def test_logging_out_is_not_a_counted_write(limits, api):
    limits.RATELIMIT_WRITE = "1/d"
    assert create_board(api).status_code == 201
    assert api.delete("/api/users/session").status_code == 204


def test_page_writes_count_too(limits, user, board):
    limits.RATELIMIT_WRITE = "1/d"
    browser = Client()
    browser.force_login(user)
    first = browser.post("/boards/new/", {"name": "From the page"})
    assert first.status_code in (200, 302)
    again = browser.post("/boards/new/", {"name": "Once more"})
    assert again.status_code == 429
    assert "Too many writes" in again.content.decode()


# ------------------------------------------------------------------ the shared cache


def test_a_cache_that_is_down_lets_requests_through(limits, api):
    """The limits protect the service; a Redis outage must not refuse every write."""
    limits.RATELIMIT_WRITE = "1/d"
    limits.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    for index in range(3):
        assert create_board(api, f"B{index}").status_code == 201
