"""Sign-ins, failed sign-ins and sign-outs are recorded, from every way of signing in,
with the address and the name tried, never the password."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.http import request_ip

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse 42"  # tests.factories.make_user's default


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_login_page_success_failure_and_logout(user):
    client = Client()
    failed = client.post("/login/", {"username": "alice", "password": "wrong password!"})
    assert failed.status_code == 200  # the form again
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.post("/logout/").status_code == 302
    assert actions() == ["auth.login_failed", "auth.login", "auth.logout"]

    failure, login, logout = AuditEvent.objects.order_by("id")
    assert failure.actor is None and failure.details == {"username": "alice"}
    assert failure.ip == "127.0.0.1"
    assert (login.actor, login.ip, login.target_id) == (user, "127.0.0.1", str(user.pk))
    assert logout.actor == user
    for event in AuditEvent.objects.all():
        assert "wrong password" not in str(event.details) and PASSWORD not in str(event.details)


def test_api_session_login_is_recorded_too(user):
    client = APIClient()
    wrong = {"username": "nobody-here", "password": "whatever123"}
    assert client.post("/api/users/session", wrong, format="json").status_code == 401
    right = {"username": "alice", "password": PASSWORD}
    assert client.post("/api/users/session", right, format="json").status_code == 200
    assert actions() == ["auth.login_failed", "auth.login"]
    failure = AuditEvent.objects.get(action="auth.login_failed")
    assert failure.details == {"username": "nobody-here"}


def test_an_overlong_username_is_cut(db):
    Client().post("/login/", {"username": "x" * 140, "password": "nope"})
    Client().post("/api/users/session", {"username": "y" * 150, "password": "n"})
    names = [event.details["username"] for event in AuditEvent.objects.order_by("id")]
    assert names and all(len(name) <= 150 for name in names)


def test_the_address_comes_from_our_proxy_only(rf, settings):
    settings.TRUSTED_PROXIES = []
    proxied = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert request_ip(proxied) == "127.0.0.1"  # no proxy is trusted unless configured

    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    direct = rf.get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert request_ip(direct) == "203.0.113.5"  # a client cannot claim another address
    chain = rf.get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7, 10.1.1.1"
    )
    assert request_ip(chain) == "198.51.100.7"  # the first hop our proxies did not add
    junk = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert request_ip(junk) == "127.0.0.1"
    assert request_ip(rf.get("/", REMOTE_ADDR="")) is None
    assert request_ip(None) is None
