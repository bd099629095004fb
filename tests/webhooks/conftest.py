import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    """Local receivers allowed, and retries fast enough for a test."""
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 0.05
    settings.WEBHOOKS_RETRY_FACTOR = 2.0
    settings.WEBHOOKS_TIMEOUT_SECONDS = 2.0
    return settings


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running
