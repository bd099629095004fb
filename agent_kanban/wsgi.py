"""WSGI entry point (gunicorn): pages, the REST API and admin in production. The
long-lived connections (WebSocket, server-sent events, MCP over HTTP) are daphne's
(agent_kanban.asgi); nginx never sends them here (docs/deployment.md)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agent_kanban.settings")

application = get_wsgi_application()
