import pytest
from django.test import Client


@pytest.fixture
def scrape():
    """GET /metrics as an anonymous client (open in development); its text."""
    client = Client()

    def read() -> str:
        response = client.get("/metrics")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    return read
