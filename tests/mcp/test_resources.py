"""Resources, listen streams, wait_for_work, get_board_events and the prompt, through the
SDK's client over stateless HTTP against a real daphne (the embedded shape: its
in-process channel layer carries the board events of the writes it serves)."""

import json
import time
from datetime import timedelta

import anyio
import httpx
import pytest
from django.utils import timezone
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated

from tests.factories import add_member, make_agent, make_board, make_ticket
from tests.mcp.helpers import agent_client, data
from tickets.models import Ticket
from tickets.services import ticket_add_dependency

pytestmark = pytest.mark.django_db(transaction=True)

URIS = {
    "kanban://boards/{board_id}",
    "kanban://boards/{board_id}/ready",
    "kanban://tasks/{task_id}",
}


def rest(base: str, secret: str, method: str, path: str, **body) -> dict:
    answer = httpx.request(
        method, f"{base}{path}", json=body or None, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.is_success, answer.text
    return answer.json()


def read(result) -> dict:
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


def test_the_resources_are_listed_and_read_as_json(daphne_url, owner, work_board, agent):
    _, secret = agent
    ticket = make_ticket(owner, work_board, "Ready one", priority="high")
    make_ticket(owner, work_board, "Later one", priority="low")

    async def look() -> dict:
        async with agent_client(daphne_url, secret) as client:
            listed = await client.list_resources()
            templates = await client.list_resource_templates()
            return {
                "static": {r.uri: r.mime_type for r in listed.resources},
                "templates": {t.uri_template: t for t in templates.resource_templates},
                "boards": read(await client.read_resource("kanban://boards")),
                "board": read(await client.read_resource(f"kanban://boards/{work_board.pk}")),
                "ready": read(await client.read_resource(f"kanban://boards/{work_board.pk}/ready")),
                "task": read(await client.read_resource(f"kanban://tasks/{ticket.pk}")),
            }

    seen = anyio.run(look)
    assert seen["static"] == {"kanban://boards": "application/json"}
    assert set(seen["templates"]) == URIS
    for template in seen["templates"].values():
        assert template.mime_type == "application/json" and len(template.description) > 30
    assert [board["name"] for board in seen["boards"]["items"]] == ["Work"]
    board = seen["board"]
    assert [column["name"] for column in board["columns"]] == ["Backlog", "In Progress", "Done"]
    last_seq = work_board.events.count()
    assert board["last_seq"] == last_seq >= 2
    ready = seen["ready"]
    assert [task["title"] for task in ready["tasks"]] == ["Ready one", "Later one"]
    assert (ready["column"], ready["last_seq"]) == ("Backlog", last_seq)
    assert seen["task"]["task"]["title"] == "Ready one"
    assert {"comments", "dependencies", "history"} <= set(seen["task"])


def test_a_board_the_caller_may_not_read_does_not_exist(daphne_url, owner, work_board):
    _, stranger = make_agent("stranger")
    ticket = make_ticket(owner, work_board, "Private")

    async def try_to_read(uri: str) -> str:
        async with agent_client(daphne_url, stranger) as client:
            with pytest.raises(MCPError) as refused:
                await client.read_resource(uri)
            return str(refused.value)

    hidden = anyio.run(try_to_read, f"kanban://boards/{work_board.pk}")
    missing = anyio.run(try_to_read, "kanban://boards/999999")
    assert hidden == missing.replace("999999", str(work_board.pk))
    assert "does not exist" in anyio.run(try_to_read, f"kanban://tasks/{ticket.pk}")
    assert "does not exist" in anyio.run(try_to_read, f"kanban://boards/{work_board.pk}/ready")


async def updates_after(client, uris: list[str], write, *, count: int, within: float = 10):
    """Listen on `uris`, run `write()` in a thread, and collect `count` updated URIs."""
    seen: list[str] = []
    async with client.listen(resource_subscriptions=uris) as stream:
        await anyio.to_thread.run_sync(write)
        with anyio.move_on_after(within):
            async for event in stream:
                assert isinstance(event, ResourceUpdated)
                seen.append(event.uri)
                if len(seen) >= count:
                    break
    return seen


def test_a_listen_stream_hears_the_writes_that_touch_its_resources(
    daphne_url, owner, work_board, agent
):
    _, secret = agent
    ticket = make_ticket(owner, work_board, "Watched")
    board_uri = f"kanban://boards/{work_board.pk}"
    task_uri = f"kanban://tasks/{ticket.pk}"

    def comment() -> None:
        rest(daphne_url, secret, "POST", "/api/comments/", ticket_id=ticket.pk, text="On it")

    async def listen() -> list[str]:
        async with agent_client(daphne_url, secret) as client:
            return await updates_after(client, [board_uri, task_uri], comment, count=2)

    assert sorted(anyio.run(listen)) == sorted([board_uri, task_uri])


def test_a_non_member_hears_nothing_and_a_removed_member_is_cut_off(
    daphne_url, owner, work_board, agent
):
    bot, secret = agent
    _, stranger_secret = make_agent("stranger")
    board_uri = f"kanban://boards/{work_board.pk}"

    def create() -> None:
        rest(daphne_url, secret, "POST", "/api/tickets/", board_id=work_board.pk, title="New")

    async def stranger_listens() -> tuple[list[str], list[str]]:
        async with agent_client(daphne_url, stranger_secret) as client:
            async with client.listen(resource_subscriptions=[board_uri]) as stream:
                honored = list(stream.honored.resource_subscriptions or [])
            return honored, await updates_after(client, [board_uri], create, count=1, within=2)

    honored, heard = anyio.run(stranger_listens)
    assert honored == [] and heard == []

    admin, admin_secret = make_agent("board-admin")
    add_member(work_board, admin, "admin")

    def remove() -> None:
        # Through the server, whose channel layer carries the access change to the stream.
        path = f"/api/boards/{work_board.pk}/members/{bot.pk}"
        answer = httpx.delete(
            f"{daphne_url}{path}", headers={"Authorization": f"Bearer {admin_secret}"}
        )
        assert answer.status_code == 204, answer.text

    async def member_listens() -> str:
        async with (
            agent_client(daphne_url, secret) as client,
            client.listen(resource_subscriptions=[board_uri]) as stream,
        ):
            assert stream.honored.resource_subscriptions == [board_uri]
            await anyio.to_thread.run_sync(remove)
            with anyio.fail_after(10):
                async for _ in stream:
                    pass
            return "ended"

    assert anyio.run(member_listens) == "ended"


def wait_during(base: str, secret: str, board_id: int, action=None, **arguments):
    """Call wait_for_work; half a second into the wait, run `action` in a thread. The
    answer, and how many seconds after the action (or the call) it came."""

    async def go() -> tuple[dict, float]:
        async with agent_client(base, secret) as client:
            answer: dict = {}

            async def wait() -> None:
                called = {"board_id": board_id, **arguments}
                answer["body"] = data(await client.call_tool("wait_for_work", called))
                answer["at"] = time.monotonic()

            acted = time.monotonic()
            async with anyio.create_task_group() as group:
                group.start_soon(wait)
                if action is not None:
                    await anyio.sleep(0.5)  # the wait has looked and found nothing
                    await anyio.to_thread.run_sync(action)
                    acted = time.monotonic()
            return answer["body"], answer["at"] - acted

    return anyio.run(go)


def test_wait_for_work_wakes_when_a_blocker_is_finished_or_a_task_created(
    daphne_url, owner, work_board, agent, other_agent
):
    _, secret = agent
    _, other_secret = other_agent
    blocker = make_ticket(owner, work_board, "Blocker")
    blocked = make_ticket(owner, work_board, "Blocked")
    ticket_add_dependency(actor=owner, ticket_id=blocked.pk, blocked_by_id=blocker.pk)
    rest(daphne_url, other_secret, "POST", f"/api/tickets/{blocker.pk}/claim")

    # Nothing is ready: the blocker is held by the other agent, and it blocks the other.
    idle, _ = wait_during(daphne_url, secret, work_board.pk, timeout_seconds=1)
    assert idle["task"] is None and idle["last_seq"] == work_board.events.count()

    def finish_blocker() -> None:
        rest(daphne_url, other_secret, "POST", f"/api/tickets/{blocker.pk}/move", column="Done")

    unblocked, after = wait_during(daphne_url, secret, work_board.pk, finish_blocker)
    assert unblocked["task"]["id"] == blocked.pk
    assert after < 1  # woken by the event, not by a look every 5 s
    assert Ticket.objects.get(pk=blocked.pk).claimed_by_id is None  # waiting claims nothing

    rest(daphne_url, secret, "POST", f"/api/tickets/{blocked.pk}/claim")

    def create() -> None:
        rest(daphne_url, other_secret, "POST", "/api/tickets/", board_id=work_board.pk, title="New")

    fresh, after = wait_during(daphne_url, secret, work_board.pk, create, timeout_seconds=30)
    assert fresh["task"]["title"] == "New" and after < 1


def test_wait_for_work_wakes_when_a_lease_runs_out(
    daphne_url, owner, work_board, agent, other_agent
):
    _, secret = agent
    _, other_secret = other_agent
    ticket = make_ticket(owner, work_board, "Held")
    rest(daphne_url, other_secret, "POST", f"/api/tickets/{ticket.pk}/claim")
    # A lease that runs out 1.5 s from now, with no event when it does.
    Ticket.objects.filter(pk=ticket.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=1.5)
    )
    lapse = time.monotonic() + 1.5

    lapsed, _ = wait_during(daphne_url, secret, work_board.pk, timeout_seconds=30)

    assert lapsed["task"]["id"] == ticket.pk
    assert time.monotonic() - lapse < 1


