"""The Insights page: login required, one per board, wired to the statistics API."""

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_log_in(board):
    response = Client().get(f"/boards/{board.pk}/insights/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)
    assert f"next=/boards/{board.pk}/insights/" in response["Location"]


def test_unknown_board_is_404(api):
    assert api.get("/boards/999999/insights/").status_code == 404


def test_page_names_its_data_and_assets(api, board):
    response = api.get(f"/boards/{board.pk}/insights/")
    assert response.status_code == 200
    html = response.content.decode()
    for needle in (
        f'data-flow-url="/api/statistics/boards/{board.pk}/flow"',
        f'data-performance-url="/api/statistics/boards/{board.pk}/performance"',
        f'data-colors-url="/api/statistics/boards/{board.pk}/tickets/colors"',
        "/static/js/insights.js",
        "/static/css/insights.css",
        'type="date" name="from"',
        'type="date" name="to"',
    ):
        assert needle in html, needle
    for chart in ("flow", "scatter", "throughput", "aging"):
        assert f'data-chart="{chart}"' in html


def test_a_range_in_the_address_fills_the_picker(api, board):
    response = api.get(f"/boards/{board.pk}/insights/?from=2024-01-01&to=2024-01-31")
    html = response.content.decode()
    assert 'value="2024-01-01"' in html and 'value="2024-01-31"' in html
    # Nonsense falls back to the default range instead of failing.
    assert api.get(f"/boards/{board.pk}/insights/?from=nope&to=2024-99-01").status_code == 200
