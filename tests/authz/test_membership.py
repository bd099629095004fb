"""Managing who is on a board: the REST API, the members page, the last-admin rule, the
audit trail, and what a viewer's board page offers."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from boards.models import BoardMembership
from tests.factories import add_member, make_board, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATELIMIT_ENABLE = False


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def roles(board) -> dict[str, str]:
    return dict(BoardMembership.objects.filter(board=board).values_list("user__username", "role"))


def test_admin_adds_changes_and_removes_members_with_an_audit_trail(user, other_user):
    board = make_board(user, "Team")
    api = session(user)
    added = api.post(
        f"/api/boards/{board.pk}/members", {"username": "bob", "role": "viewer"}, format="json"
    )
    assert added.status_code == 201, added.content
    assert added.json() | {"created_at": None} == {
        "user_id": other_user.pk,
        "username": "bob",
        "kind": "human",
        "role": "viewer",
        "created_at": None,
    }
    url = f"/api/boards/{board.pk}/members/{other_user.pk}"
    assert api.patch(url, {"role": "member"}, format="json").json()["role"] == "member"
    listed = session(other_user).get(f"/api/boards/{board.pk}/members").json()
    assert [(row["username"], row["role"]) for row in listed] == [
        ("alice", "admin"),
        ("bob", "member"),
    ]
    assert api.delete(url).status_code == 204
    assert roles(board) == {"alice": "admin"}
    trail = AuditEvent.objects.filter(board_id=board.pk).order_by("pk")
    assert [(row.action, row.target_id, row.details["role"]) for row in trail] == [
        ("membership.added", str(other_user.pk), "viewer"),
        ("membership.changed", str(other_user.pk), "member"),
        ("membership.removed", str(other_user.pk), None),
    ]
    assert all(row.actor_id == user.pk for row in trail)


def test_the_last_admin_can_be_neither_demoted_nor_removed(user, other_user):
    board = make_board(user, "Team")
    api = session(user)
    url = f"/api/boards/{board.pk}/members/{user.pk}"
    demoted = api.patch(url, {"role": "member"}, format="json")
    assert (demoted.status_code, demoted.json()["error"]["code"]) == (409, "last_admin")
    assert api.delete(url).json()["error"]["code"] == "last_admin"
    add_member(board, other_user, "admin")
    assert api.patch(url, {"role": "member"}, format="json").status_code == 200
    assert roles(board) == {"alice": "member", "bob": "admin"}


def test_bad_member_requests_are_400_or_404(user):
    board = make_board(user, "Team")
    api = session(user)
    base = f"/api/boards/{board.pk}/members"
    bodies = [
        {"role": "viewer"},
        {"username": "nobody", "role": "viewer"},
        {"username": "alice", "role": "boss"},
        {"username": "alice", "user_id": user.pk, "role": "viewer"},
    ]
    for body in bodies:
        assert api.post(base, body, format="json").status_code == 400, body
    assert api.delete(f"{base}/999999").status_code == 404
    assert api.patch(f"{base}/999999", {"role": "viewer"}, format="json").status_code == 404


def test_members_page_lets_admins_manage_and_others_only_look(user, other_user):
    board = make_board(user, "Team")
    admin = Client()
    admin.force_login(user)
    page = f"/boards/{board.pk}/members/"
    response = admin.post(page, {"operation": "add", "username": "bob", "role": "viewer"})
    assert response.status_code == 302
    assert roles(board) == {"alice": "admin", "bob": "viewer"}
    admin.post(page, {"operation": "change", "user_id": other_user.pk, "role": "agent"})
    assert roles(board)["bob"] == "agent"
    assert "data-add-member" in admin.get(page).content.decode()

    viewer = Client()
    viewer.force_login(other_user)
    admin.post(page, {"operation": "change", "user_id": other_user.pk, "role": "viewer"})
    html = viewer.get(page).content.decode()
    assert "alice" in html and "data-add-member" not in html
    refused = viewer.post(page, {"operation": "remove", "user_id": user.pk})
    assert refused.status_code == 403
    admin.post(page, {"operation": "remove", "user_id": other_user.pk})
    assert roles(board) == {"alice": "admin"}
    assert viewer.get(page).status_code == 404


def test_a_viewer_gets_the_board_without_editing_controls(user, other_user):
    board = make_board(user, "Team")
    ticket = make_ticket(user, board, "Look only")
    add_member(board, other_user, "viewer")
    viewer = Client()
    viewer.force_login(other_user)
    html = viewer.get(f"/boards/{board.pk}/").content.decode()
    assert 'data-readonly="1"' in html and "Look only" in html
    for control in ("data-add-card", "data-composer", "data-open-columns"):
        assert control not in html, control
    detail = viewer.get(
        f"/boards/{board.pk}/tickets/{ticket.pk}/", headers={"X-Fragment": "1"}
    ).content.decode()
    assert "data-save" not in detail and "data-comment-form" not in detail
    dashboard = viewer.get("/").content.decode()
    assert "Team" in dashboard and f"/boards/{board.pk}/rename/" not in dashboard
    assert f"/boards/{board.pk}/delete/" not in dashboard
    owner = Client()
    owner.force_login(user)
    mine = owner.get(f"/boards/{board.pk}/").content.decode()
    assert "data-readonly" not in mine and "data-open-columns" in mine
    assert f"/boards/{board.pk}/delete/" in owner.get("/").content.decode()


def test_wip_override_needs_a_board_admin_and_is_audited(user, other_user):
    from boards.selectors import board_columns
    from boards.services import board_set_columns

    board = make_board(user, "Limits", columns=["Todo", "Doing"])
    add_member(board, other_user, "member")
    columns = board_columns(board_id=board.pk)
    board_set_columns(
        actor=user,
        board_id=board.pk,
        columns=[
            {"id": c["id"], "name": c["name"], "wip_limit": 1 if c["name"] == "Doing" else None}
            for c in columns
        ],
    )
    first, second = make_ticket(user, board, "One"), make_ticket(user, board, "Two")
    session(user).post(f"/api/tickets/{first.pk}/move", {"column": "Doing"}, format="json")
    body = {"column": "Doing", "override_wip": True}
    refused = session(other_user).post(f"/api/tickets/{second.pk}/move", body, format="json")
    assert refused.json()["error"]["code"] == "board_admin_required"
    moved = session(user).post(f"/api/tickets/{second.pk}/move", body, format="json")
    assert moved.status_code == 200
    [audit] = AuditEvent.objects.filter(action="wip.override")
    assert (audit.board_id, audit.target_id, audit.actor_id) == (board.pk, str(second.pk), user.pk)
