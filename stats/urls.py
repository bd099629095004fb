"""The statistics API (under /api/statistics/, trailing slash optional)."""

from django.urls import re_path

from stats import api

BOARD = r"^api/statistics/boards/(?P<board_id>\d+)"

urlpatterns = [
    re_path(BOARD + r"/statistics/?$", api.BoardStatisticsView.as_view(), name="stats-statistics"),
    re_path(BOARD + r"/tickets/colors/?$", api.TicketColorsView.as_view(), name="stats-colors"),
    re_path(BOARD + r"/performance/?$", api.PerformanceView.as_view(), name="stats-performance"),
    re_path(BOARD + r"/flow/?$", api.FlowView.as_view(), name="stats-flow"),
    re_path(
        BOARD + r"/drag-drop/metrics/?$", api.DragDropMetricsView.as_view(), name="stats-drag-drop"
    ),
    re_path(
        r"^api/statistics/tickets/(?P<ticket_id>\d+)/statistics/?$",
        api.TicketStatisticsView.as_view(),
        name="stats-ticket",
    ),
]
