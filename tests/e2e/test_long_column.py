"""A column longer than a screen: the page holds its first cards and fetches the rest as
the column scrolls (or as the keyboard goes past the last one). Moves, filters and live
updates still reach every card of it, those the page does not hold yet included."""

import pytest
from playwright.sync_api import expect

from boards.models import Board
from tests.e2e.conftest import eventually, log_in, open_board
from tests.factories import add_member, make_board, make_ticket
from tickets.models import Ticket
from web.boards import FIRST_CARDS

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 150
READY = 60


def titles_in(board: Board, column: str) -> list[str]:
    return list(
        Ticket.objects.filter(board=board, column__name=column)
        .order_by("position", "id")
        .values_list("title", flat=True)
    )


def long_board(user) -> Board:
    board = make_board(user, "Long columns", columns=["Backlog", "Ready", "Done"])
    for index in range(BACKLOG):
        make_ticket(user, board, f"Card {index:03}", column="Backlog")
    for index in range(READY):
        make_ticket(user, board, f"Ready {index:03}", column="Ready")
    return board


def cards(page, column: str):
    return page.locator(f'[data-column-name="{column}"] [data-card]')


def shown_titles(page, column: str) -> list[str]:
    # textContent: a card off screen is not rendered (content-visibility), so it has no innerText.
    return (
        cards(page, column)
        .locator(".card-title")
        .evaluate_all("titles => titles.map((title) => title.textContent.trim())")
    )


def scroll_to_the_end(page, column: str, expected: int) -> None:
    """Scroll the column down until the page holds all its cards."""
    cards_list = page.locator(f'[data-column-name="{column}"] [data-cards]')

    def loaded():
        cards_list.evaluate("list => { list.scrollTop = list.scrollHeight; }")
        page.wait_for_timeout(50)
        return cards(page, column).count() == expected and not page.evaluate(
            "!!document.querySelector('#board[data-syncing]')"
        )

    eventually(loaded, timeout=20, message=f"{column} did not load all {expected} cards")


def focused_title(page) -> str:
    return page.evaluate("document.activeElement.querySelector('.card-title')?.textContent")


def below_the_columns_top(page) -> float:
    """How far the focused card sits below the top of its column's list, in pixels."""
    return page.evaluate(
        """() => {
          const card = document.activeElement;
          const list = card.closest("[data-cards]");
          return card.getBoundingClientRect().top - list.getBoundingClientRect().top;
        }"""
    )


def test_live_updates_reach_the_cards_a_long_column_has_not_loaded(new_context, agent_api, user):
    board = long_board(user)
    add_member(board, agent_api.agent, "agent")
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    # The page holds the first cards of the long column only, and counts them all.
    expect(cards(page, "Backlog")).to_have_count(FIRST_CARDS)
    assert FIRST_CARDS < BACKLOG
    expect(page.locator("[data-shown]")).to_have_text(f"{BACKLOG + READY} cards")
    page.evaluate("window.__noReload = true")
    far = Ticket.objects.get(board=board, title="Card 120")
    lifted = Ticket.objects.get(board=board, title="Card 130")
    near = Ticket.objects.get(board=board, title="Card 005")

    # A change to a card the page does not hold yet, one to a card it holds, and a far
    # card moved to the top by the agent: it shows at once.
    assert agent_api.patch(f"/api/tickets/{far.pk}", json={"title": "Card 120 renamed"}).is_success
    assert agent_api.patch(f"/api/tickets/{near.pk}", json={"title": "Card 005 renamed"}).is_success
    assert agent_api.post(
        f"/api/tickets/{lifted.pk}/move", json={"column": "Backlog", "position": "top"}
    ).is_success
    expect(cards(page, "Backlog").first.locator(".card-title")).to_have_text("Card 130")
    expect(page.locator(f"#card-{near.pk} .card-title")).to_have_text("Card 005 renamed")
    assert page.locator(f"#card-{far.pk}").count() == 0

    # Scrolled to the end, the column is whole, in the server's order, each card once,
    # the far card as it is now.
    scroll_to_the_end(page, "Backlog", BACKLOG)
    titles = shown_titles(page, "Backlog")
    assert titles == titles_in(board, "Backlog")
    assert "Card 120 renamed" in titles and "Card 120" not in titles
    assert len(set(titles)) == BACKLOG
    expect(page.locator("[data-shown]")).to_have_text(f"{BACKLOG + READY} cards")
    assert page.evaluate("window.__noReload === true")


