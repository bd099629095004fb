"""Telling open sessions that their token was revoked.

Every WebSocket connection and every MCP-over-HTTP process serving a session opened
with a token joins the channel-layer group of that token; revoking it sends one
message there after the commit. With the Redis channel layer that reaches every
daphne instance; the sessions also re-check their token on their own (each MCP
request and tool call, each WebSocket heartbeat), so a lost message only delays the
cut."""

import logging

from agent_kanban import channel_send

logger = logging.getLogger(__name__)

REVOKED_MESSAGE_TYPE = "token.revoked"


def token_group_name(token_id: int) -> str:
    """The Channels group of every session authenticated with one token."""
    return f"token-{token_id}"


def announce_revoked(token_id: int) -> None:
    try:
        channel_send.group_send(
            token_group_name(token_id), {"type": REVOKED_MESSAGE_TYPE, "token_id": token_id}
        )
    except Exception:
        # The revocation is committed; sessions find out at their next check.
        logger.warning("Could not announce revocation of token %s", token_id, exc_info=True)
