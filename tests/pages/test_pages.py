"""The board pages with Django's test client: who may see them, what they show, and the
writes the dashboard makes itself."""

import io
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import Client

from boards.models import Board
from comments.services import comment_create
from tests.factories import add_member, make_agent, make_board, make_ticket, make_user
from tickets.models import Ticket
from tickets.services import ticket_claim, ticket_set_dependencies, ticket_update
from web.boards import FIRST_CARDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def card_html(html: str, ticket_id: int) -> str:
    match = re.search(rf'<article class="card[^"]*" id="card-{ticket_id}".*?</article>', html, re.S)
    assert match, f"card {ticket_id} is not on the page"
    return match.group(0)


def page_urls(board, ticket) -> list[str]:
    return [
        "/",
        f"/boards/{board.pk}/",
        f"/boards/{board.pk}/cards/{ticket.pk}/",
        f"/boards/{board.pk}/cards/?ids={ticket.pk}",
        f"/boards/{board.pk}/tickets/{ticket.pk}/",
        f"/boards/{board.pk}/delete/",
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(board, user):
    ticket = make_ticket(user, board, "Hidden")
    anonymous = Client()
    for url in page_urls(board, ticket):
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    for url in ["/boards/new/", f"/boards/{board.pk}/rename/", f"/boards/{board.pk}/delete/"]:
        response = anonymous.post(url, {"name": "x"})
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Board.objects.filter(pk=board.pk, name="Project").exists()


def test_every_page_and_fragment_renders_for_a_signed_in_user(client_in, board, user):
    ticket = make_ticket(user, board, "Visible")
    for url in page_urls(board, ticket):
        response = client_in.get(url, headers={"X-Fragment": "1"})
        assert response.status_code == 200, url
        expected = b"Project" if url in ("/",) or url.endswith("/delete/") else b"Visible"
        assert expected in response.content, url


def test_login_page_logs_the_first_run_admin_in(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("first_run", stdout=io.StringIO())
    password = (tmp_path / "admin-password.txt").read_text().strip()
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "admin", "password": password})
    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and b"Getting started" in dashboard.content
    wrong = Client().post("/login/", {"username": "admin", "password": "nope"})
    assert wrong.status_code == 200 and b"didn" in wrong.content
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_dashboard_lists_boards_with_counts_per_column(client_in, user):
    board = make_board(user, "Roadmap", columns=["Todo", "Doing", "Done"])
    make_ticket(user, board, "a")
    make_ticket(user, board, "b", column="Doing")
    make_ticket(user, board, "c", column="Doing")
    html = client_in.get("/").content.decode()
    assert "Roadmap" in html and "3 cards" in html
    counts = re.findall(
        r'column-count-name">([^<]+)</span>\s*<span class="column-count-num">(\d+)', html
    )
    assert counts == [("Todo", "1"), ("Doing", "2"), ("Done", "0")]


def test_dashboard_creates_renames_and_deletes_boards(client_in, user):
    response = client_in.post("/boards/new/", {"name": "  Launch ", "columns": "Ideas, Doing"})
    board = Board.objects.get(name="Launch")
    assert response["Location"] == f"/boards/{board.pk}/"
    assert [column.name for column in board.columns.order_by("position")] == ["Ideas", "Doing"]

    client_in.post(f"/boards/{board.pk}/rename/", {"name": "Launch v2"})
    board.refresh_from_db()
    assert board.name == "Launch v2"

    refused = client_in.post(f"/boards/{board.pk}/rename/", {"name": "   "}, follow=True)
    assert refused.status_code == 200 and b"A name is required" in refused.content

    confirm = client_in.get(f"/boards/{board.pk}/delete/")
    assert b"cannot be undone" in confirm.content
    client_in.post(f"/boards/{board.pk}/delete/")
    assert not Board.objects.filter(pk=board.pk).exists()
    assert client_in.get(f"/boards/{board.pk}/").status_code == 404


