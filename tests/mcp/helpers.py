"""MCP clients for the tests (the SDK's own) and what they check on every transport."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, Tool

from mcp_server.identity import acting_with
from mcp_server.server import build_server

READ_TOOLS = {
    "list_boards",
    "get_board_state",
    "list_columns",
    "list_tasks",
    "search_tasks",
    "get_task",
    "get_board_events",
    "wait_for_work",
}
WRITE_TOOLS = {
    "create_task",
    "create_subtasks",
    "edit_task",
    "update_task_status",
    "claim_task",
    "claim_next_task",
    "heartbeat",
    "report_progress",
    "review_task",
    "release_task",
    "add_comment",
    "add_dependency",
    "remove_dependency",
}


@asynccontextmanager
async def http_session(base_url: str, secret: str) -> AsyncIterator[ClientSession]:
    """An initialized MCP session over streamable HTTP, authenticated with `secret`."""
    headers = {"Authorization": f"Bearer {secret}"}
    timeout = httpx2.Timeout(30, read=60)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def agent_client(base_url: str, secret: str) -> AsyncIterator[Client]:
    """The SDK's high-level client over streamable HTTP, authenticated with `secret`,
    negotiating the newest revision (2026-07-28: no session, `subscriptions/listen`).
    Its response cache is off, so every read reaches the server."""
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=360)) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, cache=None) as client:
            yield client


def call(secret: str | None, name: str, **arguments) -> CallToolResult:
    """One tool call in-process, as the owner of `secret` (nobody if None)."""

    async def go() -> CallToolResult:
        async with Client(build_server()) as client:
            return await client.call_tool(name, arguments)

    if secret is None:
        return anyio.run(go)
    with acting_with(secret):
        return anyio.run(go)


def data(result: CallToolResult) -> dict:
    """The answer of a successful tool call; its text is the same JSON as its structure."""
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text


def assert_catalogue(tools: list[Tool]) -> None:
    """Every tool is listed with a description and an input schema; reads are marked."""
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == READ_TOOLS | WRITE_TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 20, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        for name, spec in tool.input_schema.get("properties", {}).items():
            assert name != "actor", tool.name
            assert "type" in spec or "anyOf" in spec or "enum" in spec, (tool.name, name)
        read_only = tool.annotations.read_only_hint
        assert read_only is (tool.name in READ_TOOLS), tool.name
    claim = by_name["claim_task"].input_schema
    assert claim["required"] == ["task_id"]
    assert "description" in claim["properties"]["lease_seconds"]
    move = by_name["update_task_status"].input_schema["properties"]
    assert {"task_id", "column", "position", "version"} <= set(move)
