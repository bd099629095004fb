"""Two people on one board, and an agent working through the REST API: every change
shows on every open page without a reload, and a page that lost its connection
catches up on reconnecting."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, open_board, screenshot
from tests.factories import add_member, make_board, make_ticket, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def card(page, title: str):
    return page.locator("[data-card]", has=page.locator(".card-title", has_text=title))


def column_of(page, title: str) -> str:
    return card(page, title).evaluate("el => el.closest('[data-column]').dataset.columnName")


def mark_page(page) -> None:
    """A reload would wipe this; its survival proves the page applied changes in place."""
    page.evaluate("window.__noReload = true")


def not_reloaded(page) -> bool:
    return page.evaluate("window.__noReload === true")


def test_changes_show_in_every_open_page_and_from_agents(new_context, agent_api, user):
    bob_user = make_user("bob")
    board = make_board(user, "Shared")
    add_member(board, bob_user, "member")
    add_member(board, agent_api.agent, "agent")
    existing = make_ticket(user, board, "Existing card")
    alice = new_context().new_page()
    bob = new_context().new_page()
    log_in(alice, "alice")
    log_in(bob, "bob")
    for page in (alice, bob):
        open_board(page, board.pk)
        mark_page(page)

    # Alice adds a card: Bob sees it appear.
    alice.locator('[data-column-name="Backlog"] [data-add-card]').click()
    composer = alice.locator('[data-column-name="Backlog"] [data-composer] textarea')
    composer.fill("From Alice")
    composer.press("Enter")
    card(bob, "From Alice").wait_for()
    assert column_of(bob, "From Alice") == "Backlog"

    # Alice moves it with the keyboard: it moves on Bob's page too.
    card(alice, "From Alice").focus()
    alice.keyboard.press("Alt+ArrowRight")
    expect(bob.locator('[data-column-name="In Progress"] [data-card]')).to_have_count(1)
    assert column_of(bob, "From Alice") == "In Progress"
    expect(bob.locator('[data-column-name="In Progress"] [data-count]')).to_have_text("1")

    # Bob has the card open while Alice edits it and comments on it.
    card(bob, "Existing card").click()
    bob.locator("[data-detail]").wait_for()
    card(alice, "Existing card").click()
    alice_detail = alice.locator("[data-detail]")
    alice_detail.locator("select[name=priority]").select_option("critical")
    alice_detail.locator("[data-save]").click()
    alice.wait_for_selector("[data-form-status].ok")
    alice_detail.locator("[data-comment-form] textarea").fill("Alice was here")
    alice_detail.locator("[data-comment-form] button[type=submit]").click()
    bob_detail = bob.locator("[data-detail]")
    bob_detail.locator(".comment", has_text="Alice was here").wait_for()
    expect(bob_detail.locator("select[name=priority]")).to_have_value("critical")
    expect(bob_detail.locator("[data-section=history]")).to_contain_text(
        "changed priority from medium to critical"
    )
    expect(card(bob, "Existing card").locator(".prio")).to_have_text("critical")
    alice.keyboard.press("Escape")
    bob.keyboard.press("Escape")

    # An agent works through the REST API: both pages follow.
    created = agent_api.post(
        "/api/tickets/", json={"board_id": board.pk, "title": "From the agent", "labels": ["ai"]}
    )
    assert created.status_code == 201, created.text
    agent_ticket = created.json()
    claimed = agent_api.post(f"/api/tickets/{existing.pk}/claim", json={"lease_seconds": 600})
    assert claimed.status_code == 200, claimed.text
    moved = agent_api.post(f"/api/tickets/{agent_ticket['id']}/move", json={"column": "Testing"})
    assert moved.status_code == 200, moved.text
    for page in (alice, bob):
        expect(page.locator('[data-column-name="Testing"] .card-title')).to_have_text(
            ["From the agent"]
        )
        expect(card(page, "Existing card").locator(".badge-claim")).to_contain_text("claude-live")
        expect(card(page, "From the agent").locator(".label")).to_have_text(["ai"])
    screenshot(bob, "board-live")

    deleted = agent_api.delete(f"/api/tickets/{agent_ticket['id']}")
    assert deleted.status_code == 204, deleted.text
    for page in (alice, bob):
        card(page, "From the agent").wait_for(state="detached")
        expect(page.locator('[data-column-name="Testing"] [data-count]')).to_have_text("0")
        assert not_reloaded(page)


def test_a_page_catches_up_after_losing_its_connection(new_context, agent_api, user):
    board = make_board(user, "Flaky network")
    add_member(board, agent_api.agent, "agent")
    stays = make_ticket(user, board, "Stays")
    goes = make_ticket(user, board, "Goes away")
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    mark_page(page)

    page.evaluate("AK.live.pause()")
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "offline")
    seq_before = page.evaluate("AK.live.seq()")
    assert agent_api.post("/api/tickets/", json={"board_id": board.pk, "title": "While away"})
    assert agent_api.post(f"/api/tickets/{stays.pk}/move", json={"column": "Done"}).is_success
    assert agent_api.delete(f"/api/tickets/{goes.pk}").status_code == 204
    page.wait_for_timeout(500)
    assert card(page, "While away").count() == 0  # nothing arrives while disconnected

    page.evaluate("AK.live.resume()")
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "live")
    card(page, "While away").wait_for()
    expect(page.locator('[data-column-name="Done"] .card-title')).to_have_text(["Stays"])
    card(page, "Goes away").wait_for(state="detached")
    assert page.evaluate("AK.live.seq()") == seq_before + 3
    assert not_reloaded(page)
    assert Ticket.objects.filter(board=board).count() == 2


def test_columns_and_board_changes_arrive_live(new_context, agent_api, user):
    board = make_board(user, "Renamed live", columns=["Todo", "Done"])
    add_member(board, agent_api.agent, "admin")  # editing columns is for board admins
    make_ticket(user, board, "A card")
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    mark_page(page)
    todo, done = board.columns.order_by("position")
    response = agent_api.put(
        f"/api/boards/{board.pk}/columns",
        json={
            "columns": [
                {"id": todo.pk, "name": "Todo", "wip_limit": 1},
                {"name": "Review"},
                {"id": done.pk, "name": "Shipped"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    expect(page.locator("[data-column] .column-name")).to_have_text(["Todo", "Review", "Shipped"])
    expect(page.locator('[data-column-name="Todo"]')).to_have_class("column is-full")
    assert agent_api.patch(f"/api/boards/{board.pk}", json={"name": "New name"}).is_success
    expect(page.locator("[data-board-name]")).to_have_text("New name")
    assert not_reloaded(page)


def test_an_agents_progress_shows_on_its_card_live(new_context, agent_api, user):
    board = make_board(user, "Watched work")
    add_member(board, agent_api.agent, "agent")
    ticket = make_ticket(user, board, "Long job")
    page = new_context().new_page()
    log_in(page, "alice")
    open_board(page, board.pk)
    mark_page(page)

    token = agent_api.post(f"/api/tickets/{ticket.pk}/claim", json={}).json()["claim_token"]
    reported = agent_api.post(
        f"/api/tickets/{ticket.pk}/progress",
        json={"status": "running the test suite", "percent": 60, "claim_token": token},
    )
    assert reported.status_code == 200, reported.text

    line = card(page, "Long job").locator("[data-progress]")
    expect(line).to_have_text("running the test suite · 60 %")
    card(page, "Long job").click()
    expect(page.locator("[data-detail-progress]")).to_have_text("running the test suite · 60 %")
    page.keyboard.press("Escape")

    agent_api.post(f"/api/tickets/{ticket.pk}/release", json={"claim_token": token})
    expect(card(page, "Long job").locator("[data-progress]")).to_have_count(0)
    assert not_reloaded(page)
    screenshot(page, "progress-after-release")
