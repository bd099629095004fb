"""METRICS_TOKEN is read from the Authorization header by the one bearer parser every
surface uses (core.http.bearer_secret): the scheme in any case, any whitespace between
it and the token; anything else, or another token, is refused."""

import pytest

from tests.api.envelope import assert_error
from tests.observability.test_protection import TOKEN, get, is_metrics

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("metrics_token")]


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}",
        f"bearer {TOKEN}",
        f"BEARER {TOKEN}",
        f"Bearer  {TOKEN}",
        f"Bearer\t{TOKEN}",
    ],
)
def test_the_token_is_accepted_as_every_bearer_header_carries_it(authorization):
    assert is_metrics(get(HTTP_AUTHORIZATION=authorization))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong",
        "bearer wrong",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN} {TOKEN}",  # two words: no single token
        "Bearer ",
        "Bearer",
        TOKEN,  # no scheme
        f"Basic {TOKEN}",  # another scheme
        f"Bearer {TOKEN}\u00e9",  # not ASCII
    ],
)
def test_anything_but_the_token_is_refused(authorization):
    response = get(HTTP_AUTHORIZATION=authorization)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
