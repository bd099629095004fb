"""ASGI entry point (daphne): HTTP with the MCP server at /mcp, and the board WebSocket
at /ws/connect."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agent_kanban.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.urls import re_path

django_asgi = get_asgi_application()
if settings.SERVE_STATIC:
    # The embedded shape: one daphne serves the static files too (nginx does in production).
    django_asgi = ASGIStaticFilesHandler(django_asgi)

# Imported after Django is set up: they load models.
from core.metrics import track_websockets  # noqa: E402
from live.apps import daphne_is_serving  # noqa: E402
from live.auth import WebSocketAuthStack  # noqa: E402
from live.consumers import BoardEventsConsumer  # noqa: E402
from live.limits import WebSocketConnectLimit  # noqa: E402
from mcp_server.http import mount_mcp  # noqa: E402
from mcp_server.limits import McpRateLimit  # noqa: E402
from webhooks.worker import start_in_process, stop_in_process  # noqa: E402

websocket_routes = [re_path(r"^ws/connect/?$", BoardEventsConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": McpRateLimit(mount_mcp(django_asgi)),
        "websocket": track_websockets(
            WebSocketAuthStack(WebSocketConnectLimit(URLRouter(websocket_routes)))
        ),
    }
)


def _deliver_webhooks_when_serving() -> None:
    """The embedded shape: the server delivers webhooks, with nothing else to start.
    daphne runs on Twisted's reactor, which it installed before loading this module:
    the deliverer starts once the reactor runs, so a process that only imports the
    application (a test) delivers nothing."""
    if not daphne_is_serving():
        return
    reactor = sys.modules["twisted.internet.reactor"]
    reactor.callWhenRunning(start_in_process)
    reactor.addSystemEventTrigger("before", "shutdown", stop_in_process)


if settings.WEBHOOKS_DELIVER_IN_PROCESS:
    _deliver_webhooks_when_serving()
