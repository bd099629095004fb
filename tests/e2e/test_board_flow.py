"""One person runs a board in the browser: log in, create a board, add cards, drag,
move with the keyboard, edit, comment, read the history, filter."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from boards.models import Board
from comments.models import Comment
from tests.e2e.conftest import eventually, log_in, open_board, screenshot
from tests.factories import add_member, make_agent, make_board, make_ticket, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def titles_in(board: Board, column: str) -> list[str]:
    return list(
        Ticket.objects.filter(board=board, column__name=column)
        .order_by("position")
        .values_list("title", flat=True)
    )


def card(page, title: str):
    return page.locator("[data-card]", has=page.locator(".card-title", has_text=title))


def column(page, name: str):
    return page.locator(f'[data-column][data-column-name="{name}"]')


def settled(page) -> None:
    """No move in flight and no card refresh pending."""
    page.wait_for_function(
        "!document.querySelector('.card.pending, .card.dragging, #board[data-syncing]')"
    )


def drag(page, source, target_x: float, target_y: float) -> None:
    box = source.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 14
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=2)
    page.mouse.move(target_x, target_y, steps=15)
    page.wait_for_timeout(100)
    page.mouse.up()
    settled(page)


def drag_above(page, source, anchor) -> None:
    box = anchor.bounding_box()
    drag(page, source, box["x"] + box["width"] / 2, box["y"] + 6)


def drag_to_end(page, source, column_locator) -> None:
    box = column_locator.locator("[data-cards]").bounding_box()
    drag(page, source, box["x"] + box["width"] / 2, box["y"] + box["height"] - 6)


def add_cards(page, column_name: str, *titles: str) -> None:
    column(page, column_name).locator("[data-add-card]").click()
    composer = column(page, column_name).locator("[data-composer] textarea")
    for title in titles:
        composer.fill(title)
        composer.press("Enter")
        card(page, title).wait_for()
    composer.press("Escape")


def test_a_person_runs_a_board_in_the_browser(new_context, user):
    other = make_board(user, "Website relaunch")
    make_ticket(user, other, "Already here")
    page = new_context().new_page()
    log_in(page, "alice")
    assert page.locator(".board-tile", has_text="Website relaunch").is_visible()

    # Create a board from the dashboard.
    page.click("summary:has-text('New board')")
    page.fill(".new-board-form input[name=name]", "Launch plan")
    page.fill(".new-board-form input[name=columns]", "Todo, Doing, Done")
    page.click(".new-board-form button[type=submit]")
    page.wait_for_selector("#board[data-ready]")
    board = Board.objects.get(name="Launch plan")
    assert page.url.endswith(f"/boards/{board.pk}/")
    page.wait_for_selector('[data-live-indicator][data-state="live"]')

    # Add cards from a column header; each lands on top.
    add_cards(page, "Todo", "Write the spec", "Build it", "Ship it")
    eventually(lambda: titles_in(board, "Todo") == ["Ship it", "Build it", "Write the spec"])
    assert column(page, "Todo").locator("[data-card]").count() == 3

    # Drag a card to another column, then another one exactly above it.
    drag_to_end(page, card(page, "Write the spec"), column(page, "Doing"))
    eventually(lambda: titles_in(board, "Doing") == ["Write the spec"], message="drag not saved")
    drag_above(page, card(page, "Ship it"), card(page, "Write the spec"))
    eventually(lambda: titles_in(board, "Doing") == ["Ship it", "Write the spec"])
    assert column(page, "Doing").locator(".card-title").all_inner_texts() == [
        "Ship it",
        "Write the spec",
    ]
    # Within a column: "Write the spec" back above "Ship it".
    drag_above(page, card(page, "Write the spec"), card(page, "Ship it"))
    eventually(lambda: titles_in(board, "Doing") == ["Write the spec", "Ship it"])

    # Keyboard: Alt+Right moves to the next column, Alt+Up / Shift+Down within it.
    card(page, "Build it").focus()
    page.keyboard.press("Alt+ArrowRight")
    settled(page)
    eventually(lambda: "Build it" in titles_in(board, "Doing"), message="keyboard move lost")
    # It keeps its place in the list: it was first in Todo, so it is first in Doing.
    assert titles_in(board, "Doing") == ["Build it", "Write the spec", "Ship it"]
    page.keyboard.press("Alt+ArrowDown")
    settled(page)
    eventually(lambda: titles_in(board, "Doing") == ["Write the spec", "Build it", "Ship it"])
    page.keyboard.press("Shift+ArrowDown")
    settled(page)
    eventually(lambda: titles_in(board, "Doing") == ["Write the spec", "Ship it", "Build it"])
    page.keyboard.press("Alt+ArrowUp")
    settled(page)
    eventually(lambda: titles_in(board, "Doing") == ["Write the spec", "Build it", "Ship it"])
    assert page.evaluate("document.activeElement.querySelector('.card-title').textContent") == (
        "Build it"
    )
    assert "Alt" in page.locator("#help-dialog").inner_text()

    # Edit in the card detail.
    card(page, "Build it").locator(".card-title").click()
    detail = page.locator("[data-detail]")
    detail.wait_for()
    # replaceState reaches page.url asynchronously; ask the page itself.
    page.wait_for_function("new URLSearchParams(location.search).has('card')")
    detail.locator(".title-input").fill("Build it well")
    detail.locator("[data-text-field=description] [data-edit-text]").click()
    detail.locator("textarea[name=description]").fill(
        "Use **bold** words.\n\n<script>window.hacked = 1</script>"
    )
    detail.locator("select[name=priority]").select_option("high")
    detail.locator("select[name=assignee]").select_option("alice")
    detail.locator("input[name=labels]").fill("backend, urgent")
    detail.locator("[data-save]").click()
    page.wait_for_selector("[data-form-status].ok")
    ticket = Ticket.objects.get(board=board, title="Build it well")
    assert ticket.priority_name == "high" and ticket.assignee.username == "alice"
    assert sorted(ticket.labels.values_list("name", flat=True)) == ["backend", "urgent"]
    assert detail.locator(".md strong", has_text="bold").is_visible()
    assert page.evaluate("window.hacked === undefined")

    # Comment, and the history tells what changed.
    detail.locator("[data-comment-form] textarea").fill("Ready for **review**")
    detail.locator("[data-comment-form] button[type=submit]").click()
    detail.locator(".comment", has_text="Ready for review").wait_for()
    assert Comment.objects.get(ticket=ticket).text == "Ready for **review**"
    history = detail.locator("[data-section=history]")
    assert "changed priority from medium to high" in history.inner_text()
    assert "renamed it from “Build it” to “Build it well”" in history.inner_text()
    assert "moved it from Todo to Doing" in history.inner_text()
    times = detail.locator("[data-section=history] time[data-local]")
    assert not re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d$", times.first.inner_text())
    screenshot(page, "card-detail")

    # Edit and delete one's own comment (deleting asks first).
    comment = detail.locator(".comment", has_text="Ready for review")
    comment.locator("[data-edit-comment]").click()
    comment.locator("[data-comment-editor] textarea").fill("Ready for review, really")
    comment.locator("[data-comment-editor] button[type=submit]").click()
    detail.locator(".comment", has_text="really").wait_for()
    assert Comment.objects.get(ticket=ticket).text == "Ready for review, really"
    detail.locator(".comment [data-delete-comment]").click()
    page.click("#confirm-dialog [data-confirm-ok]")
    detail.locator(".empty-comments").wait_for()
    assert not Comment.objects.filter(ticket=ticket).exists()
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail-dialog:not([open])", state="attached")
    assert card(page, "Build it well").locator(".label", has_text="urgent").is_visible()
    page.wait_for_function("!new URLSearchParams(location.search).has('card')")
    screenshot(page, "board")

    # Filters live in the URL.
    page.select_option("select[name=priority]", "high")
    page.wait_for_url(re.compile(r"priority=high"))
    page.wait_for_selector("#board[data-ready]")
    assert page.locator(".card-title").all_inner_texts() == ["Build it well"]
    page.fill("input[name=q]", "spec")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"q=spec"))
    assert page.locator("[data-card]").count() == 0
    assert "Showing 0 of 3 cards" in page.inner_text("[data-shown]")
    page.click("[data-filters-clear]")
    page.wait_for_selector("#board[data-ready]")
    page.select_option("select[name=label]", "backend")
    page.wait_for_url(re.compile(r"label=backend"))
    assert page.locator(".card-title").all_inner_texts() == ["Build it well"]
    page.goto(f"/boards/{board.pk}/?assignee=alice&claimed=agents")
    assert page.locator("[data-card]").count() == 0
    assert page.locator("input[name=claimed]").is_checked()

    # Delete a card, after confirming.
    open_board(page, board.pk)
    card(page, "Ship it").click()
    page.locator("[data-detail] [data-delete-ticket]").click()
    page.click("#confirm-dialog [data-confirm-ok]")
    card(page, "Ship it").wait_for(state="detached")
    eventually(lambda: not Ticket.objects.filter(title="Ship it").exists())

    page.goto("/")
    screenshot(page, "dashboard")

    # Rename and delete a board from the dashboard; deleting asks first.
    tile = page.locator(".board-tile", has_text="Website relaunch")
    tile.locator("summary:has-text('Rename')").click()
    tile.locator(".rename-form input[name=name]").fill("Website v2")
    tile.locator(".rename-form button[type=submit]").click()
    page.locator(".board-tile", has_text="Website v2").wait_for()
    assert Board.objects.filter(name="Website v2").exists()
    tile = page.locator(".board-tile", has_text="Website v2")
    tile.locator("button:has-text('Delete')").click()
    expect(page.locator("#confirm-dialog")).to_contain_text("Delete the board “Website v2”")
    page.click("#confirm-dialog [data-confirm-cancel]")
    assert Board.objects.filter(name="Website v2").exists()
    tile.locator("button:has-text('Delete')").click()
    page.click("#confirm-dialog [data-confirm-ok]")
    tile.wait_for(state="detached")
    assert not Board.objects.filter(name="Website v2").exists()


def test_a_refused_move_snaps_back_and_says_why(new_context, watcher, live_server_url, user):
    board = make_board(user, "Limits", columns=["Todo", "Doing"])
    from boards.services import board_set_columns

    todo, doing = board.columns.order_by("position")
    board_set_columns(
        actor=user,
        board_id=board.pk,
        columns=[
            {"id": todo.pk, "name": "Todo"},
            {"id": doing.pk, "name": "Doing", "wip_limit": 1},
        ],
    )
    # Alice works here as a member: a board admin may move a card someone else holds.
    add_member(board, make_user("lead"), "admin")
    add_member(board, user, "member")
    first = make_ticket(user, board, "First")
    second = make_ticket(user, board, "Second")
    make_ticket(user, board, "Busy", column="Doing")
    watcher.allow("409 (Conflict)")
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    assert "is-full" in column(page, "Doing").get_attribute("class")
    assert column(page, "Doing").locator("[data-count]").inner_text() == "1 / 1"

    drag_to_end(page, card(page, "First"), column(page, "Doing"))
    toast = page.locator(".toast.error")
    toast.wait_for()
    assert "WIP limit" in toast.inner_text()
    assert column(page, "Todo").locator(".card-title").all_inner_texts() == ["First", "Second"]
    assert Ticket.objects.get(pk=first.pk).column.name == "Todo"

    # A stale version is refused too: an agent renamed the card meanwhile, and this
    # page still holds the version it read before.
    stale_agent, secret = make_agent("claude-stale")
    add_member(board, stale_agent, "agent")
    api = httpx.Client(base_url=live_server_url, headers={"Authorization": f"Bearer {secret}"})
    renamed = api.put(f"/api/tickets/{second.pk}", json={"title": "Second, renamed"})
    assert renamed.status_code == 200, renamed.text
    card(page, "Second, renamed").wait_for()
    page.evaluate(f"document.getElementById('card-{second.pk}').dataset.version = '1'")
    card(page, "Second, renamed").focus()
    page.keyboard.press("Alt+ArrowUp")
    page.locator(".toast.error", has_text="has changed").wait_for()
    settled(page)
    assert titles_in(board, "Todo") == ["First", "Second, renamed"]
    assert column(page, "Todo").locator(".card-title").all_inner_texts() == [
        "First",
        "Second, renamed",
    ]

    # A card an agent holds cannot be moved by someone else.
    assert api.post(f"/api/tickets/{first.pk}/claim", json={}).status_code == 200
    card(page, "First").locator(".badge-claim", has_text="claude-stale").wait_for()
    card(page, "First").focus()
    page.keyboard.press("Alt+ArrowDown")
    page.locator(".toast.error", has_text="claimed by claude-stale").wait_for()
    settled(page)
    assert titles_in(board, "Todo") == ["First", "Second, renamed"]
    api.close()


def test_columns_editor_adds_renames_reorders_limits_and_removes(new_context, watcher, user):
    watcher.allow("409 (Conflict)")
    board = make_board(user, "Columns", columns=["Todo", "Doing", "Done"])
    make_ticket(user, board, "Lives in Todo")
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    page.click("[data-open-columns]")
    dialog = page.locator("#columns-dialog")
    rows = dialog.locator(".column-row")
    rows.nth(1).locator("input[name=name]").fill("Doing now")
    rows.nth(1).locator("input[name=wip_limit]").fill("3")
    rows.nth(2).locator("[data-row-up]").click()
    dialog.locator("[data-add-column]").click()
    rows.nth(3).locator("input[name=name]").fill("Archive")
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector("#columns-dialog:not([open])", state="attached")
    page.wait_for_selector('[data-column][data-column-name="Archive"]')
    names = page.locator("[data-column] .column-name").all_inner_texts()
    assert [name.lower() for name in names] == ["todo", "done", "doing now", "archive"]
    assert column(page, "Doing now").locator("[data-count]").inner_text() == "0 / 3"
    assert [
        (c.name, c.wip_limit) for c in Board.objects.get(pk=board.pk).columns.order_by("position")
    ] == [("Todo", None), ("Done", None), ("Doing now", 3), ("Archive", None)]

    # A column that holds cards cannot go; the editor says why.
    page.click("[data-open-columns]")
    rows.nth(0).locator("[data-row-remove]").click()
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator("[data-columns-error]")).to_contain_text("still hold")
    dialog.locator("[data-close]").first.click()
    assert page.locator("[data-column]").count() == 4


def test_the_board_works_on_a_narrow_screen(new_context, user):
    board = make_board(user, "Phone")
    make_user("bob")
    for index in range(5):
        make_ticket(user, board, f"Card {index}", labels=["ui"], assignee="bob")
    page = new_context(
        viewport={"width": 390, "height": 780}, is_mobile=True, color_scheme="dark"
    ).new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    first_column = page.locator("[data-column]").first.bounding_box()
    assert 300 < first_column["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    card(page, "Card 4").focus()
    page.keyboard.press("Alt+ArrowRight")
    settled(page)
    eventually(lambda: Ticket.objects.get(title="Card 4").column.name == "In Progress")
    screenshot(page, "board-narrow-dark")
