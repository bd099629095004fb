"""The token endpoints, included under /api/."""

from django.urls import re_path

from agents import api

api_urlpatterns = [
    re_path(r"^tokens/?$", api.TokenListView.as_view(), name="api-tokens"),
    re_path(r"^tokens/(?P<token_id>\d+)/?$", api.TokenDetailView.as_view(), name="api-token"),
    re_path(
        r"^tokens/(?P<token_id>\d+)/revoke/?$",
        api.TokenRevokeView.as_view(),
        name="api-token-revoke",
    ),
]
