"""The token page, with Django's test client: the secret is shown once, tokens are
listed, revoking needs a POST with the CSRF token."""

import re

import pytest
from django.test import Client

from agents.models import ApiToken
from audit.models import AuditEvent
from tests.factories import make_agent
from tests.tokens.conftest import bearer, issue

pytestmark = pytest.mark.django_db


def logged_in(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def csrf_token(client: Client, url: str = "/tokens/") -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_page_needs_a_login(client):
    response = client.get("/tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_create_shows_the_secret_once_then_lists_the_token(user, two_boards):
    mine, _, _ = two_boards
    client = logged_in(user)
    page = client.get("/tokens/").content.decode()
    assert "No tokens yet" in page
    # Only boards the owner can read are offered.
    assert "Mine" in page and "Also mine" in page and "Foreign" not in page

    response = client.post(
        "/tokens/",
        {"name": "laptop", "expires_days": "30", "read_only": "1", "boards": [str(mine.pk)]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    token = ApiToken.objects.get(user=user)
    secret = re.search(r"<code class=\"secret\" data-secret>(ak_[^<]+)</code>", body).group(1)
    assert secret.startswith(token.prefix)
    assert token.read_only and list(token.boards.all()) == [mine]
    assert token.expires_at is not None
    assert bearer(secret).get(f"/api/boards/{mine.pk}").status_code == 200

    again = client.get("/tokens/").content.decode()
    assert secret not in again
    assert "laptop" in again and token.prefix in again and "read-only" in again
    assert "data-status>active<" in again


def test_bad_input_keeps_the_form_and_makes_nothing(user, two_boards):
    _, _, foreign = two_boards
    client = logged_in(user)
    response = client.post("/tokens/", {"name": "x", "boards": [str(foreign.pk)]})
    assert response.status_code == 400
    assert "Some boards do not exist." in response.content.decode()
    response = client.post("/tokens/", {"name": "", "expires_days": "7"})
    assert response.status_code == 400
    response = client.post("/tokens/", {"name": "x", "expires_days": "-3"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_revoke_needs_post_and_csrf(user):
    token = issue(user, name="old").token
    client = logged_in(user, csrf=True)
    assert client.get(f"/tokens/{token.pk}/revoke/").status_code == 405
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 403  # no CSRF token
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None

    response = client.post(
        f"/tokens/{token.pk}/revoke/", {"csrfmiddlewaretoken": csrf_token(client)}
    )
    assert response.status_code == 302 and response["Location"] == "/tokens/"
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    page = client.get("/tokens/").content.decode()
    assert "revoked" in page and f"/tokens/{token.pk}/revoke/" not in page
    assert AuditEvent.objects.filter(action="token.revoked", actor=user).exists()


def test_someone_elses_token_cannot_be_revoked_or_seen(user, other_user):
    theirs = issue(other_user, name="bobs").token
    client = logged_in(user)
    assert client.post(f"/tokens/{theirs.pk}/revoke/").status_code == 404
    assert client.get("/tokens/?user=bob").status_code == 404
    assert client.post("/tokens/", {"user": "bob", "name": "x"}).status_code == 404
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    assert "bobs" not in client.get("/tokens/").content.decode()


def test_site_admin_picks_an_agent_and_manages_its_tokens(admin_user, user):
    agent, _ = make_agent("pick-bot")
    client = logged_in(admin_user)
    page = client.get("/tokens/").content.decode()
    assert '<option value="pick-bot"' in page
    assert '<option value="alice"' not in page  # people make their own

    agent_page = client.get("/tokens/?user=pick-bot").content.decode()
    assert "default" in agent_page
    response = client.post("/tokens/", {"user": "pick-bot", "name": "night shift"})
    assert response.status_code == 200
    assert "data-secret>ak_" in response.content.decode()
    made = ApiToken.objects.get(user=agent, name="night shift")

    revoked = client.post(f"/tokens/{made.pk}/revoke/")
    assert revoked["Location"] == "/tokens/?user=pick-bot"
    made.refresh_from_db()
    assert made.revoked_at is not None


def test_the_header_links_to_the_token_page(user, admin_user):
    page = logged_in(user).get("/").content.decode()
    assert 'href="/tokens/"' in page and 'href="/audit/"' not in page
    assert 'href="/audit/"' in logged_in(admin_user).get("/").content.decode()
