"""ASGI entry point (daphne): HTTP now; WebSocket and /mcp join it with their issues."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agent_kanban.settings")

from channels.routing import ProtocolTypeRouter
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()
if settings.SERVE_STATIC:
    # The embedded shape: one daphne serves the static files too (nginx does in production).
    django_asgi = ASGIStaticFilesHandler(django_asgi)

application = ProtocolTypeRouter({"http": django_asgi})
