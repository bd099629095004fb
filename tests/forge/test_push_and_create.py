"""Pushes and new branches link tickets by their branch names and commit messages; they
move nothing. Tags, deleted branches and events the board does not follow are ignored
with a 200 that says why."""

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from comments.models import Comment
from tests.factories import make_ticket
from tests.forge.helpers import SECRETS, deliver, sample, signed_headers
from tests.forge.test_pull_requests import column_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Pushed work")


def links_of(ticket) -> list[tuple]:
    return list(ticket.links.order_by("id").values_list("kind", "url", "title", "state"))


def test_github_push_links_its_branch_and_the_commits_that_mention_the_ticket(board, ticket):
    payload = sample("github", "push")
    payload["ref"] = f"refs/heads/feature/AK-{ticket.pk}-readme"
    payload["commits"][0]["message"] = f"Initial commit\n\nPart of #{ticket.pk}"
    response = deliver("github", board.pk, payload, "push")
    assert response.status_code == 200, response.content
    commit = (
        "https://github.com/Codertocat/Hello-World/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    )
    assert links_of(ticket) == [
        (
            "branch",
            f"https://github.com/Codertocat/Hello-World/tree/feature/AK-{ticket.pk}-readme",
            f"feature/AK-{ticket.pk}-readme",
            "created",
        ),
        ("commit", commit, "Initial commit", "pushed"),
    ]
    assert response.json()["moved"] == [] and column_of(ticket) == "Backlog"
    texts = list(Comment.objects.filter(ticket=ticket).values_list("text", flat=True))
    assert texts[1] == f"Linked GitHub commit 6113728: [Initial commit]({commit})."


def test_the_same_push_again_under_another_id_adds_nothing(board, ticket):
    payload = sample("github", "push")
    payload["commits"][0]["message"] = f"AK-{ticket.pk}"
    deliver("github", board.pk, payload, "push")
    answer = deliver("github", board.pk, payload, "push").json()
    assert answer["linked"] == answer["updated"] == []
    assert ticket.links.count() == 1 and ticket.comments.count() == 1


def test_commits_pushed_before_elsewhere_are_not_linked_again(board, ticket):
    payload = sample("github", "push")
    payload["commits"][0]["message"] = f"AK-{ticket.pk}"
    payload["commits"][0]["distinct"] = False
    assert deliver("github", board.pk, payload, "push").json()["ignored"]


def test_gitlab_push_links_commits_and_branch(board, ticket):
    payload = sample("gitlab", "push")
    payload["ref"] = f"refs/heads/ak-{ticket.pk}"
    payload["commits"][1]["message"] = f"fixed readme, closes #{ticket.pk}"
    response = deliver("gitlab", board.pk, payload, "Push Hook")
    assert response.status_code == 200, response.content
    assert [row[:2] for row in links_of(ticket)] == [
        ("branch", f"http://example.com/mike/diaspora/-/tree/ak-{ticket.pk}"),
        (
            "commit",
            "http://example.com/mike/diaspora/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        ),
    ]


def test_gitea_push_links_commits(board, ticket):
    payload = sample("gitea", "push")
    payload["commits"][0]["message"] = f"Webhooks Yay! AK-{ticket.pk}"
    response = deliver("gitea", board.pk, payload, "push")
    assert response.status_code == 200, response.content
    assert links_of(ticket) == [
        (
            "commit",
            "http://localhost:3000/gitea/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a",
            f"Webhooks Yay! AK-{ticket.pk}",
            "pushed",
        )
    ]


def test_gitea_create_links_the_new_branch(board, ticket):
    payload = sample("gitea", "create.branch")
    payload["ref"] = f"AK-{ticket.pk}-feature"
    response = deliver("gitea", board.pk, payload, "create")
    assert response.status_code == 200, response.content
    assert links_of(ticket) == [
        (
            "branch",
            f"http://try.gitea.io/gogits/hello-world/src/branch/AK-{ticket.pk}-feature",
            f"AK-{ticket.pk}-feature",
            "created",
        )
    ]


def test_forgejo_headers_are_gitea_headers(board, ticket):
    payload = sample("gitea", "create.branch")
    payload["ref"] = f"AK-{ticket.pk}"
    body = json.dumps(payload).encode()
    signature = hmac.new(SECRETS["gitea"].encode(), body, hashlib.sha256).hexdigest()
    response = Client().post(
        f"/api/hooks/gitea/{board.pk}",
        body,
        content_type="application/json",
        headers={
            "X-Forgejo-Event": "create",
            "X-Forgejo-Delivery": "f-1",
            "X-Forgejo-Signature": signature,
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["delivery_id"] == "f-1" and ticket.links.count() == 1


@pytest.mark.parametrize(
    "forge,event,change,reason",
    [
        ("github", "create", None, "a 'tag' created, not a branch"),
        ("github", "push", {"ref": "refs/tags/v1.0"}, "not a branch (a tag, or another ref)"),
        ("github", "push", {"deleted": True}, "a branch deleted"),
        ("github", "ping", None, "event 'ping'"),
        ("github", "issues", None, "event 'issues'"),
        ("gitlab", "Tag Push Hook", None, "event 'Tag Push Hook'"),
        ("gitlab", "Push Hook", {"after": "0" * 40}, "a branch deleted"),
        ("gitea", "release", None, "event 'release'"),
    ],
)
def test_what_the_board_does_not_follow_is_ignored(forge, event, change, reason, board, ticket):
    name = {"github": "create.tag" if event == "create" else "push"}.get(forge, "push")
    payload = sample(forge, name)
    payload.update(change or {})
    response = deliver(forge, board.pk, payload, event)
    assert response.status_code == 200, response.content
    assert response.json() == {"ignored": reason, "event": event}
    assert not ticket.links.exists()


def test_a_pull_request_action_the_board_does_not_follow_is_ignored(board, ticket):
    payload = sample("github", "pull_request.opened")
    payload["action"] = "labeled"
    payload["pull_request"]["title"] = f"AK-{ticket.pk}"
    assert deliver("github", board.pk, payload, "pull_request").json() == {
        "ignored": "pull request 'labeled'",
        "event": "pull_request",
    }


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"title": "\\ud800"}', b"[" * 5000])
def test_a_signed_body_that_is_not_json_is_400(body, board):
    response = deliver("github", board.pk, body, "push")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_a_form_encoded_delivery_is_read_from_its_payload_field(board, ticket):
    payload = sample("github", "pull_request.opened")
    payload["pull_request"]["title"] = f"AK-{ticket.pk}"
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signed_headers("github", body, SECRETS["github"], "pull_request", "form-1")
    response = Client().post(
        f"/api/hooks/github/{board.pk}",
        body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )
    assert response.status_code == 200, response.content
    assert response.json()["moved"] == [{"ticket_id": ticket.pk, "column": "Review"}]
