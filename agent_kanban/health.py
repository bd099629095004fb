"""Health and status endpoints: cheap ones for load balancers, a full one for people, and
the status for monitors (no identity, nothing private)."""

import asyncio
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from boards.models import Board
from core.errors import api_methods
from core.version import VERSION
from live.realtime import connection_stats
from tickets.models import Ticket

STARTED = time.monotonic()
STARTED_AT = timezone.now()


@api_methods("GET", "HEAD")
def simple(request):
    """For load balancers: no database, no cache, just "the process answers"."""
    return JsonResponse({"status": "ok"})


@api_methods("GET", "HEAD")
def live(request):
    """Liveness: the smallest JSON view there is (no database, cache or session). It is
    also the benchmark floor: what the server stack costs with no work behind it."""
    return JsonResponse({"ok": True})


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check() or {}
        status = "ok"
    except Exception as error:  # a failing dependency is what this endpoint reports
        detail, status = {"error": type(error).__name__}, "error"
    return {
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        **detail,
    }


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _cache() -> dict:
    key = "health-check"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return what was stored")
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _channel_layer() -> dict:
    layer = get_channel_layer()

    # One event loop for the round trip: the Pub/Sub layer's subscriptions belong to
    # the loop that made them.
    async def round_trip() -> dict:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        return await asyncio.wait_for(layer.receive(channel), 5)

    message = async_to_sync(round_trip)()
    if message.get("type") != "health.ping":
        raise RuntimeError("channel layer lost a message")
    return {"backend": type(layer).__name__}


def _dependencies() -> dict[str, dict]:
    return {
        "database": _timed(_database),
        "cache": _timed(_cache),
        "channel_layer": _timed(_channel_layer),
    }


def _uptime_seconds() -> float:
    return round(time.monotonic() - STARTED, 1)


class HealthView(APIView):
    """Database (with latency), cache, channel layer, counts, version and uptime.
    503 when something the app needs is down."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        checks = {
            **_dependencies(),
            # WebSocket connections of the process that answers (each counts its own).
            "websocket": _timed(connection_stats),
        }
        healthy = all(check["status"] == "ok" for check in checks.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "version": VERSION,
            "environment": settings.ENVIRONMENT,
            "uptime_seconds": _uptime_seconds(),
            "started_at": STARTED_AT.isoformat(),
            "checks": checks,
        }
        if checks["database"]["status"] == "ok":
            body["counts"] = {"boards": Board.objects.count(), "tickets": Ticket.objects.count()}
        return Response(body, status=200 if healthy else 503)


class StatusView(APIView):
    """What this server is and whether its dependencies answer, for monitors: no identity
    needed, so nothing in it is private (no counts, names, backends or errors)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=dict)
    def get(self, request):
        answers = {name: check["status"] == "ok" for name, check in _dependencies().items()}
        return Response(
            {
                "name": "Agent Kanban",
                "version": VERSION,
                "status": "ok" if all(answers.values()) else "degraded",
                "server_time": timezone.now().isoformat(),
                "uptime_seconds": _uptime_seconds(),
                "answers": answers,
            }
        )
