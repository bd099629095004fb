"""Hostile text stored through the API comes back escaped in every page that shows it:
the markup appears as text, never as markup (no script of ours but /static/ files, no
event-handler attributes, no javascript: links)."""

import html
from html.parser import HTMLParser

import pytest

from tests.factories import make_board, make_ticket
from tests.security.corpus import TEXT

pytestmark = pytest.mark.django_db

SCRIPT = TEXT["script"]
IMG = TEXT["img_onerror"]
JS_URL = TEXT["javascript_url"]
MARKDOWN = f"{SCRIPT}\n\n{IMG}\n\n[click me]({JS_URL})\n\n<a href='{JS_URL}'>raw link</a>"


class Markup(HTMLParser):
    """What a browser would run: scripts, inline handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not (attributes.get("src") or "").startswith("/static/"):
            self.problems.append(f"inline or foreign script: {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")


def assert_inert(page: str) -> None:
    markup = Markup()
    markup.feed(page)
    assert not markup.problems, markup.problems
    for raw in (SCRIPT, IMG):
        assert raw not in page


@pytest.fixture
def hostile(user, api):
    board = make_board(user, IMG, columns=[SCRIPT, "Doing", "Done"])
    api.patch(f"/api/boards/{board.pk}", {"description": MARKDOWN}, format="json")
    ticket = make_ticket(
        user, board, SCRIPT, description=MARKDOWN, acceptance_criteria=IMG, labels=[IMG]
    )
    response = api.post("/api/comments/", {"ticket_id": ticket.pk, "text": MARKDOWN}, format="json")
    assert response.status_code == 201, response.content
    return board, ticket


def test_the_dashboard_shows_hostile_names_as_text(api, hostile):
    page = api.get("/").content.decode()
    assert_inert(page)
    assert html.escape(IMG, quote=False) in page or html.escape(IMG) in page


def test_the_board_page_shows_hostile_cards_as_text(api, hostile):
    board, _ = hostile
    response = api.get(f"/boards/{board.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert_inert(page)
    assert html.escape(SCRIPT) in page or html.escape(SCRIPT, quote=False) in page


def test_the_card_detail_shows_hostile_text_and_markdown_as_text(api, hostile):
    board, ticket = hostile
    response = api.get(f"/boards/{board.pk}/tickets/{ticket.pk}/", HTTP_X_FRAGMENT="1")
    assert response.status_code == 200
    page = response.content.decode()
    assert_inert(page)
    assert "click me" in page  # the markdown link text survives; its javascript: URL does not


def test_the_card_fragment_shows_the_hostile_card_as_text(api, hostile):
    board, ticket = hostile
    response = api.get(f"/boards/{board.pk}/cards/{ticket.pk}/")
    assert response.status_code == 200
    assert_inert(response.content.decode())


def test_the_insights_page_shows_hostile_names_as_text(api, hostile):
    board, _ = hostile
    response = api.get(f"/boards/{board.pk}/insights/")
    assert response.status_code == 200
    assert_inert(response.content.decode())
