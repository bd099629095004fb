"""The webhook endpoints: board admins manage webhooks and see their deliveries; the
secret is shown once; every bad input is a 400 in the one error shape, every URL that
could reach inside the network a 400 `webhook_url_forbidden`."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.api.test_response_schema import assert_exact_properties, assert_matches
from tests.factories import make_ticket, make_user
from tests.webhooks.helpers import deliver_until
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.215.14/hooks/kanban"


def hooks(board) -> str:
    return f"/api/boards/{board.pk}/webhooks/"


def create(api, board, **body):
    return api.post(hooks(board), {"url": PUBLIC, **body}, format="json")


def error(response) -> dict:
    return response.json()["error"]


def test_create_shows_the_secret_once_and_never_again(api, board):
    made = create(api, board, events=["ticket_moved", "ticket_created"])
    assert made.status_code == 201, made.content
    body = made.json()
    assert len(body["secret"]) >= 32
    assert body["url"] == PUBLIC and body["active"] is True
    assert body["events"] == ["ticket_created", "ticket_moved"]  # the log's order
    assert body["created_by"] == "alice" and body["board_id"] == board.pk
    stored = Webhook.objects.get(pk=body["id"])
    assert stored.secret == body["secret"]
    seen = [
        api.get(hooks(board)).json()["items"][0],
        api.get(f"{hooks(board)}{body['id']}").json(),
        api.patch(f"{hooks(board)}{body['id']}", {"active": False}, format="json").json(),
    ]
    assert all("secret" not in shown for shown in seen)
    assert body["secret"] not in str(api.get(hooks(board)).content)


def test_a_secret_of_ones_own(api, board):
    made = create(api, board, secret="s" * 16)
    assert made.status_code == 201 and made.json()["secret"] == "s" * 16
    short = create(api, board, secret="short")
    assert short.status_code == 400 and error(short)["validation_errors"][0]["field"] == "secret"


def test_patch_changes_url_events_secret_and_active(api, board):
    webhook_id = create(api, board).json()["id"]
    url = f"{hooks(board)}{webhook_id}/"
    changed = api.patch(
        url,
        {"url": "https://93.184.215.15/other", "events": ["comment_added"], "secret": "n" * 20},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["url"] == "https://93.184.215.15/other"
    assert changed.json()["events"] == ["comment_added"]
    assert Webhook.objects.get(pk=webhook_id).secret == "n" * 20
    off = api.patch(url, {"active": False}, format="json").json()
    assert off["active"] is False and off["disabled_reason"] == "Switched off by alice"
    on = api.patch(url, {"active": True}, format="json").json()
    assert (on["active"], on["disabled_reason"], on["disabled_at"]) == (True, "", None)
    actions = AuditEvent.objects.filter(target_type="webhook").values_list("action", flat=True)
    assert sorted(actions) == ["webhook.created"] + ["webhook.updated"] * 3
    audited = AuditEvent.objects.filter(action="webhook.updated").order_by("pk").first()
    assert audited.details["changes"]["secret"] == "(changed)"
    assert "n" * 20 not in str(audited.details)


def test_delete(api, board):
    webhook_id = create(api, board).json()["id"]
    assert api.delete(f"{hooks(board)}{webhook_id}").status_code == 204
    assert api.get(f"{hooks(board)}{webhook_id}").status_code == 404
    assert AuditEvent.objects.filter(action="webhook.deleted").count() == 1


def test_members_get_403_and_strangers_404_as_for_the_members_endpoints(
    api, board, member_api, agent_api
):
    webhook_id = create(api, board).json()["id"]
    stranger = APIClient()
    stranger.force_login(make_user("mallory"))
    paths = [hooks(board), f"{hooks(board)}{webhook_id}", f"{hooks(board)}{webhook_id}/deliveries"]
    for path in paths:
        for client in (member_api, agent_api):
            refused = client.get(path)
            assert refused.status_code == 403, path
            assert error(refused)["code"] == "board_admin_required"
        assert stranger.get(path).status_code == 404
        assert error(stranger.get(path))["message"] == f"Board {board.pk} does not exist."
    assert create(member_api, board).status_code == 403
    assert create(stranger, board).status_code == 404
    assert APIClient().get(hooks(board)).status_code in (401, 403)
    assert Webhook.objects.count() == 1


def test_a_webhook_of_another_board_is_not_found(api, board, user):
    from tests.factories import make_board

    other = make_board(user, "Other")
    webhook_id = create(api, other).json()["id"]
    missing = api.get(f"{hooks(board)}{webhook_id}")
    assert missing.status_code == 404 and error(missing)["code"] == "webhook_not_found"
    assert api.get(f"{hooks(board)}99999999999999999999").status_code == 404
    assert api.delete(f"{hooks(board)}{webhook_id}").status_code == 404


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://172.16.5.4/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]/hook", "loopback"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://100.64.0.1/hook", "reserved"),
        ("ftp://93.184.215.14/hook", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("gopher://93.184.215.14/", "Only http and https"),
    ],
)
def test_urls_that_reach_inside_are_refused(api, board, settings, url, why):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    refused = create(api, board, url=url)
    assert refused.status_code == 400, refused.content
    assert error(refused)["code"] == "webhook_url_forbidden"
    [field] = error(refused)["validation_errors"]
    assert (field["field"], field["code"]) == ("url", "webhook_url_forbidden")
    assert why in field["message"]
    webhook_id = create(api, board).json()["id"]
    changed = api.patch(f"{hooks(board)}{webhook_id}", {"url": url}, format="json")
    assert changed.status_code == 400 and error(changed)["code"] == "webhook_url_forbidden"
    assert Webhook.objects.get(pk=webhook_id).url == PUBLIC


def test_private_addresses_may_be_allowed_but_never_the_metadata_service(api, board, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    assert create(api, board, url="http://10.1.2.3/hook").status_code == 201
    assert create(api, board, url="http://127.0.0.1:9/hook").status_code == 201
    for metadata in ("http://169.254.169.254/", "http://[fd00:ec2::254]/"):
        refused = create(api, board, url=metadata)
        assert refused.status_code == 400 and error(refused)["code"] == "webhook_url_forbidden"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "https://user:pw@93.184.215.14/"}, "url"),
        ({"url": "https://93.184.215.14:99999/"}, "url"),
        ({"url": "https://" + "a" * 2000 + ".example/"}, "url"),
        ({"url": 12}, "url"),
        ({"url": PUBLIC, "events": []}, "events"),
        ({"url": PUBLIC, "events": "ticket_created"}, "events"),
        ({"url": PUBLIC, "events": ["ticket_teleported"]}, "events"),
        ({"url": PUBLIC, "events": ["*", "ticket_created"]}, "events"),
        ({"url": PUBLIC, "events": [{"a": 1}]}, "events[0]"),
        ({"url": PUBLIC, "active": "yes"}, "active"),
        ({"url": PUBLIC, "secret": ["s" * 20]}, "secret"),
        ({"url": PUBLIC, "secret": "é" * 20}, "secret"),
        ({"url": PUBLIC, "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, board, body, field):
    refused = api.post(hooks(board), body, format="json")
    assert refused.status_code == 400, refused.content
    assert field in [row["field"] for row in error(refused)["validation_errors"]]
    assert Webhook.objects.count() == 0


@pytest.mark.parametrize(
    "raw", ["[]", '"text"', "null", "{", '{"url": "\\ud800"}', "[" * 5000 + "]" * 5000]
)
def test_a_body_that_is_not_an_object_is_a_400(api, board, raw):
    refused = api.generic("POST", hooks(board), raw, content_type="application/json")
    assert refused.status_code == 400
    assert "error" in refused.json()


def test_a_name_that_does_not_resolve_is_a_400(api, board):
    refused = create(api, board, url="https://no-such-host.invalid/hook")
    assert refused.status_code == 400
    assert error(refused)["code"] == "webhook_url_unresolvable"


def test_a_board_has_at_most_20_webhooks(api, board):
    for _ in range(20):
        assert create(api, board).status_code == 201
    refused = create(api, board)
    assert refused.status_code == 409 and error(refused)["code"] == "too_many_webhooks"


def test_deliveries_page_and_filter(api, board, user, receiver):
    made = create(api, board, url=receiver.url).json()
    for number in range(3):
        make_ticket(user, board, f"Card {number}")
    deliver_until(lambda: len(receiver.requests) == 3)
    path = f"{hooks(board)}{made['id']}/deliveries"
    page = api.get(path, {"page_size": 2})
    assert page.status_code == 200
    listed = page.json()
    assert (listed["total"], listed["total_pages"], listed["has_next"]) == (3, 2, True)
    first = listed["items"][0]
    assert first["status"] == "delivered" and first["attempts"] == 1
    assert first["last_status_code"] == 200 and first["last_attempt_at"]
    assert [item["seq"] for item in listed["items"]] == sorted(
        [item["seq"] for item in listed["items"]], reverse=True
    )
    assert api.get(path, {"status": "pending"}).json()["total"] == 0
    assert api.get(path, {"status": "delivered"}).json()["total"] == 3
    bad = api.get(path, {"status": "lost"})
    assert bad.status_code == 400 and error(bad)["validation_errors"][0]["field"] == "status"
    assert api.get(path, {"page": 0}).status_code == 400
    assert api.get(path, {"page_size": "x"}).status_code == 400


def test_redeliver(api, board, user, receiver):
    made = create(api, board, url=receiver.url).json()
    make_ticket(user, board, "Once more")
    deliver_until(lambda: len(receiver.requests) == 1)
    path = f"{hooks(board)}{made['id']}/deliveries"
    delivery_id = api.get(path).json()["items"][0]["delivery_id"]
    again = api.post(f"{path}/{delivery_id}/redeliver")
    assert again.status_code == 202, again.content
    assert again.json()["status"] == "pending" and again.json()["attempts"] == 0
    deliver_until(lambda: len(receiver.requests) == 2)
    assert {request.delivery_id for request in receiver.requests} == {delivery_id}
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        refused = api.post(f"{path}/{missing}/redeliver/")
        assert refused.status_code == 404 and error(refused)["code"] == "delivery_not_found"
    api.patch(f"{hooks(board)}{made['id']}", {"active": False}, format="json")
    off = api.post(f"{path}/{delivery_id}/redeliver")
    assert off.status_code == 409 and error(off)["code"] == "webhook_inactive"


def test_responses_match_the_openapi_document(api, anon, board, user, receiver):
    openapi = anon.get("/api/schema/?format=json").json()
    base = "/api/boards/{board_id}/webhooks/"
    assert {base, base + "{webhook_id}/", base + "{webhook_id}/deliveries/"} <= set(
        openapi["paths"]
    )
    created = create(api, board, url=receiver.url)
    assert_matches(openapi, created, base, "post")
    assert_exact_properties(openapi, "WebhookCreated", [created.json()])
    webhook_id = created.json()["id"]
    listed = api.get(hooks(board))
    assert_matches(openapi, listed, base)
    one = api.get(f"{hooks(board)}{webhook_id}/")
    assert_matches(openapi, one, base + "{webhook_id}/")
    patched = api.patch(f"{hooks(board)}{webhook_id}/", {"active": False}, format="json")
    assert_matches(openapi, patched, base + "{webhook_id}/", "patch")
    assert_exact_properties(openapi, "Webhook", [*listed.json()["items"], one.json()])
    api.patch(f"{hooks(board)}{webhook_id}/", {"active": True}, format="json")
    make_ticket(user, board, "Documented")
    deliver_until(lambda: len(receiver.requests) == 1)
    deliveries = api.get(f"{hooks(board)}{webhook_id}/deliveries/")
    assert_matches(openapi, deliveries, base + "{webhook_id}/deliveries/")
    assert_exact_properties(openapi, "Delivery", deliveries.json()["items"])
    delivery_id = deliveries.json()["items"][0]["delivery_id"]
    redelivered = api.post(f"{hooks(board)}{webhook_id}/deliveries/{delivery_id}/redeliver/")
    path = base + "{webhook_id}/deliveries/{delivery_id}/redeliver/"
    assert_matches(openapi, redelivered, path, "post")