def test_board_page_shows_columns_cards_in_order_and_their_state(client_in, user, board):
    agent, _ = make_agent("claude-7")
    add_member(board, agent, "agent")
    first = make_ticket(user, board, "First", labels=["ui"], assignee="alice", priority="high")
    second = make_ticket(user, board, "Second", position="top")
    blocker = make_ticket(user, board, "Blocker", column="In Progress")
    ticket_set_dependencies(actor=user, ticket_id=first.pk, blocked_by=[blocker.pk])
    ticket_claim(actor=agent, ticket_id=second.pk)
    html = client_in.get(f"/boards/{board.pk}/").content.decode()

    assert f'data-last-seq="{Board.objects.get(pk=board.pk).last_event_seq}"' in html
    backlog = html[html.index('data-column-name="Backlog"') : html.index('data-column-name="In')]
    assert backlog.index(f'id="card-{second.pk}"') < backlog.index(f'id="card-{first.pk}"')
    first_card = card_html(html, first.pk)
    assert "Blocked" in first_card and f"#{blocker.pk}" in first_card
    assert "prio-high" in first_card and ">ui<" in first_card and "alice" in first_card
    second_card = card_html(html, second.pk)
    assert "badge-claim is-agent" in second_card and "claude-7" in second_card
    assert "data-until" in second_card
    assert "Blocked" not in card_html(html, blocker.pk)


def test_column_at_its_wip_limit_is_marked_full(client_in, user):
    board = make_board(user, "Limited", columns=["Todo", "Doing"])
    from boards.services import board_set_columns

    columns = list(board.columns.order_by("position"))
    board_set_columns(
        actor=user,
        board_id=board.pk,
        columns=[
            {"id": columns[0].pk, "name": "Todo", "wip_limit": 2},
            {"id": columns[1].pk, "name": "Doing"},
        ],
    )
    make_ticket(user, board, "one")
    html = client_in.get(f"/boards/{board.pk}/").content.decode()
    assert f'class="column" data-column data-column-id="{columns[0].pk}"' in html
    make_ticket(user, board, "two")
    html = client_in.get(f"/boards/{board.pk}/").content.decode()
    assert f'class="column is-full" data-column data-column-id="{columns[0].pk}"' in html
    assert re.search(r"2 / 2</span>", html)


def test_card_fragment_is_the_card_the_page_renders(client_in, user, board):
    ticket = make_ticket(user, board, "Same everywhere", labels=["x"])
    page = client_in.get(f"/boards/{board.pk}/").content.decode()
    fragment = client_in.get(f"/boards/{board.pk}/cards/{ticket.pk}/").content.decode()
    assert card_html(page, ticket.pk) == card_html(fragment, ticket.pk)


def test_fragments_follow_the_filters_and_ignore_bad_input(client_in, user, board):
    ticket = make_ticket(user, board, "Apples", priority="low")
    url = f"/boards/{board.pk}/cards/{ticket.pk}/"
    assert client_in.get(url, {"priority": "low"}).status_code == 200
    assert client_in.get(url, {"priority": "high"}).status_code == 204
    assert client_in.get(url, {"priority": "bogus", "q": "x" * 5000}).status_code == 204
    garbage = {"ids": "abc,,99999999999999999999"}
    assert client_in.get(f"/boards/{board.pk}/cards/", garbage).content == b""
    other = make_board(user, "Other")
    assert client_in.get(f"/boards/{other.pk}/cards/{ticket.pk}/").status_code == 204
    detail = client_in.get(f"/boards/{other.pk}/tickets/{ticket.pk}/", headers={"X-Fragment": "1"})
    assert detail.status_code == 404
    assert client_in.get("/boards/999999/").status_code == 404


def test_filters_narrow_the_board_and_stay_in_the_url(client_in, user, board):
    agent, _ = make_agent("claude-9")
    add_member(board, agent, "agent")
    make_user("carol")
    red = make_ticket(user, board, "Red apple", labels=["fruit"], priority="high")
    green = make_ticket(user, board, "Green pear", assignee="carol")
    claimed = make_ticket(user, board, "Claimed thing", description="apple inside")
    ticket_claim(actor=agent, ticket_id=claimed.pk)

    def shown(**query) -> set[int]:
        html = client_in.get(f"/boards/{board.pk}/", query).content.decode()
        return {int(pk) for pk in re.findall(r'id="card-(\d+)"', html)}

    assert shown() == {red.pk, green.pk, claimed.pk}
    assert shown(q="apple") == {red.pk, claimed.pk}
    assert shown(assignee="carol") == {green.pk}
    assert shown(priority="high") == {red.pk}
    assert shown(label="fruit") == {red.pk}
    assert shown(claimed="agents") == {claimed.pk}
    assert shown(q="apple", priority="high") == {red.pk}
    html = client_in.get(f"/boards/{board.pk}/", {"q": "apple"}).content.decode()
    assert 'data-filters="q=apple"' in html and "Showing 2 of 3 cards" in html