def test_keys_and_filters_reach_past_the_cards_a_column_has_loaded(new_context, user):
    board = long_board(user)
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    expect(cards(page, "Backlog")).to_have_count(FIRST_CARDS)
    last = f"Card {FIRST_CARDS - 1:03}"
    following = f"Card {FIRST_CARDS:03}"

    # Down from the last card loaded goes to the next one, fetched for it.
    cards(page, "Backlog").last.focus()
    assert focused_title(page) == last
    page.keyboard.press("ArrowDown")
    expect(page.locator("[data-card]:focus .card-title")).to_have_text(following)

    # Moved down past a card the page had not loaded: saved after it.
    page.reload()
    page.wait_for_selector("#board[data-ready]")
    page.wait_for_selector('[data-live-indicator][data-state="live"]')
    expect(cards(page, "Backlog")).to_have_count(FIRST_CARDS)
    cards(page, "Backlog").last.focus()
    page.keyboard.press("Alt+ArrowDown")
    eventually(
        lambda: titles_in(board, "Backlog")[FIRST_CARDS - 1 : FIRST_CARDS + 1] == [following, last]
    )
    expect(page.locator("[data-card]:focus .card-title")).to_have_text(last)

    # Moved into a column that has loaded fewer cards than its place: it lands after the
    # last one loaded, stays in view once saved, and the rest of that column loads
    # around it in order.
    expect(cards(page, "Ready")).to_have_count(FIRST_CARDS)
    moved = Ticket.objects.get(board=board, title=last).pk
    # Whether the card ever leaves the page on the way (to come back with the rest).
    page.evaluate(
        """(id) => {
          window.__left = false;
          new MutationObserver(() => {
            if (!document.getElementById(`card-${id}`)) window.__left = true;
          }).observe(document.body, { childList: true, subtree: true });
        }""",
        moved,
    )
    page.locator("[data-card]:focus").press("Alt+ArrowRight")
    expect(cards(page, "Ready").last.locator(".card-title")).to_have_text(last)
    eventually(lambda: last in titles_in(board, "Ready"))
    page.wait_for_function("!document.querySelector('.card.pending, #board[data-syncing]')")
    expect(page.locator(f'[data-column-name="Ready"] #card-{moved}')).to_have_count(1)
    assert page.evaluate("window.__left") is False
    scroll_to_the_end(page, "Ready", READY + 1)
    assert shown_titles(page, "Ready") == titles_in(board, "Ready")

    # A search finds a card far down the column, which the page had not loaded.
    page.reload()
    page.wait_for_selector("#board[data-ready]")
    assert page.locator(".card-title", has_text="Card 148").count() == 0
    page.fill('[data-filters-form] input[name="q"]', "Card 148")
    page.press('[data-filters-form] input[name="q"]', "Enter")
    page.wait_for_url("**q=Card+148**")
    page.wait_for_selector("#board[data-ready]")
    expect(cards(page, "Backlog")).to_have_count(1)
    expect(cards(page, "Backlog").locator(".card-title")).to_have_text("Card 148")
    expect(page.locator("[data-shown]")).to_have_text(f"Showing 1 of {BACKLOG + READY} cards")


def test_a_redraw_keeps_what_a_scrolled_column_has_loaded(new_context, agent_api, user):
    board = long_board(user)
    add_member(board, agent_api.agent, "admin")  # editing columns is for board admins
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    page.evaluate("window.__noReload = true")
    scroll_to_the_end(page, "Backlog", BACKLOG)
    cards(page, "Backlog").filter(has_text="Card 120").focus()
    assert focused_title(page) == "Card 120"
    scrolled = below_the_columns_top(page)
    assert (
        page.locator('[data-column-name="Backlog"] [data-cards]').evaluate("list => list.scrollTop")
        > 0
    )

    # A column renamed elsewhere redraws every column from the server.
    columns = [
        {"id": column.pk, "name": "Next" if column.name == "Ready" else column.name}
        for column in board.columns.order_by("position")
    ]
    response = agent_api.put(f"/api/boards/{board.pk}/columns", json={"columns": columns})
    assert response.status_code == 200, response.text
    expect(page.locator("[data-column] .column-name")).to_have_text(["Backlog", "Next", "Done"])

    # The long column still holds every card it had loaded, scrolled where it was, with
    # the same card focused; the renamed column holds at least what it held, in order.
    page.wait_for_function("!document.querySelector('#board[data-syncing]')")
    expect(cards(page, "Backlog")).to_have_count(BACKLOG)
    assert shown_titles(page, "Backlog") == titles_in(board, "Backlog")
    assert focused_title(page) == "Card 120"
    assert abs(below_the_columns_top(page) - scrolled) <= 2
    next_titles = shown_titles(page, "Next")
    assert len(next_titles) >= FIRST_CARDS
    assert next_titles == titles_in(board, "Next")[: len(next_titles)]
    assert page.evaluate("window.__noReload === true")


def test_left_and_right_reach_a_card_level_with_the_focused_one_not_loaded_yet(new_context, user):
    long_board(user)
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, Board.objects.get(name="Long columns").pk)
    scroll_to_the_end(page, "Backlog", BACKLOG)
    expect(cards(page, "Ready")).to_have_count(FIRST_CARDS)
    level = FIRST_CARDS + 5
    cards(page, "Backlog").nth(level).focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-card]:focus .card-title")).to_have_text(f"Ready {level:03}")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("[data-card]:focus .card-title")).to_have_text(f"Card {level:03}")
