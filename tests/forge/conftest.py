import pytest

from forge.services import forge_settings_update
from tests.conftest import join_team
from tests.factories import make_board
from tests.forge.helpers import SECRETS


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def board(user, request):
    """A board made by `user` with Review and Done, each forge's secret set, and both
    rules on; the shared users the test uses are on it, as on the shared board."""
    made = make_board(user, "Forged", columns=["Backlog", "In Progress", "Review", "Done"])
    join_team(made, request)
    forge_settings_update(
        actor=user,
        board_id=made.pk,
        **{f"{forge}_secret": secret for forge, secret in SECRETS.items()},
        on_pr_opened="Review",
        on_pr_merged="Done",
    )
    return made
