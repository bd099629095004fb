"""The pages people use: log in, the boards dashboard, a board and its fragments."""

from django.contrib.auth import views as auth_views
from django.urls import path

from boards import views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True, next_page="/"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="/login/"), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("boards/new/", views.board_create, name="board-create"),
    path("boards/<int:board_id>/", views.board_page, name="board"),
    path("boards/<int:board_id>/rename/", views.board_rename, name="board-rename"),
    path("boards/<int:board_id>/delete/", views.board_delete, name="board-delete"),
    path("boards/<int:board_id>/members/", views.board_members, name="board-members-page"),
    path("boards/<int:board_id>/cards/", views.cards_fragment, name="board-cards"),
    path("boards/<int:board_id>/cards/<int:ticket_id>/", views.cards_fragment, name="board-card"),
    path(
        "boards/<int:board_id>/tickets/<int:ticket_id>/",
        views.ticket_detail,
        name="ticket-detail",
    ),
]
