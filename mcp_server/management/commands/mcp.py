import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from agents.authentication import user_for_token
from core.database import database_label, migration_state
from mcp_server.identity import acting_with
from mcp_server.server import build_server

TOKEN_VARIABLE = "AGENT_KANBAN_TOKEN"


class _LastWarning(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.text: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.text = record.getMessage()


@contextmanager
def _pool_warnings_kept() -> Iterator[_LastWarning]:
    """PostgreSQL's pool logs why it cannot connect (a warning per attempt) and then
    raises a bare timeout: keep the last reason for the one line instead."""
    pool_log, kept = logging.getLogger("psycopg.pool"), _LastWarning()
    propagated, pool_log.propagate = pool_log.propagate, False
    pool_log.addHandler(kept)
    try:
        yield kept
    finally:
        pool_log.removeHandler(kept)
        pool_log.propagate = propagated


def ensure_database_ready() -> None:
    """One line instead of a traceback when the database cannot serve the tools: a
    client that launches this command shows its stderr to the user, who then knows
    which database was opened (DATABASE_URL) and what it needs."""
    label = database_label()
    with _pool_warnings_kept() as pool_warning:
        try:
            pending, _ = migration_state()
        except DatabaseError as error:
            text = pool_warning.text or str(error).strip() or type(error).__name__
            reason = text.splitlines()[0].strip()
            raise CommandError(f"Cannot open the database ({label}): {reason}") from error
    if pending:
        raise CommandError(
            f"The database ({label}) needs `python manage.py migrate` "
            f"({len(pending)} migrations not applied); is DATABASE_URL the server's?"
        )


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
                f"`python manage.py create_agent NAME --board BOARD`, then set "
                f"{TOKEN_VARIABLE} to the token."
            )
        ensure_database_ready()
        user, _ = user_for_token(secret)
        if user is None:
            raise CommandError(
                f"{TOKEN_VARIABLE} holds a token that is unknown, revoked or expired in the "
                f"database ({database_label()})."
            )
        self.stderr.write(f"Agent Kanban MCP server on stdio, acting as {user.username!r}.")
        with acting_with(secret):
            anyio.run(build_server().run_stdio_async)