def test_get_board_events_is_the_rest_catch_up(daphne_url, owner, work_board, agent):
    _, secret = agent
    for number in range(5):
        make_ticket(owner, work_board, f"T{number}")
    page = rest(
        daphne_url, secret, "GET", f"/api/boards/{work_board.pk}/events?format=json&since=2&limit=3"
    )

    async def events() -> dict:
        async with agent_client(daphne_url, secret) as client:
            return data(
                await client.call_tool(
                    "get_board_events", {"board_id": work_board.pk, "since": 2, "limit": 3}
                )
            )

    assert anyio.run(events) == page
    assert [event["seq"] for event in page["items"]] == [3, 4, 5] and page["has_more"] is True


def test_the_work_on_board_prompt_names_the_boards_columns(daphne_url, owner, agent):
    _, secret = agent
    board = make_board(owner, "Sprint", columns=["To do", "Doing", "Shipped"])
    board.columns.filter(name="Doing").update(wip_limit=2)
    add_member(board, agent[0])

    async def prompt() -> tuple[list[str], str]:
        async with agent_client(daphne_url, secret) as client:
            listed = await client.list_prompts()
            got = await client.get_prompt("work_on_board", {"board_id": str(board.pk)})
            return [p.name for p in listed.prompts], got.messages[0].content.text

    names, text = anyio.run(prompt)
    assert names == ["work_on_board"]
    assert '"Sprint"' in text and "- Doing (limit 2)" in text and 'reach "Shipped"' in text
    assert "wait_for_work" in text and "claim_token" in text
