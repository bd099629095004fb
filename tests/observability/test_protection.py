"""Who may read /metrics: everyone in development; with METRICS_TOKEN only a bearer of
it; with METRICS_ALLOWED_IPS only those addresses; in production one of the two must be
set; METRICS_ENABLED=false takes the endpoint away."""

import pytest
from django.test import Client, override_settings

from tests.api.envelope import assert_error

TOKEN = "s3cret-metrics-token"


def get(remote: str = "127.0.0.1", **headers):
    return Client(REMOTE_ADDR=remote).get("/metrics", **headers)


def is_metrics(response) -> bool:
    return response.status_code == 200 and b"agent_kanban_http_requests_total" in response.content


@pytest.mark.django_db
def test_open_in_development_by_default():
    assert is_metrics(get(remote="203.0.113.9"))


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_a_token_is_required_when_set():
    missing = get()
    assert_error(missing, 401, "not_authenticated")
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert_error(get(HTTP_AUTHORIZATION="Bearer wrong"), 401, "not_authenticated")
    assert_error(get(HTTP_AUTHORIZATION=TOKEN), 401, "not_authenticated")
    assert is_metrics(get(HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))


@pytest.mark.django_db
@override_settings(METRICS_ALLOWED_IPS=["127.0.0.1", "10.0.0.0/8", "not-an-address"])
def test_only_allowed_addresses_when_listed():
    assert_error(get(remote="203.0.113.9"), 403, "forbidden")
    assert is_metrics(get(remote="10.1.2.3"))
    assert is_metrics(get(remote="127.0.0.1"))
    # A forwarded header is the client's word, not its address.
    assert_error(get(remote="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1"), 403, "forbidden")


@pytest.mark.django_db
@override_settings(METRICS_ALLOWED_IPS=["10.0.0.0/8"], METRICS_TOKEN=TOKEN)
def test_address_and_token_both_needed_when_both_set():
    assert_error(get(remote="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"), 403)
    assert_error(get(remote="10.0.0.1"), 401)
    assert is_metrics(get(remote="10.0.0.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))


@pytest.mark.django_db
@override_settings(ENVIRONMENT="production")
def test_production_refuses_without_token_or_addresses():
    error = assert_error(get(), 403, "forbidden")
    assert "METRICS_TOKEN" in error["message"]
    with override_settings(METRICS_TOKEN=TOKEN):
        assert is_metrics(get(HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    with override_settings(METRICS_ALLOWED_IPS=["127.0.0.1"]):
        assert is_metrics(get())


@pytest.mark.django_db
@override_settings(METRICS_ENABLED=False)
def test_disabled_means_no_endpoint():
    assert_error(get(), 404, "not_found")


@pytest.mark.django_db
def test_only_get():
    response = Client().post("/metrics")
    assert_error(response, 405)
