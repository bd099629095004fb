"""The Content-Security-Policy breaks nothing: Chromium opens every kind of page (board,
card detail, API docs, browsable API, admin, insights, members, tokens) and reports no
violation and no error."""

import pytest

from tests.e2e.conftest import log_in, open_board
from tests.factories import make_board, make_ticket, make_user

pytestmark = pytest.mark.django_db(transaction=True)

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def fast_password_hashing():
    """Passwords keep the real hasher here: the server process checks them."""


def violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_pages_run_under_the_policy(new_context, live_server_url, watcher):
    staff = make_user("csp-admin", is_staff=True, is_superuser=True)
    board = make_board(staff, "Policed", columns=["Backlog", "Done"])
    ticket = make_ticket(staff, board, "Look at me", description="**bold** and `code`")
    context = new_context(bypass_csp=False)  # the policy is what this test is about
    context.add_init_script(RECORD_VIOLATIONS)
    # The browsable API and the admin link no icon, so Chromium asks for /favicon.ico.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    log_in(page, staff.username)
    assert violations(page) == []

    open_board(page, board.pk)
    page.click(f"#card-{ticket.pk}")
    detail = page.locator("[data-detail]")
    detail.wait_for()
    detail.locator("[data-comment-form] textarea").fill("Checked under the **policy**")
    detail.locator("[data-comment-form] button[type=submit]").click()
    detail.locator(".comment", has_text="Checked under the policy").wait_for()
    assert violations(page) == [], "board page"

    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".opblock")
    assert violations(page) == [], "Swagger UI"

    page.goto("/api/boards/", wait_until="load")
    page.wait_for_selector("#content")
    assert violations(page) == [], "browsable API"
    watcher.allow("401 (Unauthorized)")  # the API page, logged out
    page.click("text=Log out")
    page.wait_for_url("**/api/boards/**")
    assert page.locator("text=Log in").count() > 0
    log_in(page, staff.username)

    page.goto("/admin/tickets/ticket/", wait_until="load")
    page.wait_for_selector("#result_list")
    assert violations(page) == [], "admin"

    for path in (f"/boards/{board.pk}/insights/", f"/boards/{board.pk}/members/", "/tokens/"):
        page.goto(path, wait_until="load")
        page.wait_for_selector("main")
        assert violations(page) == [], path
