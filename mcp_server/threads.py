"""The threads MCP requests run their database work on: a bounded pool of MCP's own.

A WebSocket consumer queries on the process's one thread-sensitive thread and an event
stream on asyncio's default pool; a tool call that waits (a locked row, a slow query)
holds a thread for as long as it waits. On a pool of its own, `MCP_THREADS` such calls
fill MCP's pool and the next MCP call queues, while watchers on either transport are
answered as before (issue 19, point 8)."""

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, wraps
from typing import ParamSpec, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")


@cache
def mcp_executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.MCP_THREADS, thread_name_prefix="mcp")


def on_mcp_threads(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` as a coroutine run on MCP's pool, its stale connections closed around it.
    The pool is made at the first call, once settings are loaded."""

    @wraps(func)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        call = database_sync_to_async(func, thread_sensitive=False, executor=mcp_executor())
        return await call(*args, **kwargs)

    return run
