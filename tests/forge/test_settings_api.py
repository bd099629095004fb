"""GET/PUT /api/boards/{id}/forge: board admins set the secrets (never shown again) and
the rules' columns (one of the board's, or null); the change is audited, and makes the
forge identity an agent of the board."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from boards.models import BoardMembership
from boards.services import board_set_columns, membership_set
from tests.factories import add_member, make_board, make_ticket, make_user
from tests.forge.helpers import deliver
from tests.forge.test_pull_requests import github_pr
from tests.tickets.helpers import assert_error

pytestmark = pytest.mark.django_db

SECRET = "a long enough secret"


@pytest.fixture
def fresh(user):
    return make_board(user, "Fresh", columns=["Todo", "Review", "Done"])


def test_a_new_board_has_nothing_set(api, fresh):
    response = api.get(f"/api/boards/{fresh.pk}/forge")
    assert response.status_code == 200
    assert response.json() == {
        "board_id": fresh.pk,
        "github_secret_set": False,
        "gitlab_secret_set": False,
        "gitea_secret_set": False,
        "on_pr_opened": None,
        "on_pr_merged": None,
        "hooks": {
            forge: f"http://testserver/api/hooks/{forge}/{fresh.pk}"
            for forge in ("github", "gitlab", "gitea")
        },
    }


def test_secrets_are_write_only(api, fresh):
    body = {"github_secret": SECRET, "gitea_secret": SECRET + "!", "on_pr_opened": "review"}
    response = api.put(f"/api/boards/{fresh.pk}/forge", body, format="json")
    assert response.status_code == 200, response.content
    shown = response.json()
    assert (shown["github_secret_set"], shown["gitlab_secret_set"], shown["gitea_secret_set"]) == (
        True,
        False,
        True,
    )
    assert shown["on_pr_opened"] == "Review" and shown["on_pr_merged"] is None
    for answer in (response, api.get(f"/api/boards/{fresh.pk}/forge")):
        assert SECRET not in answer.content.decode()
    # Left out: kept. Null: cleared.
    api.put(f"/api/boards/{fresh.pk}/forge", {"on_pr_merged": "Done"}, format="json")
    cleared = api.put(f"/api/boards/{fresh.pk}/forge", {"github_secret": None}, format="json")
    assert cleared.json()["github_secret_set"] is False
    assert cleared.json()["gitea_secret_set"] is True
    assert cleared.json()["on_pr_merged"] == "Done" and cleared.json()["on_pr_opened"] == "Review"


def test_changes_are_audited_without_the_secret(api, user, fresh):
    api.put(
        f"/api/boards/{fresh.pk}/forge",
        {"gitlab_secret": SECRET, "on_pr_merged": "Done"},
        format="json",
    )
    api.put(f"/api/boards/{fresh.pk}/forge", {"gitlab_secret": None}, format="json")
    events = AuditEvent.objects.filter(action="forge.settings_changed", board_id=fresh.pk)
    assert [event.details for event in events.order_by("id")] == [
        {"gitlab_secret": "set", "on_pr_merged": "Done"},
        {"gitlab_secret": "cleared"},
    ]
    assert all(event.actor == user for event in events)
    assert not AuditEvent.objects.filter(details__icontains=SECRET).exists()


def test_saving_a_secret_makes_the_forge_an_agent_of_the_board(api, fresh):
    assert not BoardMembership.objects.filter(board=fresh, user__username="forge").exists()
    api.put(f"/api/boards/{fresh.pk}/forge", {"github_secret": SECRET}, format="json")
    membership = BoardMembership.objects.get(board=fresh, user__username="forge")
    assert membership.role == "agent"
    assert membership.user.is_agent and not membership.user.has_usable_password()
    assert AuditEvent.objects.filter(action="membership.added", board_id=fresh.pk).exists()


@pytest.mark.parametrize(
    "body,field,code",
    [
        ({"on_pr_opened": "Doing"}, "on_pr_opened", "unknown_column"),
        ({"on_pr_merged": 3}, "on_pr_merged", "unknown_column"),
        ({"github_secret": "short"}, "github_secret", "invalid"),
        ({"gitlab_secret": "x" * 256}, "gitlab_secret", "max_length"),
        ({"bitbucket_secret": SECRET}, "bitbucket_secret", "unknown_field"),
    ],
)
def test_bad_values_are_400_and_change_nothing(body, field, code, api, fresh):
    response = api.put(f"/api/boards/{fresh.pk}/forge", body, format="json")
    assert_error(response, 400, field=field)
    assert response.json()["error"]["validation_errors"][0]["code"] == code
    assert api.get(f"/api/boards/{fresh.pk}/forge").json()["on_pr_opened"] is None


def test_only_board_admins_see_or_change_them(fresh, user):
    member, stranger = make_user("member"), make_user("stranger")
    add_member(fresh, member, "member")
    for who, status in ((member, 403), (stranger, 404)):
        client = APIClient()
        client.force_login(who)
        assert_error(client.get(f"/api/boards/{fresh.pk}/forge"), status)
        put = client.put(f"/api/boards/{fresh.pk}/forge", {"github_secret": SECRET}, format="json")
        assert_error(put, status)
    assert not AuditEvent.objects.filter(action="forge.settings_changed").exists()


def test_a_renamed_column_keeps_its_rule_and_a_removed_one_drops_it(api, user, fresh):
    api.put(
        f"/api/boards/{fresh.pk}/forge",
        {"on_pr_opened": "Review", "on_pr_merged": "Done"},
        format="json",
    )
    columns = list(fresh.columns.order_by("position"))
    board_set_columns(
        actor=user,
        board_id=fresh.pk,
        columns=[
            {"id": columns[0].pk, "name": "Todo"},
            {"id": columns[1].pk, "name": "In review"},
        ],
    )
    shown = api.get(f"/api/boards/{fresh.pk}/forge").json()
    assert (shown["on_pr_opened"], shown["on_pr_merged"]) == ("In review", None)


def test_the_forge_acts_only_while_it_may_write_on_the_board(api, user, board):
    forge_user = BoardMembership.objects.get(board=board, user__username="forge").user
    membership_set(actor=user, board_id=board.pk, user_id=forge_user.pk, role="viewer")
    work = make_ticket(user, board, "Work")
    response = deliver("github", board.pk, github_pr("opened", work.pk), "pull_request")
    assert_error(response, 409, code="forge_not_member")
    assert not work.links.exists()
    # Saving the settings again gives it its role back.
    api.put(f"/api/boards/{board.pk}/forge", {"github_secret": SECRET}, format="json")
    assert BoardMembership.objects.get(board=board, user=forge_user).role == "agent"
    response = deliver(
        "github", board.pk, github_pr("opened", work.pk), "pull_request", secret=SECRET
    )
    assert response.status_code == 200 and work.links.exists()