def test_card_detail_shows_fields_comments_and_a_readable_history(client_in, user, board):
    ticket = make_ticket(user, board, "Detailed", description="Some *words*")
    ticket_update(actor=user, ticket_id=ticket.pk, priority="high", title="Detailed card")
    comment_create(actor=user, ticket_id=ticket.pk, text="Looks **good**")
    url = f"/boards/{board.pk}/tickets/{ticket.pk}/"
    assert client_in.get(url)["Location"] == f"/boards/{board.pk}/?card={ticket.pk}"
    html = client_in.get(url, headers={"X-Fragment": "1"}).content.decode()
    assert "<em>words</em>" in html and "<strong>good</strong>" in html
    assert "changed priority from <b>medium</b> to <b>high</b>" in html
    assert "renamed it from <b>“Detailed”</b> to <b>“Detailed card”</b>" in html
    assert "created this card in <b>Backlog</b>" in html
    assert re.search(r'<time datetime="[^"]+\+00:00" data-local>', html)
    assert "data-edit-comment" in html


def test_history_tells_claims_moves_and_blockers_in_words(client_in, user, board):
    from tickets.services import ticket_move, ticket_release

    agent, _ = make_agent("claude-h")
    add_member(board, agent, "agent")
    blocker = make_ticket(user, board, "Blocker")
    ticket = make_ticket(user, board, "Claimed")
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    ticket_release(actor=agent, ticket_id=ticket.pk)
    ticket_move(actor=user, ticket_id=ticket.pk, column="Testing")
    ticket_set_dependencies(actor=user, ticket_id=ticket.pk, blocked_by=[blocker.pk])
    html = client_in.get(
        f"/boards/{board.pk}/tickets/{ticket.pk}/", headers={"X-Fragment": "1"}
    ).content.decode()
    history = html[html.index('data-section="history"') :]
    assert "claimed it until <time" in history
    assert "released the claim of <b>claude-h</b>" in history
    assert "moved it from <b>Backlog</b> to <b>Testing</b>" in history
    assert f"marked it blocked by <b>#{blocker.pk}</b>" in history
    # Newest first.
    assert history.index("marked it blocked") < history.index("claimed it until")


def test_others_comments_have_no_edit_buttons(user, board):
    ticket = make_ticket(user, board, "Commented")
    comment_create(actor=user, ticket_id=ticket.pk, text="mine")
    bob = make_user("bobby")
    add_member(board, bob, "member")
    client = Client()
    client.force_login(bob)
    html = client.get(
        f"/boards/{board.pk}/tickets/{ticket.pk}/", headers={"X-Fragment": "1"}
    ).content.decode()
    assert "mine" in html and "data-edit-comment" not in html


