"""The admin: every model's pages render for a superuser without a query per row;
domain models are view-only; tokens are revoked, never made, here."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import urlencode

from agents.models import ApiToken, User
from agents.services import token_issue, token_revoke
from boards.models import Board
from tests.factories import make_board, make_user
from tests.operators.worlds import sized_world

pytestmark = pytest.mark.django_db

MODELS = {
    "user": "agents_user",
    "apitoken": "agents_apitoken",
    "board": "boards_board",
    "column": "boards_column",
    "ticket": "tickets_ticket",
    "label": "tickets_label",
    "comment": "comments_comment",
    "tickethistory": "history_tickethistory",
    "boardevent": "boards_boardevent",
}


@pytest.fixture
def browser(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def get(browser: Client, url: str) -> tuple[int, str]:
    """Query count and body of a page that must render."""
    with CaptureQueriesContext(connection) as context:
        response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(context.captured_queries), response.content.decode()


def pages(world: dict) -> dict[str, str]:
    urls = {}
    for model, name in MODELS.items():
        urls[f"{model} list"] = reverse(f"admin:{name}_changelist")
        urls[f"{model} page"] = reverse(f"admin:{name}_change", args=[world[model].pk])
    return urls


def test_every_page_renders_in_the_same_queries_for_3_and_30_rows(browser):
    small = pages(sized_world(3, "s"))
    for url in small.values():
        browser.get(url)  # warm per-process caches (content types) before counting
    small_counts = {page: get(browser, url)[0] for page, url in small.items()}

    large = sized_world(30, "l")
    large_counts, bodies = {}, {}
    for page, url in pages(large).items():
        large_counts[page], bodies[page] = get(browser, url)

    assert large_counts == small_counts
    assert "Ticket l 29" in bodies["ticket list"] and "Comment 29" in bodies["comment list"]
    assert "Col 29" in bodies["board page"] and "label-19" in bodies["ticket page"]
    for model in MODELS:
        assert escape(str(large[model])) in bodies[f"{model} page"], model


def test_ticket_changelist_shows_readable_names(browser):
    world = sized_world(3, "n")
    _, body = get(browser, reverse("admin:tickets_ticket_changelist"))
    ticket = world["ticket"]
    assert ticket.title in body and "Board n" in body and "Col 0" in body
    assert "person-n-1" in body  # an assignee by name


@pytest.mark.parametrize("model", [m for m in MODELS if m not in {"user", "apitoken"}])
def test_domain_models_are_view_only(browser, model):
    world = sized_world(3, "v")
    name = MODELS[model]
    assert browser.get(reverse(f"admin:{name}_add")).status_code == 403
    change = reverse(f"admin:{name}_change", args=[world[model].pk])
    _, page = get(browser, change)
    assert 'name="_save"' not in page
    assert browser.post(change, {}).status_code == 403
    assert browser.get(reverse(f"admin:{name}_delete", args=[world[model].pk])).status_code == 403
    _, listing = get(browser, reverse(f"admin:{name}_changelist"))
    assert "delete_selected" not in listing


def test_boards_cannot_be_deleted_through_the_admin(browser, user):
    board = make_board(user, "Kept")
    response = browser.post(
        reverse("admin:boards_board_changelist"),
        {"action": "delete_selected", "_selected_action": [board.pk], "post": "yes"},
    )
    assert response.status_code in {200, 302}
    assert Board.objects.filter(pk=board.pk).exists()


def test_user_admin_lists_and_filters_agents(browser, agent_with_token, user):
    agent, _ = agent_with_token
    url = reverse("admin:agents_user_changelist")
    _, body = get(browser, url + "?is_agent__exact=1")
    assert agent.username in body and f">{user.username}<" not in body
    assert "By is agent" in get(browser, url)[1]


def test_an_agent_account_can_be_added_in_the_admin(browser):
    response = browser.post(
        reverse("admin:agents_user_add"),
        {"username": "added-agent", "is_agent": "on", "usable_password": "false"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = User.objects.get(username="added-agent")
    assert added.is_agent and not added.has_usable_password()


def test_tokens_are_not_addable_and_the_listing_says_how_to_make_one(browser, user):
    assert browser.get(reverse("admin:agents_apitoken_add")).status_code == 403
    _, body = get(browser, reverse("admin:agents_apitoken_changelist"))
    assert "manage.py create_token USERNAME" in body
    assert "Add api token" not in body


def test_revoke_action_revokes_the_selected_tokens_only(browser, user, anon):
    keep, revoke, again = (
        token_issue(actor=user, user=user, name=name) for name in ("keep", "go", "again")
    )
    earlier = token_revoke(actor=user, token=again.token).revoked_at

    response = browser.post(
        reverse("admin:agents_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [revoke.token.pk, again.token.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Revoked 1 token(s)." in response.content.decode()
    tokens = {token.name: token for token in ApiToken.objects.all()}
    assert tokens["keep"].revoked_at is None
    assert tokens["go"].revoked_at is not None
    assert tokens["again"].revoked_at == earlier  # an earlier revocation is kept
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {revoke.secret}")
    assert anon.get("/api/users/session").status_code == 401
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {keep.secret}")
    assert anon.get("/api/users/session").status_code == 200


def test_staff_without_token_permission_cannot_revoke():
    staff = make_user("staffer", is_staff=True)
    token = token_issue(actor=staff, user=staff, name="mine")
    client = Client()
    client.force_login(staff)
    response = client.post(
        reverse("admin:agents_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.token.pk]},
    )
    assert response.status_code == 403
    token.token.refresh_from_db()
    assert token.token.revoked_at is None


@pytest.mark.parametrize("query", ["Ticket", "35", "a'b\"c%"])
def test_every_changelist_searches_without_error(browser, query):
    sized_world(3, "q")
    for name in MODELS.values():
        get(browser, reverse(f"admin:{name}_changelist") + "?" + urlencode({"q": query}))
