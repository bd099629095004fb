"""The benchmark floor is also the liveness probe: a tiny JSON answer that touches
neither the database nor the session, for anyone."""

import pytest

from agent_kanban.health import _channel_layer


@pytest.mark.django_db
def test_live_answers_ok_without_a_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/api/health/live")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert "sessionid" not in response.cookies


def test_live_with_trailing_slash(client):
    assert client.get("/api/health/live/").json() == {"ok": True}


def test_channel_layer_round_trip_in_one_loop():
    # The health check's round trip through the configured layer (in-memory or Redis).
    assert _channel_layer()["backend"].endswith("ChannelLayer")
