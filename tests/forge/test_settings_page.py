"""The board's Forge events page (/boards/{id}/forge/): board admins set and clear each
secret (never shown), pick the rules' columns and read the hook URLs; the Members page
links to it. Plain forms with CSRF, no inline script."""

import re

import pytest
from django.test import Client

from forge.models import ForgeSettings
from tests.factories import add_member, make_board, make_user

pytestmark = pytest.mark.django_db

SECRET = "page secret 0123456789"


@pytest.fixture
def fresh(user):
    return make_board(user, "Paged", columns=["Todo", "Review", "Done"])


@pytest.fixture
def admin_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_post(client: Client, url: str, data: dict):
    page = client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return client.post(url, {**data, "csrfmiddlewaretoken": token}, follow=True)


def test_the_page_shows_hook_urls_and_which_secrets_are_set(admin_client, fresh):
    page = admin_client.get(f"/boards/{fresh.pk}/forge/").content.decode()
    for forge in ("github", "gitlab", "gitea"):
        assert f"http://testserver/api/hooks/{forge}/{fresh.pk}" in page
    assert page.count("not set: refused") == 3
    assert "<script>" not in page and " on" + "click=" not in page


def test_an_admin_sets_clears_secrets_and_picks_columns(admin_client, fresh):
    url = f"/boards/{fresh.pk}/forge/"
    saved = csrf_post(
        admin_client, url, {"operation": "set", "forge": "gitlab", "secret": SECRET}
    ).content.decode()
    assert "GitLab secret saved." in saved and SECRET not in saved
    assert ForgeSettings.objects.get(board=fresh).gitlab_secret == SECRET
    assert saved.count("not set: refused") == 2
    rules = csrf_post(
        admin_client, url, {"operation": "rules", "on_pr_opened": "Review", "on_pr_merged": ""}
    ).content.decode()
    assert "Rules saved." in rules
    assert '<option value="Review" selected>' in rules
    settings = ForgeSettings.objects.get(board=fresh)
    assert settings.on_pr_opened.name == "Review" and settings.on_pr_merged is None
    cleared = csrf_post(admin_client, url, {"operation": "clear", "forge": "gitlab"})
    assert "GitLab secret cleared." in cleared.content.decode()
    assert ForgeSettings.objects.get(board=fresh).gitlab_secret == ""


def test_a_refused_value_is_said_on_the_page(admin_client, fresh):
    url = f"/boards/{fresh.pk}/forge/"
    short = csrf_post(admin_client, url, {"operation": "set", "forge": "github", "secret": "x"})
    assert "A secret of 12 to 255 characters" in short.content.decode()
    empty = csrf_post(admin_client, url, {"operation": "set", "forge": "github", "secret": ""})
    assert "Type the secret to save" in empty.content.decode()
    unknown = csrf_post(admin_client, url, {"operation": "rules", "on_pr_opened": "Nope"})
    assert "No column &#x27;Nope&#x27; on this board" in unknown.content.decode()
    assert not ForgeSettings.objects.filter(board=fresh).exists()


def test_a_post_without_the_csrf_token_is_refused(admin_client, fresh):
    response = admin_client.post(
        f"/boards/{fresh.pk}/forge/", {"operation": "set", "forge": "github", "secret": SECRET}
    )
    assert response.status_code == 403
    assert not ForgeSettings.objects.filter(board=fresh).exists()


def test_members_get_403_and_strangers_404(fresh):
    member, stranger = make_user("member"), make_user("stranger")
    add_member(fresh, member, "member")
    for who, status in ((member, 403), (stranger, 404)):
        client = Client()
        client.force_login(who)
        assert client.get(f"/boards/{fresh.pk}/forge/").status_code == status
        post = client.post(f"/boards/{fresh.pk}/forge/", {"operation": "rules"})
        assert post.status_code == status


def test_the_members_page_links_to_it_for_admins_only(admin_client, fresh):
    members = admin_client.get(f"/boards/{fresh.pk}/members/").content.decode()
    assert f'href="/boards/{fresh.pk}/forge/"' in members
    member = make_user("member")
    add_member(fresh, member, "member")
    client = Client()
    client.force_login(member)
    assert "/forge/" not in client.get(f"/boards/{fresh.pk}/members/").content.decode()
