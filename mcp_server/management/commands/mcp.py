import os

import anyio
from django.core.management.base import BaseCommand, CommandError

from agents.authentication import user_for_token
from mcp_server.identity import acting_with
from mcp_server.server import build_server

TOKEN_VARIABLE = "AGENT_KANBAN_TOKEN"


class Command(BaseCommand):
    help = (
        "Serve the MCP server over stdio (for Claude Desktop, Claude Code and other MCP "
        f"clients that launch it), acting as the agent whose token is in {TOKEN_VARIABLE}."
    )
    # stdout carries the MCP protocol: nothing else may be written there.
    requires_system_checks = []

    def handle(self, *args, **options) -> None:
        secret = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not secret:
            raise CommandError(
                f"{TOKEN_VARIABLE} is not set. Create an agent and its token with "
                f"`python manage.py create_agent NAME`, then set {TOKEN_VARIABLE} to the token."
            )
        user, _ = user_for_token(secret)
        if user is None:
            raise CommandError(
                f"{TOKEN_VARIABLE} holds a token that is unknown, revoked or expired."
            )
        self.stderr.write(f"Agent Kanban MCP server on stdio, acting as {user.username!r}.")
        with acting_with(secret):
            anyio.run(build_server().run_stdio_async)
