"""The authorization matrix of the HTTP surfaces: every route of the URL resolver, every
method, every role → allowed, or refused with 404 (may not read the board) or 403 (may
read, may not do this). A route or method without a rule here fails the test."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import User
from comments.models import Comment
from tests.authz.world import (
    ADMIN,
    BOARD_NAME,
    CREATE,
    LIST,
    READ,
    READERS,
    ROLES,
    TICKET_TITLE,
    TOKEN_ROLES,
    WRITE,
    World,
    build_world,
    expected,
    outcome,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Rule:
    need: str
    url: Callable[[World, User], str]
    body: Callable[[World], dict] | None = None
    # LIST: whether the board (or its tickets) is in the answer.
    visible: Callable[[object], bool] | None = None
    page: bool = False  # a page: session users only
    headers: dict = field(default_factory=dict)
    # An async view: its database thread closes connections, so it runs in
    # test_live_routes (committed data) instead of inside a rolled-back transaction.
    live: bool = False


def board(path: str = "") -> Callable[[World, User], str]:
    return lambda w, u: f"/api/boards/{w.board.pk}/{path}"


def ticket(path: str = "") -> Callable[[World, User], str]:
    return lambda w, u: f"/api/tickets/{w.ticket.pk}/{path}"


def own_comment(w: World, user: User) -> str:
    """A comment of the acting user, so that the author rule is not what decides."""
    now = timezone.now()
    comment = Comment.objects.create(
        ticket=w.ticket, author=user, text="mine", created_at=now, updated_at=now
    )
    return f"/api/comments/{comment.pk}/"


def stats(path: str) -> Callable[[World, User], str]:
    return lambda w, u: f"/api/statistics/boards/{w.board.pk}/{path}"


def columns_body(w: World) -> dict:
    return {"columns": [{"id": c.pk, "name": c.name} for c in w.board.columns.all()]}


def names_in(response) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


# Webhooks: a public address, so that no name is resolved and no private one refused.
WEBHOOK_URL = "https://93.184.215.14/hook"


def webhook(path: str = "") -> Callable[[World, User], str]:
    """A webhook of the board (made by its admin), and a path under it."""

    def url(w: World, u: User) -> str:
        from webhooks.services import webhook_create

        made, _ = webhook_create(actor=w.board.created_by, board_id=w.board.pk, url=WEBHOOK_URL)
        return f"/api/boards/{w.board.pk}/webhooks/{made.pk}/{path}"

    return url


def delivery_to_redeliver(w: World, u: User) -> str:
    """A queued delivery of a fresh webhook."""
    from tests.factories import make_ticket
    from webhooks import delivery
    from webhooks.models import WebhookDelivery

    hook = webhook()(w, u).rstrip("/").rsplit("/", 1)[-1]
    make_ticket(w.board.created_by, w.board, "Sent")
    delivery.materialise()
    sent = WebhookDelivery.objects.filter(webhook_id=hook).order_by("seq").first()
    return f"/api/boards/{w.board.pk}/webhooks/{hook}/deliveries/{sent.delivery_id}/redeliver"


RULES: dict[tuple[str, str], Rule] = {
    # Boards
    ("board-list", "GET"): Rule(
        LIST, lambda w, u: "/api/boards/", visible=lambda r: BOARD_NAME in names_in(r)
    ),
    ("board-list", "POST"): Rule(CREATE, lambda w, u: "/api/boards/", lambda w: {"name": "New"}),
    ("board-detail", "GET"): Rule(READ, board()),
    ("board-detail", "PUT"): Rule(WRITE, board(), lambda w: {"name": "Renamed"}),
    ("board-detail", "PATCH"): Rule(WRITE, board(), lambda w: {"name": "Renamed"}),
    ("board-detail", "DELETE"): Rule(ADMIN, board()),
    ("board-tickets", "GET"): Rule(READ, board("tickets/")),
    ("board-columns", "GET"): Rule(READ, board("columns/")),
    ("board-export", "GET"): Rule(READ, board("export/")),
    ("board-columns", "PUT"): Rule(ADMIN, board("columns/"), columns_body),
    ("board-members", "GET"): Rule(READ, board("members/")),
    ("board-members", "POST"): Rule(
        ADMIN, board("members/"), lambda w: {"username": "newcomer", "role": "viewer"}
    ),
    ("board-member", "PATCH"): Rule(
        ADMIN,
        lambda w, u: f"/api/boards/{w.board.pk}/members/{w.extra.pk}",
        lambda w: {"role": "member"},
    ),
    ("board-member", "DELETE"): Rule(
        ADMIN, lambda w, u: f"/api/boards/{w.board.pk}/members/{w.extra.pk}"
    ),
    ("claim-next", "POST"): Rule(
        WRITE, lambda w, u: f"/api/boards/{w.board.pk}/claim-next", lambda w: {}
    ),
    ("board-events", "GET"): Rule(
        READ, lambda w, u: f"/api/boards/{w.board.pk}/events?format=json&since=0", live=True
    ),
    # Forge settings: secrets and rules, board admins only (tests/forge).
    ("board-forge", "GET"): Rule(ADMIN, board("forge")),
    ("board-forge", "PUT"): Rule(ADMIN, board("forge"), lambda w: {"on_pr_opened": None}),
    # Outgoing webhooks: board admins only (tests/webhooks).
    ("board-webhooks", "GET"): Rule(ADMIN, board("webhooks/")),
    ("board-webhooks", "POST"): Rule(ADMIN, board("webhooks/"), lambda w: {"url": WEBHOOK_URL}),
    ("board-webhook", "GET"): Rule(ADMIN, webhook()),
    ("board-webhook", "PATCH"): Rule(ADMIN, webhook(), lambda w: {"active": False}),
    ("board-webhook", "DELETE"): Rule(ADMIN, webhook()),
    ("board-webhook-deliveries", "GET"): Rule(ADMIN, webhook("deliveries/")),
    ("board-webhook-redeliver", "POST"): Rule(ADMIN, delivery_to_redeliver, lambda w: {}),
    # Tickets
    ("ticket-list", "GET"): Rule(READ, lambda w, u: f"/api/tickets/?board_id={w.board.pk}"),
    ("ticket-list", "POST"): Rule(
        WRITE, lambda w, u: "/api/tickets/", lambda w: {"board_id": w.board.pk, "title": "New"}
    ),
    ("ticket-detail", "GET"): Rule(READ, ticket()),
    ("ticket-detail", "PUT"): Rule(WRITE, ticket(), lambda w: {"title": "Edited"}),
    ("ticket-detail", "PATCH"): Rule(WRITE, ticket(), lambda w: {"title": "Edited"}),
    ("ticket-detail", "DELETE"): Rule(WRITE, ticket()),
    ("ticket-move", "POST"): Rule(WRITE, ticket("move/"), lambda w: {"column": "In Progress"}),
    ("ticket-claim", "POST"): Rule(WRITE, ticket("claim/"), lambda w: {}),
    ("ticket-heartbeat", "POST"): Rule(WRITE, ticket("heartbeat/"), lambda w: {}),  # 409
    ("ticket-release", "POST"): Rule(WRITE, ticket("release/"), lambda w: {}),  # 409
    # Only the claimant reports: 409 not_claimant for every other writer.
    ("ticket-progress", "POST"): Rule(WRITE, ticket("progress/"), lambda w: {"status": "Busy"}),
    ("ticket-subtasks", "GET"): Rule(READ, ticket("subtasks/")),
    ("ticket-subtasks", "POST"): Rule(
        WRITE, ticket("subtasks/"), lambda w: {"subtasks": [{"title": "Part"}]}
    ),
    # Not in a review column: 409 not_in_review, for whoever may write.
    ("ticket-review", "POST"): Rule(WRITE, ticket("review/"), lambda w: {"decision": "approve"}),
    ("ticket-dependencies", "GET"): Rule(READ, ticket("dependencies/")),
    ("ticket-dependencies", "PUT"): Rule(
        WRITE, ticket("dependencies/"), lambda w: {"blocked_by": [w.blocker.pk]}
    ),
    ("bulk-move", "POST"): Rule(
        WRITE,
        lambda w, u: "/api/bulk/tickets/move",
        lambda w: {"ticket_ids": [w.blocker.pk, w.ticket.pk], "column": "Testing"},
    ),
    ("bulk-priority", "POST"): Rule(
        WRITE,
        lambda w, u: "/api/bulk/tickets/priority",
        lambda w: {"ticket_ids": [w.ticket.pk], "priority": "high"},
    ),
    ("bulk-assign", "POST"): Rule(
        WRITE,
        lambda w, u: "/api/bulk/tickets/assign",
        lambda w: {"ticket_ids": [w.ticket.pk], "assignee": "owner"},
    ),
    # Comments
    ("comment-list", "POST"): Rule(
        WRITE, lambda w, u: "/api/comments/", lambda w: {"ticket_id": w.ticket.pk, "text": "Hi"}
    ),
    ("comment-for-ticket", "GET"): Rule(READ, lambda w, u: f"/api/comments/ticket/{w.ticket.pk}"),
    ("comment-detail", "GET"): Rule(
        READ, lambda w, u: f"/api/comments/{w.ticket.comments.first().pk}/"
    ),
    ("comment-detail", "PUT"): Rule(WRITE, own_comment, lambda w: {"text": "Edited"}),
    ("comment-detail", "PATCH"): Rule(WRITE, own_comment, lambda w: {"text": "Edited"}),
    ("comment-detail", "DELETE"): Rule(WRITE, own_comment),
    # History
    ("ticket-history", "GET"): Rule(
        READ, lambda w, u: f"/api/history/tickets/{w.ticket.pk}/history"
    ),
    ("ticket-transitions", "GET"): Rule(
        READ, lambda w, u: f"/api/history/tickets/{w.ticket.pk}/transitions"
    ),
    ("board-activity", "GET"): Rule(
        READ, lambda w, u: f"/api/history/boards/{w.board.pk}/activity"
    ),
    ("history-stats", "GET"): Rule(
        LIST, lambda w, u: "/api/history/stats", visible=lambda r: r.json()["tickets_tracked"] > 0
    ),
    # Statistics
    ("stats-statistics", "GET"): Rule(READ, stats("statistics")),
    ("stats-colors", "GET"): Rule(READ, stats("tickets/colors")),
    ("stats-performance", "GET"): Rule(READ, stats("performance")),
    ("stats-flow", "GET"): Rule(READ, stats("flow")),
    ("stats-drag-drop", "GET"): Rule(READ, stats("drag-drop/metrics")),
    ("stats-ticket", "GET"): Rule(
        READ, lambda w, u: f"/api/statistics/tickets/{w.ticket.pk}/statistics"
    ),
    # Pages
    ("dashboard", "GET"): Rule(
        LIST, lambda w, u: "/", visible=lambda r: BOARD_NAME.encode() in r.content, page=True
    ),
    ("board-create", "POST"): Rule(
        CREATE, lambda w, u: "/boards/new/", lambda w: {"name": "New"}, page=True
    ),
    ("board", "GET"): Rule(READ, lambda w, u: f"/boards/{w.board.pk}/", page=True),
    ("board-rename", "POST"): Rule(
        WRITE, lambda w, u: f"/boards/{w.board.pk}/rename/", lambda w: {"name": "R"}, page=True
    ),
    ("board-delete", "GET"): Rule(READ, lambda w, u: f"/boards/{w.board.pk}/delete/", page=True),
    ("board-delete", "POST"): Rule(
        ADMIN, lambda w, u: f"/boards/{w.board.pk}/delete/", lambda w: {}, page=True
    ),
    ("board-members-page", "GET"): Rule(
        READ, lambda w, u: f"/boards/{w.board.pk}/members/", page=True
    ),
    ("board-members-page", "POST"): Rule(
        ADMIN,
        lambda w, u: f"/boards/{w.board.pk}/members/",
        lambda w: {"operation": "add", "username": "newcomer", "role": "viewer"},
        page=True,
    ),
    ("board-cards", "GET"): Rule(
        READ, lambda w, u: f"/boards/{w.board.pk}/cards/?ids={w.ticket.pk}", page=True
    ),
    ("board-card", "GET"): Rule(
        READ, lambda w, u: f"/boards/{w.board.pk}/cards/{w.ticket.pk}/", page=True
    ),
    ("ticket-detail", "GET page"): Rule(
        READ,
        lambda w, u: f"/boards/{w.board.pk}/tickets/{w.ticket.pk}/",
        page=True,
        headers={"X-Fragment": "1"},
    ),
    ("board-insights", "GET"): Rule(
        READ, lambda w, u: f"/boards/{w.board.pk}/insights/", page=True
    ),
    ("board-webhooks-page", "GET"): Rule(
        ADMIN, lambda w, u: f"/boards/{w.board.pk}/webhooks/", page=True
    ),
    ("board-webhooks-page", "POST"): Rule(
        ADMIN,
        lambda w, u: f"/boards/{w.board.pk}/webhooks/",
        lambda w: {"operation": "add", "url": WEBHOOK_URL},
        page=True,
    ),
    ("board-forge-page", "GET"): Rule(
        ADMIN, lambda w, u: f"/boards/{w.board.pk}/forge/", page=True
    ),
    ("board-forge-page", "POST"): Rule(
        ADMIN,
        lambda w, u: f"/boards/{w.board.pk}/forge/",
        lambda w: {"operation": "rules", "on_pr_opened": "", "on_pr_merged": ""},
        page=True,
    ),
}

# Routes that are not about one board, and why; their own tests cover who may use them.
NOT_BOARD = {
    "login": "signing in",
    "logout": "signing out",
    "health-basic": "health check",
    "health": "health check",
    "health-simple": "health check",
    "health-live": "health check",
    "status": "service status, for monitors: no identity, nothing private (tests/api)",
    "metrics": "Prometheus metrics (operators)",
    "session": "who am I",
    "schema": "OpenAPI document",
    "docs": "API documentation",
    "api-root": "the browsable API's index of endpoints",
    "api-not-found": "every other path under /api/: the JSON 404 (tests/api/test_errors.py)",
    "tokens": "the user's own tokens (tests/tokens)",
    "token-revoke": "the user's own tokens (tests/tokens)",
    "api-tokens": "the user's own tokens (tests/tokens)",
    "api-token": "the user's own tokens (tests/tokens)",
    "api-token-revoke": "the user's own tokens (tests/tokens)",
    "audit": "the audit log page (staff; tests/audit)",
    "forge-hook": "forge deliveries, proved by the board's secret, not a role (tests/forge)",
    "rest_framework:login": "the browsable API's sign-in",
    "rest_framework:logout": "the browsable API's sign-out",
}
EXEMPT_NAMESPACES = {"admin"}  # Django admin: staff only, with its own permissions


def routes() -> dict[str, set[str]]:
    """Every named route of the resolver with the HTTP methods its view answers (as far
    as the view says: DRF views do, plain function views are taken at their rules)."""
    found: dict[str, set[str]] = {}

    def walk(patterns, namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
                continue
            assert isinstance(pattern, URLPattern)
            if namespace in EXEMPT_NAMESPACES:
                continue
            assert pattern.name, f"unnamed route {pattern.pattern} needs a name and a rule"
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            found.setdefault(name, set()).update(view_methods(pattern.callback))

    walk(get_resolver().url_patterns, None)
    return found


def view_methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        # DRF adds head to a served viewset's actions; like options, it is never a write.
        return {method.upper() for method in actions} - {"HEAD", "OPTIONS"}
    cls = getattr(callback, "cls", None)
    if cls is not None:
        return {
            method.upper()
            for method in cls.http_method_names
            if method not in ("options", "head") and hasattr(cls, method)
        }
    return set()


def test_every_route_and_method_has_a_rule():
    ruled: dict[str, set[str]] = {}
    for name, method in RULES:
        ruled.setdefault(name, set()).add(method.split()[0])
    found = routes()
    missing = sorted(set(found) - set(ruled) - set(NOT_BOARD))
    assert not missing, f"routes without an access rule: {missing}"
    stale = sorted(set(ruled) - set(found))
    assert not stale, f"rules for routes that no longer exist: {stale}"
    unruled = {name: found[name] - ruled[name] for name in ruled if found[name] - ruled[name]}
    assert not unruled, f"methods without an access rule: {unruled}"


def client_for(world: World, role: str, rule: Rule):
    if role in TOKEN_ROLES and not rule.page:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.secrets[role]}")
        return client
    client = APIClient() if not rule.page else Client()
    client.force_login(world.user(role))
    return client


def send(client, method: str, url: str, rule: Rule, world: World):
    verb = method.split()[0].lower()
    body = rule.body(world) if rule.body else None
    if rule.page:
        return getattr(client, verb)(url, body or {}, headers=rule.headers)
    if body is None:
        return getattr(client, verb)(url, headers=rule.headers)
    return getattr(client, verb)(url, body, format="json", headers=rule.headers)


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    # Every role hits the same routes many times in a moment; limits have their own tests.
    settings.RATELIMIT_ENABLE = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize(
    "name,method", sorted(key for key, rule in RULES.items() if not rule.live), ids=str
)
def test_matrix(name, method):
    rule = RULES[name, method]
    world = build_world()
    results, wanted = {}, {}
    for role in ROLES:
        if rule.page and role in TOKEN_ROLES - {"agent"}:
            continue  # pages take sessions only: a token is nobody there
        # Each role starts from the same world: its request is rolled back.
        with transaction.atomic():
            user = world.user(role)
            response = send(
                client_for(world, role, rule), method, rule.url(world, user), rule, world
            )
            results[role] = outcome(response.status_code)
            wanted[role] = expected(rule.need, role)
            if rule.visible is not None and results[role] == "allow":
                results[role] = ("allow", rule.visible(response))
                wanted[role] = ("allow", role in READERS)
            transaction.set_rollback(True)
    assert results == wanted


def test_a_ticket_of_an_unreadable_board_is_word_for_word_a_missing_one():
    world = build_world()
    client = APIClient()
    client.force_login(world.user("non_member"))
    hidden = client.get(f"/api/tickets/{world.ticket.pk}").json()["error"]
    missing = client.get("/api/tickets/999999").json()["error"]
    assert hidden["message"] == f"Ticket {world.ticket.pk} does not exist."
    assert (hidden["code"], missing["code"]) == ("not_found", "not_found")
    assert missing["message"] == "Ticket 999999 does not exist."


@pytest.mark.parametrize("role", ROLES)
def test_lists_and_search_across_boards_show_only_readable_boards(role):
    world = build_world()
    client = client_for(world, role, RULES["ticket-list", "GET"])
    titles = [item["title"] for item in client.get("/api/tickets/?q=needle").json()["items"]]
    assert (TICKET_TITLE in titles) == (role in READERS)
    everything = [item["title"] for item in client.get("/api/tickets/").json()["items"]]
    assert (TICKET_TITLE in everything) == (role in READERS)


def test_bulk_with_one_unreadable_ticket_writes_nothing():
    world = build_world()
    mine = build_own_board(world.user("non_member"))
    before = (mine.priority, mine.version)
    client = APIClient()
    client.force_login(world.user("non_member"))
    body = {"ticket_ids": [mine.pk, world.ticket.pk], "priority": "critical"}
    response = client.post("/api/bulk/tickets/priority", body, format="json")
    assert response.status_code == 404
    assert [row["status"] for row in response.json()["error"]["results"]] == ["ok", "not_found"]
    mine.refresh_from_db()
    assert (mine.priority, mine.version) == before


def build_own_board(user: User):
    from tests.factories import make_board, make_ticket

    return make_ticket(user, make_board(user, "Mine"), "My own")


def test_list_endpoints_filter_in_constant_queries(django_assert_max_num_queries):
    """Membership filtering is part of the query, not a query per board."""
    from tests.factories import add_member, make_board

    world = build_world()
    member = world.user("member")
    client = APIClient()
    client.force_login(member)

    def count(path: str) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        return len(queries)

    paths = ["/api/boards/", "/api/tickets/", "/api/history/stats", "/"]
    before = {path: count(path) for path in paths}
    owner = world.user("board_admin")
    for index in range(5):
        extra = make_board(owner, f"More {index}")
        add_member(extra, member, "viewer")
    assert {path: count(path) for path in paths} == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name,method", sorted(key for key, rule in RULES.items() if rule.live), ids=str
)
def test_live_routes(name, method):
    rule = RULES[name, method]
    world = build_world()
    results, wanted = {}, {}
    for role in ROLES:
        client = client_for(world, role, rule)
        response = send(client, method, rule.url(world, world.user(role)), rule, world)
        results[role], wanted[role] = outcome(response.status_code), expected(rule.need, role)
    assert results == wanted
