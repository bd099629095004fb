"""/metrics after real requests: request counts and latency by route pattern, claims,
board events published, statistics cache hits."""

import pytest
from rest_framework.test import APIClient

from tests.factories import add_member, make_ticket
from tests.observability.scrape import samples, total, value

REQUESTS = "agent_kanban_http_requests_total"
DURATION_COUNT = "agent_kanban_http_request_duration_seconds_count"
DURATION_INF = "agent_kanban_http_request_duration_seconds_bucket"
WON = "agent_kanban_claims_won_total"
REFUSED = "agent_kanban_claims_refused_total"


@pytest.fixture
def other(board, other_user) -> APIClient:
    add_member(board, other_user, "member")
    client = APIClient()
    client.force_login(other_user)
    return client


def test_requests_are_counted_by_route_pattern_never_by_raw_path(api, board, user, scrape):
    tickets = [make_ticket(user, board), make_ticket(user, board)]
    before = scrape()
    for ticket in tickets:
        assert api.get(f"/api/tickets/{ticket.pk}").status_code == 200
    assert api.get("/api/tickets/999999999").status_code == 404
    after = scrape()

    route = {"route": "/api/tickets/<pk>", "method": "GET"}
    ok = value(after, REQUESTS, **route, status="2xx") - value(
        before, REQUESTS, **route, status="2xx"
    )
    missing = value(after, REQUESTS, **route, status="4xx") - value(
        before, REQUESTS, **route, status="4xx"
    )
    assert (ok, missing) == (2, 1)
    assert value(after, DURATION_COUNT, **route) - value(before, DURATION_COUNT, **route) == 3
    assert value(after, DURATION_INF, **route, le="+Inf") == value(after, DURATION_COUNT, **route)
    routes = {dict(labels).get("route") for (_, labels) in samples(after)}
    assert not any(str(ticket.pk) in (label or "") for ticket in tickets for label in routes)


def test_unknown_paths_and_methods_share_one_label_each(api, scrape):
    before = scrape()
    assert api.get("/no/such/page/12345").status_code == 404
    assert api.get("/api/no/such/endpoint/12345").status_code == 404
    assert api.generic("BREW", "/api/boards").status_code == 405
    after = scrape()
    unmatched = {"route": "unmatched", "method": "GET", "status": "4xx"}
    assert value(after, REQUESTS, **unmatched) - value(before, REQUESTS, **unmatched) == 2
    brew = {"route": "/api/boards", "method": "other", "status": "4xx"}
    assert value(after, REQUESTS, **brew) - value(before, REQUESTS, **brew) == 1
    assert not any("BREW" in str(labels) or "12345" in str(labels) for _, labels in samples(after))


def test_claims_won_and_refused(api, other, board, user, scrape):
    ticket = make_ticket(user, board)
    before = scrape()
    assert api.post(f"/api/tickets/{ticket.pk}/claim", {}, format="json").status_code == 200
    refused = other.post(f"/api/tickets/{ticket.pk}/claim", {}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "claimed"
    empty = other.post(f"/api/boards/{board.pk}/claim-next", {}, format="json")
    assert empty.status_code == 404 and empty.json()["error"]["code"] == "nothing_to_claim"
    # Bad input is neither a win nor a refusal.
    bad = other.post(f"/api/tickets/{ticket.pk}/claim", {"lease_seconds": 1}, format="json")
    assert bad.status_code == 400
    make_ticket(user, board)
    assert other.post(f"/api/boards/{board.pk}/claim-next", {}, format="json").status_code == 200
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(WON, kind="claim") == 1
    assert moved(WON, kind="next") == 1
    assert moved(REFUSED, kind="claim", reason="claimed") == 1
    assert moved(REFUSED, kind="next", reason="nothing_to_claim") == 1
    assert total(after, REFUSED) - total(before, REFUSED) == 2


def test_board_events_published_after_commit(
    api, board, scrape, django_capture_on_commit_callbacks
):
    name = "agent_kanban_board_events_published_total"
    before = value(scrape(), name, type="ticket_created")
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/tickets/", {"board_id": board.pk, "title": "Hi"}, format="json")
    assert created.status_code == 201, created.content
    assert value(scrape(), name, type="ticket_created") - before == 1


def test_statistics_cache_hits_and_misses(api, board, user, scrape):
    make_ticket(user, board)
    url = f"/api/statistics/boards/{board.pk}/statistics"
    name = "agent_kanban_cache_lookups_total"
    start = scrape()
    assert api.get(url).status_code == 200
    first = scrape()
    assert api.get(url).status_code == 200
    second = scrape()

    def moved(old: str, new: str, result: str) -> float:
        return value(new, name, cache="stats", result=result) - value(
            old, name, cache="stats", result=result
        )

    assert moved(start, first, "miss") >= 1 and moved(start, first, "hit") == 0
    assert moved(first, second, "hit") >= 1 and moved(first, second, "miss") == 0


def test_the_scrape_itself_is_counted_under_its_route(scrape):
    before = scrape()
    after = scrape()
    labels = {"route": "/metrics", "method": "GET", "status": "2xx"}
    assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 1
