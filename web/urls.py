"""The pages people use: log in, the dashboard, a board and its fragments, members,
Insights, tokens and the audit log."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from web import audit, boards, forge, insights, tokens, webhooks

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True, next_page="/"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="/login/"), name="logout"),
    path("", boards.dashboard, name="dashboard"),
    path("boards/new/", boards.board_create, name="board-create"),
    path("boards/<int:board_id>/", boards.board_page, name="board"),
    path("boards/<int:board_id>/rename/", boards.board_rename, name="board-rename"),
    path("boards/<int:board_id>/delete/", boards.board_delete, name="board-delete"),
    path("boards/<int:board_id>/members/", boards.board_members, name="board-members-page"),
    path("boards/<int:board_id>/cards/", boards.cards_fragment, name="board-cards"),
    path("boards/<int:board_id>/cards/<int:ticket_id>/", boards.cards_fragment, name="board-card"),
    path(
        "boards/<int:board_id>/tickets/<int:ticket_id>/",
        boards.ticket_detail,
        name="ticket-detail",
    ),
    path("boards/<int:board_id>/insights/", insights.insights, name="board-insights"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", tokens.token_revoke_view, name="token-revoke"),
    path("audit/", audit.audit_page, name="audit"),
    path("", include(webhooks)),
    path("", include(forge)),
]
