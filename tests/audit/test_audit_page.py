"""The audit log: /audit/ and the admin, for site admins only."""

import pytest
from django.test import Client

from agents.services import token_issue
from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def events(user, admin_user):
    AuditEvent.objects.all().delete()  # force_login of the fixtures records sign-ins
    audit_record(actor=user, action="membership.added", board_id=7, target_type="user", target_id=3)
    audit_record(actor=admin_user, action="wip.override", board_id=8, details={"column": "Doing"})
    audit_record(actor=None, action="auth.login_failed", details={"username": "mallory"})
    token_issue(actor=user, user=user, name="ci")


def test_non_admins_do_not_find_the_page(user, client):
    assert client.get("/audit/").status_code == 302  # to the login page
    assert logged_in(user).get("/audit/").status_code == 404


def test_admin_sees_recent_events_newest_first(admin_user, events):
    page = logged_in(admin_user).get("/audit/").content.decode()
    order = [page.index(f'data-action="{action}"') for action in ("token.created", "wip.override")]
    assert order == sorted(order)
    assert "mallory" in page and "column: Doing" in page


# The fixture's events, and the sign-in of the admin looking at the page.
EVERY_ACTION = {
    "membership.added",
    "wip.override",
    "auth.login_failed",
    "token.created",
    "auth.login",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=wip.override", {"wip.override"}),
        ("action=token.", {"token.created"}),
        ("user=alice", {"membership.added", "token.created"}),
        ("board=7", {"membership.added"}),
        ("board=not-a-number", EVERY_ACTION),  # dropped, with a message
    ],
)
def test_filters(admin_user, events, query, expected):
    response = logged_in(admin_user).get(f"/audit/?{query}")
    assert response.status_code == 200
    body = response.content.decode()
    assert {action for action in EVERY_ACTION if f'data-action="{action}"' in body} == expected


def test_pages(admin_user, events, settings):
    settings.AUDIT_PAGE_SIZE = 2
    client = logged_in(admin_user)
    first = client.get("/audit/").content.decode()
    second = client.get("/audit/?page=2").content.decode()
    past_the_end = client.get("/audit/?page=99")
    assert "Page 1 of" in first and "Older" in first
    assert "Page 2 of" in second and "Newer" in second
    assert past_the_end.status_code == 200  # the last page


def test_admin_lists_and_searches_but_never_edits(admin_user, events):
    client = logged_in(admin_user)
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200 and "wip.override" in listing.content.decode()
    for query in ("alice", "mallory", "wip", "a'b%"):
        assert client.get("/admin/audit/auditevent/", {"q": query}).status_code == 200
    filtered = client.get("/admin/audit/auditevent/", {"action": "wip.override"})
    assert filtered.status_code == 200
    event = AuditEvent.objects.get(action="wip.override")
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    change = client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "x"})
    assert change.status_code == 403
    assert (
        client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.get(pk=event.pk).action == "wip.override"


def test_people_who_are_not_staff_have_no_admin(user):
    staffless = logged_in(make_user("plain"))
    assert staffless.get("/admin/audit/auditevent/").status_code == 302


def test_revoking_in_the_admin_is_audited(admin_user, user):
    issued = token_issue(actor=user, user=user, name="leaked")
    client = logged_in(admin_user)
    listing = client.get("/admin/agents/apitoken/").content.decode()
    assert "leaked" in listing
    detail = client.get(f"/admin/agents/apitoken/{issued.token.pk}/change/")
    assert detail.status_code == 200 and "Read only" in detail.content.decode()
    response = client.post(
        "/admin/agents/apitoken/",
        {"action": "revoke_selected", "_selected_action": [issued.token.pk]},
        follow=True,
    )
    assert "Revoked 1 token(s)." in response.content.decode()
    revoked = AuditEvent.objects.get(action="token.revoked")
    assert revoked.actor == admin_user and revoked.target_id == str(issued.token.pk)
