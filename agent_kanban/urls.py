from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from agent_kanban import health
from agents.api import SessionView
from agents.urls import api_urlpatterns as token_api_patterns
from backups.api import BoardExportView
from boards.api import BoardViewSet
from comments.api import CommentViewSet
from comments.review_api import TicketReviewView
from core import metrics
from core.errors import api_not_found
from history.api import (
    BoardActivityView,
    HistoryStatsView,
    TicketHistoryView,
    TicketTransitionsView,
)
from live.sse import board_events
from tickets.api import (
    BoardTicketsView,
    BulkAssignView,
    BulkMoveView,
    BulkPriorityView,
    ClaimNextView,
    TicketViewSet,
)

handler400 = "core.errors.handler400"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"

# The seed's paths, with or without the trailing slash.
router = DefaultRouter()
router.trailing_slash = "/?"
router.register("boards", BoardViewSet, basename="board")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("comments", CommentViewSet, basename="comment")

api_patterns = [
    re_path(r"^health/?$", health.HealthView.as_view(), name="health"),
    re_path(r"^health/simple/?$", health.simple, name="health-simple"),
    re_path(r"^health/live/?$", health.live, name="health-live"),
    re_path(r"^status/?$", health.StatusView.as_view(), name="status"),
    re_path(r"^users/session/?$", SessionView.as_view(), name="session"),
    re_path(r"^boards/(?P<board_id>\d+)/claim-next/?$", ClaimNextView.as_view(), name="claim-next"),
    re_path(r"^boards/(?P<pk>\d+)/tickets/?$", BoardTicketsView.as_view(), name="board-tickets"),
    re_path(r"^boards/(?P<pk>\d+)/export/?$", BoardExportView.as_view(), name="board-export"),
    re_path(r"^tickets/(?P<pk>\d+)/review/?$", TicketReviewView.as_view(), name="ticket-review"),
    re_path(r"^bulk/tickets/move/?$", BulkMoveView.as_view(), name="bulk-move"),
    re_path(r"^bulk/tickets/priority/?$", BulkPriorityView.as_view(), name="bulk-priority"),
    re_path(r"^bulk/tickets/assign/?$", BulkAssignView.as_view(), name="bulk-assign"),
    re_path(
        r"^history/tickets/(?P<ticket_id>\d+)/history/?$",
        TicketHistoryView.as_view(),
        name="ticket-history",
    ),
    re_path(
        r"^history/tickets/(?P<ticket_id>\d+)/transitions/?$",
        TicketTransitionsView.as_view(),
        name="ticket-transitions",
    ),
    re_path(
        r"^history/boards/(?P<board_id>\d+)/activity/?$",
        BoardActivityView.as_view(),
        name="board-activity",
    ),
    re_path(r"^history/stats/?$", HistoryStatsView.as_view(), name="history-stats"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    re_path(r"^docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    re_path(r"^boards/(?P<board_id>\d+)/events/?$", board_events, name="board-events"),
    *token_api_patterns,  # /api/tokens…
    path("", include("webhooks.urls")),
    path("", include("forge.urls")),
    path("", include(router.urls)),
    # Last: every other path under /api/ is the JSON 404, whatever DEBUG says.
    re_path(r"^(?P<unknown>.*)$", api_not_found, name="api-not-found"),
]

urlpatterns = [
    path("", include("web.urls")),
    path("", include("stats.urls")),  # /api/statistics/…
    path("health", health.simple, name="health-basic"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/", include(api_patterns)),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]
