"""What counts as a mention of a ticket, and the forge identity."""

import pytest

from core.errors import Conflict
from forge.payloads import mentioned
from forge.rules import TICKETS_MAX
from forge.services import forge_identity
from tests.factories import make_user


@pytest.mark.parametrize(
    "text,numbers",
    [
        ("Fixes #12.", [12]),
        ("AK-7: login page", [7]),
        ("feature/ak-31-login", [31]),
        ("(#4) and AK-5, then #4 again", [4, 5]),
        ("refs/heads/AK-9_fix", [9]),
        ("see page#12 or XAK-3 or #12a or AK-", []),
        ("issue #0012", [12]),
        ("#12345678901", []),
    ],
)
def test_mentions(text, numbers):
    assert mentioned([text]) == numbers


def test_one_delivery_mentions_a_bounded_number_of_tickets():
    text = " ".join(f"#{n}" for n in range(1, 100))
    assert mentioned([text]) == list(range(1, TICKETS_MAX + 1))


@pytest.mark.django_db
def test_the_forge_identity_is_an_agent_nobody_signs_in_as():
    forge = forge_identity()
    assert (forge.username, forge.is_agent, forge.is_staff) == ("forge", True, False)
    assert not forge.has_usable_password() and not forge.api_tokens.exists()
    assert forge_identity().pk == forge.pk


@pytest.mark.django_db
def test_a_person_called_forge_is_not_taken_for_it():
    make_user("forge")
    with pytest.raises(Conflict) as refused:
        forge_identity()
    assert refused.value.code == "forge_identity_taken"
