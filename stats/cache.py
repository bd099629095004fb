"""Caching of the heavier statistics, per board, in Django's cache (django-redis when
REDIS_URL is set, local memory otherwise)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from boards.models import Board
from core import metrics
from core.errors import NotFound

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class BoardVersion:
    """What a board's cache keys are made of."""

    id: int
    created_at: datetime
    last_event_seq: int


def board_version(board_id: int) -> BoardVersion:
    """One query; NotFound for an unknown board."""
    row = (
        Board.objects.filter(pk=board_id).values_list("id", "created_at", "last_event_seq").first()
    )
    if row is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return BoardVersion(*row)


def board_key(board: BoardVersion, name: str, *parts) -> str:
    # Invalidation by construction: every committed change of a board (ticket, column,
    # board) appends a board event and bumps Board.last_event_seq in the same
    # transaction, and the key carries that number. The first read after a write
    # therefore misses and recomputes, so no figure is ever stale after a write; the
    # old entries simply expire. The board's creation time guards against a reused id
    # (a new database, a restored backup) meeting entries of another board.
    stamp = int(board.created_at.timestamp() * 1_000_000)
    suffix = ":".join(str(part) for part in parts)
    return f"stats:{board.id}:{stamp}:{board.last_event_seq}:{name}:{suffix}"


def cached(board: BoardVersion, name: str, parts: tuple, compute: Callable[[], T]) -> T:
    """The cached value for (board, name, parts), computed and stored on a miss. The
    figures never depend on the cache: if it is unreachable they are computed."""
    key = board_key(board, name, *parts)
    try:
        value = cache.get(key)
    except Exception:
        metrics.cache_lookup("stats", "error")
        logger.warning("Statistics cache unreachable; computing %s", key, exc_info=True)
        return compute()
    metrics.cache_lookup("stats", "miss" if value is None else "hit")
    if value is None:
        value = compute()
        try:
            cache.set(key, value, settings.STATS_CACHE_SECONDS)
        except Exception:
            logger.warning("Could not store %s in the statistics cache", key, exc_info=True)
    return value
