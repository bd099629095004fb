"""The Webhooks page: board admins add a webhook (and see its secret once), switch it off
and on, delete it, and see its deliveries; everyone else is refused as elsewhere."""

import re

import pytest
from django.test import Client

from tests.factories import make_ticket, make_user
from tests.webhooks.helpers import deliver_until
from tests.webhooks.receiver import Receiver
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db


def page(board) -> str:
    return f"/boards/{board.pk}/webhooks/"


@pytest.fixture
def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_add_shows_the_secret_once(admin_client, board, receiver):
    shown = admin_client.post(
        page(board), {"operation": "add", "url": receiver.url, "events": ["ticket_moved"]}
    )
    assert shown.status_code == 200
    html = shown.content.decode()
    webhook = Webhook.objects.get()
    assert webhook.events == ["ticket_moved"]
    assert re.search(r"data-secret>([^<]+)<", html).group(1) == webhook.secret
    again = admin_client.get(page(board)).content.decode()
    assert webhook.secret not in again
    assert f'data-webhook-id="{webhook.pk}" data-state="active"' in again
    assert receiver.url in again


def test_none_ticked_is_every_event_and_a_bad_url_says_why(admin_client, board, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    refused = admin_client.post(page(board), {"operation": "add", "url": "http://10.0.0.1/x"})
    assert refused.status_code == 400
    assert "private address" in refused.content.decode()
    assert 'value="http://10.0.0.1/x"' in refused.content.decode()
    added = admin_client.post(page(board), {"operation": "add", "url": "https://93.184.215.14/"})
    assert added.status_code == 200
    assert Webhook.objects.get().events == ["*"]


def test_switch_off_on_and_delete(admin_client, board, receiver):
    admin_client.post(page(board), {"operation": "add", "url": receiver.url})
    webhook = Webhook.objects.get()
    off = admin_client.post(
        page(board), {"operation": "toggle", "webhook_id": webhook.pk, "active": "0"}, follow=True
    )
    html = off.content.decode()
    assert 'data-state="off"' in html and "Switched off by alice" in html
    admin_client.post(page(board), {"operation": "toggle", "webhook_id": webhook.pk, "active": "1"})
    assert Webhook.objects.get().active
    gone = admin_client.post(
        page(board), {"operation": "delete", "webhook_id": webhook.pk}, follow=True
    )
    assert "No webhooks yet." in gone.content.decode()
    unknown = admin_client.post(
        page(board), {"operation": "delete", "webhook_id": "999"}, follow=True
    )
    assert "Webhook 999 does not exist." in unknown.content.decode()
    assert admin_client.post(page(board), {"operation": "fly"}).status_code == 302


def test_deliveries_show_with_their_status_and_can_be_sent_again(
    admin_client, board, user, receiver
):
    admin_client.post(page(board), {"operation": "add", "url": receiver.url})
    make_ticket(user, board, "Shown")
    deliver_until(lambda: len(receiver.requests) == 1)
    html = admin_client.get(page(board)).content.decode()
    delivery_id = receiver.requests[0].delivery_id
    assert f'data-delivery="{delivery_id}" data-delivery-status="delivered"' in html
    assert "HTTP 200" in html
    webhook = Webhook.objects.get()
    admin_client.post(
        page(board),
        {"operation": "redeliver", "webhook_id": webhook.pk, "delivery_id": delivery_id},
    )
    deliver_until(lambda: len(receiver.requests) == 2)


def test_a_switched_off_webhook_says_why(admin_client, board, user, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 1
    with Receiver(answers=[500]) as receiver:
        admin_client.post(page(board), {"operation": "add", "url": receiver.url})
        make_ticket(user, board, "Refused")
        deliver_until(lambda: not Webhook.objects.get().active)
    html = admin_client.get(page(board)).content.decode()
    assert 'data-state="off"' in html
    assert "Switched off after 1 failed deliveries in a row (the last: HTTP 500: nope)" in html


def test_members_get_403_strangers_404_and_only_admins_see_the_link(board, other_user, user):
    member = Client()
    member.force_login(other_user)
    assert member.get(page(board)).status_code == 403
    added = member.post(page(board), {"operation": "add", "url": "https://93.184.215.14/"})
    assert added.status_code == 403
    stranger = Client()
    stranger.force_login(make_user("mallory"))
    assert stranger.get(page(board)).status_code == 404
    assert Client().get(page(board)).status_code == 302  # to the login page
    members_page = f"/boards/{board.pk}/members/"
    assert "data-webhooks-link" not in member.get(members_page).content.decode()
    admin = Client()
    admin.force_login(user)
    assert f'href="{page(board)}" data-webhooks-link' in admin.get(members_page).content.decode()
    assert Webhook.objects.count() == 0


def test_posts_need_the_csrf_token(board, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    refused = client.post(page(board), {"operation": "add", "url": "https://93.184.215.14/"})
    assert refused.status_code == 403
    assert Webhook.objects.count() == 0
    html = client.get(page(board)).content.decode()
    assert "csrfmiddlewaretoken" in html and "<script>" not in html
