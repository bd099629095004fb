"""Review gates in the browser: the badge, a move past review refused, the "Needs my
review" filter, requesting changes and approving from the card detail, a board admin's
own work as an override, and the Columns dialog's review setting."""

import re

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from boards.models import Board, Column
from boards.services import board_set_columns
from comments.models import Comment
from tests.e2e.conftest import eventually, log_in, open_board, screenshot
from tests.e2e.test_board_flow import card, column, settled
from tests.factories import add_member, make_agent, make_board, make_ticket
from tickets.models import Ticket
from tickets.services import ticket_claim, ticket_move

pytestmark = pytest.mark.django_db(transaction=True)


def where(title: str) -> str:
    return Ticket.objects.select_related("column").get(title=title).column.name


def reviewed_board(owner) -> Board:
    board = make_board(owner, "Reviews", columns=["Todo", "Doing", "Review", "Done"])
    board_set_columns(
        actor=owner,
        board_id=board.pk,
        columns=[
            {"id": c.pk, "name": c.name, "requires_review": c.name == "Review"}
            for c in board.columns.order_by("position")
        ],
    )
    return board


def test_a_person_reviews_an_agents_work_from_the_card_detail(new_context, watcher, user):
    board = reviewed_board(user)
    agent, _ = make_agent("claude-r")
    add_member(board, agent, "agent")
    fix = make_ticket(user, board, "Fix login", column="Doing", assignee="claude-r")
    docs = make_ticket(user, board, "Write docs", column="Doing")
    make_ticket(user, board, "My own", column="Review")  # alice asked for this review
    ticket_claim(actor=agent, ticket_id=fix.pk)
    ticket_move(actor=agent, ticket_id=fix.pk, column="Review")
    ticket_move(actor=agent, ticket_id=docs.pk, column="Review")
    watcher.allow("409 (Conflict)")
    watcher.allow("403 (Forbidden)")

    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    review = column(page, "Review")
    assert review.locator(".badge-review").count() == 3
    assert column(page, "Doing").locator(".badge-review").count() == 0

    # Moving a card on from Review by hand is refused, and it snaps back.
    card(page, "Fix login").focus()
    page.keyboard.press("Alt+ArrowRight")
    settled(page)
    toast = page.locator(".toast.error")
    toast.wait_for()
    assert "waits for review" in toast.inner_text()
    assert where("Fix login") == "Review"
    assert (
        card(page, "Fix login")
        .locator("xpath=ancestor::*[@data-column]")
        .get_attribute("data-column-name")
        == "Review"
    )

    # "Needs my review": the agent's two cards, not the one alice put there herself.
    page.check("input[name=review]")
    page.wait_for_url(re.compile(r"review=mine"))
    page.wait_for_selector("#board[data-ready]")
    page.wait_for_selector('[data-live-indicator][data-state="live"]')
    assert sorted(page.locator(".card-title").all_inner_texts()) == ["Fix login", "Write docs"]
    screenshot(page, "review-filter")

    # Request changes: it asks for the comment, then sends the card back, unclaimed.
    card(page, "Fix login").locator(".card-title").click()
    detail = page.locator("[data-detail]")
    detail.wait_for()
    panel = detail.locator("[data-review]")
    assert "only an approval moves it on" in panel.inner_text()
    detail.locator("[data-review-changes]").click()
    form = detail.locator("[data-review-form]")
    form.locator("textarea").fill("The login test **fails** on Safari.")
    screenshot(page, "review-request-changes")
    form.locator("button[type=submit]").click()
    eventually(lambda: where("Fix login") == "Doing", message="changes not requested")
    fixed = Ticket.objects.get(pk=fix.pk)
    assert fixed.claimed_by is None and fixed.assignee == agent
    assert Comment.objects.get(ticket=fix).text == "The login test **fails** on Safari."
    detail.locator(".comment", has_text="The login test fails on Safari.").wait_for()
    assert detail.locator("[data-review]").count() == 0
    assert detail.locator("[data-detail-column]").inner_text() == "Doing"
    assert (
        "reviewed it in Review: changes requested"
        in detail.locator("[data-section=history]").inner_text()
    )
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail-dialog:not([open])", state="attached")
    # No longer waiting for a review: the filtered board drops it.
    card(page, "Fix login").wait_for(state="detached")

    # Approve: on to Done.
    card(page, "Write docs").locator(".card-title").click()
    detail.wait_for()
    detail.locator("[data-review-approve]").click()
    eventually(lambda: where("Write docs") == "Done", message="not approved")
    page.locator(".toast", has_text="Approved").wait_for()
    detail.locator("[data-detail-column]", has_text="Done").wait_for()
    page.keyboard.press("Escape")
    card(page, "Write docs").wait_for(state="detached")

    # Her own card: the detail says why, and as the board's admin she may override.
    open_board(page, board.pk)
    card(page, "My own").locator(".card-title").click()
    detail.wait_for()
    reason = detail.locator("[data-review-reason]")
    assert "You moved it into review" in reason.inner_text()
    assert "audit log" in reason.inner_text()
    detail.locator("[data-review-approve]").click()
    eventually(lambda: where("My own") == "Done", message="override not applied")
    assert AuditEvent.objects.filter(action="review.override").count() == 1
    page.keyboard.press("Escape")
    column(page, "Done").locator(".card-title", has_text="My own").wait_for()
    assert column(page, "Done").locator(".badge-review").count() == 0


def test_a_member_who_asked_for_review_sees_no_review_buttons(new_context, user, other_user):
    board = reviewed_board(user)
    add_member(board, other_user, "member")
    ticket = make_ticket(user, board, "Bobs work", column="Doing")
    ticket_move(actor=other_user, ticket_id=ticket.pk, column="Review")
    page = new_context().new_page()
    log_in(page, "bob")
    open_board(page, board.pk)
    card(page, "Bobs work").locator(".card-title").click()
    detail = page.locator("[data-detail]")
    detail.wait_for()
    assert detail.locator("[data-review-approve]").count() == 0
    assert "someone else reviews it" in detail.locator("[data-review-reason]").inner_text()


def test_the_columns_dialog_sets_review_gates_and_who_reviews(new_context, watcher, user):
    board = make_board(user, "Gates", columns=["Todo", "Doing", "Check", "Done"])
    watcher.allow("400 (Bad Request)")
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    page.click("[data-open-columns]")
    dialog = page.locator("#columns-dialog")
    row = dialog.locator(".column-row", has=page.locator('input[value="Check"]'))
    row.locator("input[name=requires_review]").check()
    dialog.locator("select[name=review_by]").select_option("humans")
    dialog.locator("button[type=submit]").click()
    page.locator(".toast", has_text="Columns saved.").wait_for()
    eventually(lambda: Column.objects.get(board=board, name="Check").requires_review)
    eventually(lambda: Board.objects.get(pk=board.pk).review_by == "humans")
    # The first column cannot be a review gate: the server says why, nothing changes.
    page.click("[data-open-columns]")
    first = dialog.locator(".column-row").first
    first.locator("input[name=requires_review]").check()
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator("[data-columns-error]")).to_contain_text("cannot require review")
    assert not Column.objects.get(board=board, name="Todo").requires_review