def test_markdown_is_rendered_without_scripts_handlers_or_images(client_in, user, board):
    evil = (
        "# Title\n\n<script>alert('x')</script>\n\n"
        '<img src="https://example.com/pixel.png" onerror="alert(1)">\n\n'
        "[click](javascript:alert(1)) "
        '<a href="https://example.org" onclick="alert(2)">ok</a>\n\n'
        '<div style="position:fixed" onmouseover="alert(3)">hover</div>'
    )
    ticket = make_ticket(user, board, "<script>alert('t')</script>", description=evil)
    comment_create(actor=user, ticket_id=ticket.pk, text="<script>alert('c')</script>hi")
    html = client_in.get(
        f"/boards/{board.pk}/tickets/{ticket.pk}/", headers={"X-Fragment": "1"}
    ).content.decode()
    rendered = re.sub(r"<textarea.*?</textarea>", "", html, flags=re.S)
    assert "<h1>Title</h1>" in rendered
    for bad in ("<script", "onerror", "onclick", "onmouseover", "javascript:", "<img", "position:"):
        assert bad not in rendered, bad
    assert 'href="https://example.org"' in rendered and "noopener" in rendered
    page = client_in.get(f"/boards/{board.pk}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;t&#x27;)" in page


def test_board_page_queries_do_not_grow_with_the_cards(client_in, user, board):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent, _ = make_agent("claude-q")
    add_member(board, agent, "agent")

    def add(count: int, offset: int) -> None:
        for index in range(count):
            ticket = make_ticket(
                user,
                board,
                f"Card {offset + index}",
                column=["Backlog", "In Progress", "Testing"][index % 3],
                labels=["a", "b"][: index % 3],
                assignee="alice" if index % 2 else None,
            )
            if index % 5 == 1:
                ticket_set_dependencies(actor=user, ticket_id=ticket.pk, blocked_by=[ticket.pk - 1])
            if index % 7 == 0 and index % 5 != 1:
                ticket_claim(actor=agent, ticket_id=ticket.pk)

    def count_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client_in.get(f"/boards/{board.pk}/")
        assert response.status_code == 200
        return len(queries), response.content.decode()

    add(10, 0)
    small, _ = count_queries()
    add(990, 10)
    large, html = count_queries()
    # The page holds the first cards of each column; the rest come as a column scrolls.
    per_column = Counter(Ticket.objects.filter(board=board).values_list("column_id", flat=True))
    assert sum(per_column.values()) == 1000
    shown = sum(min(count, FIRST_CARDS) for count in per_column.values())
    assert html.count('<article class="card') == shown < 1000
    assert large == small, f"{small} queries for 10 cards, {large} for 1,000"


def test_a_redraw_asks_for_as_many_cards_per_column_as_the_page_held(client_in, user, monkeypatch):
    board = make_board(user, "Redrawn", columns=["Backlog", "Done"])
    for index in range(FIRST_CARDS + 30):
        make_ticket(user, board, f"Card {index:03}")

    def cards_sent(query: str) -> int:
        response = client_in.get(f"/boards/{board.pk}/{query}")
        assert response.status_code == 200
        return response.content.decode().count('<article class="card')

    assert cards_sent("") == FIRST_CARDS
    assert cards_sent(f"?cards={FIRST_CARDS + 10}") == FIRST_CARDS + 10
    assert cards_sent("?cards=3") == FIRST_CARDS  # never fewer than a first page
    assert cards_sent("?cards=junk") == cards_sent("?cards=-5") == FIRST_CARDS
    assert cards_sent(f"?cards={10**30}") == FIRST_CARDS
    monkeypatch.setattr("web.boards.MOST_FIRST_CARDS", FIRST_CARDS + 20)
    assert cards_sent("?cards=1000000") == FIRST_CARDS + 20  # and never more than a cap


def test_dashboard_queries_do_not_grow_with_the_boards(client_in, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client_in.get("/").status_code == 200
        return len(queries)

    make_board(user, "One")
    few = count_queries()
    for index in range(8):
        make_ticket(user, make_board(user, f"Board {index}"), "card")
    assert count_queries() == few


def test_assignee_choices_are_the_boards_people_only(client, user, board):
    from tests.factories import add_member, make_user

    teammate = make_user("teammate")
    make_user("stranger-on-another-board")
    add_member(board, teammate, "member")
    client.force_login(user)
    page = client.get(f"/boards/{board.pk}/").content.decode()
    assert "teammate" in page
    assert "stranger-on-another-board" not in page


def test_a_column_fetch_sends_the_next_cards_and_how_many_follow(client_in, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    board = make_board(user, "Scrolled", columns=["Backlog", "Done"])
    cards = [make_ticket(user, board, f"Card {index:03}") for index in range(25)]
    make_ticket(user, board, "Elsewhere", column="Done")
    make_ticket(user, board, "Filtered out", priority="critical")
    column = cards[0].column_id
    ordered = list(Ticket.objects.filter(pk__in=[c.pk for c in cards]).order_by("position", "id"))

    def fetch(after: str = "", limit: int = 10) -> tuple[dict, int]:
        query = {"column": column, "limit": limit, "priority": "medium"}
        if after:
            query["after"] = after
        with CaptureQueriesContext(connection) as queries:
            response = client_in.get(f"/boards/{board.pk}/cards/", query)
        assert response.status_code == 200, response.content[:300]
        return response.json(), len(queries)

    first, _ = fetch()  # the board's colours are read once, then kept
    first, queries = fetch()
    assert first["html"].count('<article class="card') == 10 and first["more"] == 15
    assert f'id="card-{ordered[0].pk}"' in first["html"]
    middle, _ = fetch(after=ordered[9].position)
    assert f'id="card-{ordered[10].pk}"' in middle["html"] and middle["more"] == 5
    last, _ = fetch(after=ordered[19].position)
    assert last["html"].count('<article class="card') == 5 and last["more"] == 0
    beyond, _ = fetch(after=ordered[24].position)
    assert beyond == {"html": "", "more": 0}
    _, queries_for_fewer = fetch(limit=2)
    assert queries_for_fewer == queries == 10  # no query per card, nor for the count
