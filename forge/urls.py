"""The REST paths of forge settings and incoming forge hooks, under /api/."""

from django.urls import re_path

from forge import api

urlpatterns = [
    re_path(
        r"^boards/(?P<board_id>\d+)/forge/?$", api.ForgeSettingsView.as_view(), name="board-forge"
    ),
    re_path(
        r"^hooks/(?P<forge>github|gitlab|gitea)/(?P<board_id>\d+)/?$",
        api.ForgeHookView.as_view(),
        name="forge-hook",
    ),
]
