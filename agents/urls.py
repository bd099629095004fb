"""Token management: the page, and the REST endpoints (included under /api/)."""

from django.urls import path, re_path

from agents import api, views

urlpatterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
]

api_urlpatterns = [
    re_path(r"^tokens/?$", api.TokenListView.as_view(), name="api-tokens"),
    re_path(r"^tokens/(?P<token_id>\d+)/?$", api.TokenDetailView.as_view(), name="api-token"),
    re_path(
        r"^tokens/(?P<token_id>\d+)/revoke/?$",
        api.TokenRevokeView.as_view(),
        name="api-token-revoke",
    ),
]
