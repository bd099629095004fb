"""A pull (or merge) request that mentions a ticket links it, and by the board's rules
moves it: opened → Review, merged → Done. The link is in GET /api/tickets/{id} and on
the card detail; the forge identity comments, and history says who did what."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from boards.models import BoardEvent
from comments.models import Comment
from forge.services import forge_settings_update
from tests.factories import make_board, make_ticket
from tests.forge.helpers import SECRETS, deliver, sample
from tests.tickets.helpers import history_of
from tickets.models import Ticket
from tickets.services import ticket_move

pytestmark = pytest.mark.django_db


def github_pr(action: str, ticket_id: int, where: str = "title", merged: bool = False) -> dict:
    payload = sample("github", f"pull_request.{action}")
    pull = payload["pull_request"]
    if where == "title":
        pull["title"] = f"AK-{ticket_id} {pull['title']}"
    elif where == "body":
        pull["body"] += f"\n\nFixes #{ticket_id}."
    else:
        pull["head"]["ref"] = f"feature/ak-{ticket_id}-readme"
    if merged:
        # What GitHub sends when the pull request is merged: `closed`, with `merged` true.
        pull["merged"], pull["merged_at"] = True, pull["closed_at"]
    return payload


def gitea_pr(action: str, ticket_id: int, merged: bool = False) -> dict:
    payload = sample("gitea", f"pull_request.{action}")
    payload["pull_request"]["head_branch"] = f"AK-{ticket_id}-improvements"
    if merged:
        payload["pull_request"]["merged"] = True
    return payload


def gitlab_mr(ticket_id: int, action: str = "open") -> dict:
    payload = sample("gitlab", "merge_request.open")
    attributes = payload["object_attributes"]
    attributes["description"] = f"Closes #{ticket_id}"
    # The documented actions; a merged request is also in the state `merged`.
    attributes["action"] = action
    attributes["state"] = {"open": "opened", "merge": "merged", "close": "closed"}[action]
    return payload


def column_of(ticket) -> str:
    return Ticket.objects.select_related("column").get(pk=ticket.pk).column.name


def forge_comments(ticket) -> list[str]:
    rows = Comment.objects.filter(ticket=ticket, author__username="forge").order_by("id")
    return list(rows.values_list("text", flat=True))


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Update the README")


@pytest.mark.parametrize("where", ["title", "body", "branch"])
def test_github_opened_links_and_moves_to_review_then_merged_moves_to_done(
    where, board, ticket, api
):
    opened = deliver("github", board.pk, github_pr("opened", ticket.pk, where), "pull_request")
    assert opened.status_code == 200, opened.content
    assert opened.json()["linked"] == [
        {
            "ticket_id": ticket.pk,
            "kind": "pull_request",
            "url": "https://github.com/Codertocat/Hello-World/pull/2",
        }
    ]
    assert opened.json()["moved"] == [{"ticket_id": ticket.pk, "column": "Review"}]
    assert column_of(ticket) == "Review"
    (link,) = api.get(f"/api/tickets/{ticket.pk}").json()["links"]
    assert link["kind"] == "pull_request" and link["state"] == "open"
    assert link["forge"] == "github" and link["external_id"] == "2"
    assert link["title"].endswith("Update the README with new information.")

    merged = deliver(
        "github", board.pk, github_pr("closed", ticket.pk, where, merged=True), "pull_request"
    )
    assert merged.status_code == 200, merged.content
    assert merged.json()["updated"][0]["ticket_id"] == ticket.pk
    assert merged.json()["moved"] == [{"ticket_id": ticket.pk, "column": "Done"}]
    assert column_of(ticket) == "Done"
    (link,) = api.get(f"/api/tickets/{ticket.pk}").json()["links"]
    assert link["state"] == "merged"
    assert len(forge_comments(ticket)) == 2
    assert "is now merged" in forge_comments(ticket)[1]


def test_history_tells_the_forge_linked_and_moved_it(board, ticket):
    deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    forge_rows = [row for row in history_of(ticket.pk) if row[3] == "forge"]
    fields = [row[0] for row in forge_rows]
    assert fields[0] == "link" and forge_rows[0][1] is None
    assert "https://github.com/Codertocat/Hello-World/pull/2" in forge_rows[0][2]
    assert ("current_column", "Backlog", "Review", "forge") in forge_rows
    (comment,) = forge_comments(ticket)
    assert comment.startswith("Linked GitHub pull request #2: [AK-")
    assert "(https://github.com/Codertocat/Hello-World/pull/2)" in comment


def test_closed_without_merge_marks_the_link_closed_and_moves_nothing(board, ticket):
    deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    closed = deliver("github", board.pk, github_pr("closed", ticket.pk), "pull_request")
    assert closed.status_code == 200
    assert closed.json()["moved"] == [] and column_of(ticket) == "Review"
    assert ticket.links.get().state == "closed"


def test_reopened_moves_like_opened(board, ticket):
    payload = github_pr("opened", ticket.pk)
    payload["action"] = "reopened"
    assert deliver("github", board.pk, payload, "pull_request").json()["moved"]
    assert column_of(ticket) == "Review"


def test_the_rules_are_off_by_default(user):
    board = make_board(user, "Quiet", columns=["Backlog", "Review", "Done"])
    forge_settings_update(actor=user, board_id=board.pk, github_secret=SECRETS["github"])
    ticket = make_ticket(user, board, "Work")
    answer = deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request").json()
    assert answer["linked"] and answer["moved"] == []
    merged = github_pr("closed", ticket.pk, merged=True)
    assert deliver("github", board.pk, merged, "pull_request").json()["moved"] == []
    assert column_of(ticket) == "Backlog"


def test_a_rule_moves_forward_only(user, board, ticket):
    ticket_move(actor=user, ticket_id=ticket.pk, column="Done")
    answer = deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request").json()
    assert answer["linked"] and answer["moved"] == [] and answer["refused"] == []
    assert column_of(ticket) == "Done"


def test_only_tickets_of_the_board_are_linked(user, board, ticket):
    elsewhere = make_ticket(user, make_board(user, "Elsewhere"), "Not here")
    payload = github_pr("opened", ticket.pk)
    payload["pull_request"]["body"] = f"See #{elsewhere.pk} and AK-999999"
    answer = deliver("github", board.pk, payload, "pull_request").json()
    assert [row["ticket_id"] for row in answer["linked"]] == [ticket.pk]
    assert not elsewhere.links.exists()
    only_elsewhere = github_pr("opened", elsewhere.pk)
    assert deliver("github", board.pk, only_elsewhere, "pull_request").json() == {
        "ignored": "it mentions no ticket of this board",
        "event": "pull_request",
    }


def test_gitea_pull_request_opened_and_merged(board, ticket, api):
    opened = deliver("gitea", board.pk, gitea_pr("opened", ticket.pk), "pull_request")
    assert opened.status_code == 200, opened.content
    assert column_of(ticket) == "Review"
    merged = deliver("gitea", board.pk, gitea_pr("closed", ticket.pk, merged=True), "pull_request")
    assert merged.json()["moved"] == [{"ticket_id": ticket.pk, "column": "Done"}]
    (link,) = api.get(f"/api/tickets/{ticket.pk}").json()["links"]
    assert link["url"] == "http://try.gitea.io/gogits/hello-world/pulls/2"
    assert (link["forge"], link["state"], link["title"]) == ("gitea", "merged", "huge improvements")


def test_gitea_closed_without_merge_moves_nothing(board, ticket):
    deliver("gitea", board.pk, gitea_pr("opened", ticket.pk), "pull_request")
    deliver("gitea", board.pk, gitea_pr("closed", ticket.pk), "pull_request")
    assert column_of(ticket) == "Review" and ticket.links.get().state == "closed"


def test_gitlab_merge_request_opened_and_merged(board, ticket, api):
    opened = deliver("gitlab", board.pk, gitlab_mr(ticket.pk), "Merge Request Hook")
    assert opened.status_code == 200, opened.content
    assert column_of(ticket) == "Review"
    merged = deliver("gitlab", board.pk, gitlab_mr(ticket.pk, "merge"), "Merge Request Hook")
    assert merged.json()["moved"] == [{"ticket_id": ticket.pk, "column": "Done"}]
    (link,) = api.get(f"/api/tickets/{ticket.pk}").json()["links"]
    assert link["kind"] == "merge_request" and link["state"] == "merged"
    assert link["url"] == "http://example.com/diaspora/merge_requests/1"
    assert forge_comments(ticket)[0].startswith("Linked GitLab merge request !1: [MS-Viewport]")


def test_links_show_on_the_card_detail(client, user, board, ticket):
    deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    client.force_login(user)
    page = client.get(
        f"/boards/{board.pk}/tickets/{ticket.pk}/", headers={"X-Fragment": "1"}
    ).content.decode()
    assert 'href="https://github.com/Codertocat/Hello-World/pull/2"' in page
    assert 'data-link-kind="pull_request"' in page and "data-link-state>open<" in page
    # The history timeline and the comments name the forge identity.
    assert "linked pull request https://github.com/Codertocat/Hello-World/pull/2" in page
    assert "<b>forge</b>" in page


def test_a_ticket_event_carries_the_links(board, ticket):
    deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    updated = BoardEvent.objects.filter(board=board, type="ticket_updated").latest("seq")
    assert updated.actor.username == "forge"
    assert updated.payload["links"][0]["url"].endswith("/pull/2")


def test_links_are_read_in_constant_queries(user, board):
    """A board read and a page of tickets cost one query more once any ticket has
    links, however many tickets and links there are; a ticket read, one more only for a
    ticket with links."""
    tickets = [make_ticket(user, board, f"T{n}") for n in range(6)]
    client = APIClient()
    client.force_login(user)
    paths = [f"/api/boards/{board.pk}/tickets/", f"/api/tickets/?board_id={board.pk}"]
    paths.append(f"/api/tickets/{tickets[0].pk}")
    before = [counted(client, path)[0] for path in paths]
    deliver("github", board.pk, github_pr("opened", tickets[0].pk), "pull_request")
    after_one = [counted(client, path)[0] for path in paths]
    for ticket in tickets[1:]:
        deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    after_all, answers = zip(*(counted(client, path) for path in paths), strict=True)
    assert after_one == list(after_all) == [count + 1 for count in before]
    assert [len(row["links"]) for row in answers[0]] == [1] * 6
    assert [len(row["links"]) for row in answers[1]["items"]] == [1] * 6


def counted(client: APIClient, path: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries), response.json()
