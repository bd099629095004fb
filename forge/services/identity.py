"""The `forge` identity: who links and moves tickets when a forge's delivery says so.

An agent account without a password or tokens, so nobody can sign in as it; it acts on
a board as a member with the agent role, which its admin gives it by saving the board's
forge settings (audited like any membership). As an agent it meets every rule an agent
meets: WIP limits, other agents' claims, review gates."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from boards.models import BoardMembership, Role
from boards.services import membership_set
from core.errors import Conflict
from forge.rules import FORGE_USERNAME


def forge_identity():
    """The forge's user, made the first time it is needed."""
    users = get_user_model()
    user = users.objects.filter(username=FORGE_USERNAME).first()
    if user is None:
        try:
            with transaction.atomic():
                user = users(username=FORGE_USERNAME, is_agent=True, first_name="Forge events")
                user.set_unusable_password()
                user.save()
        except IntegrityError:  # made meanwhile by another delivery
            user = users.objects.get(username=FORGE_USERNAME)
    if user.has_usable_password() or not user.is_agent or user.is_staff:
        raise Conflict(
            f"The username {FORGE_USERNAME!r} belongs to an account that is not the forge "
            "identity (it can sign in). Rename that account so the forge can act.",
            code="forge_identity_taken",
        )
    return user


def forge_join(*, actor, board_id: int) -> None:
    """Make the forge an agent of the board (`actor`, a board admin, adds it), unless it
    is one already."""
    forge = forge_identity()
    role = (
        BoardMembership.objects.filter(board_id=board_id, user=forge)
        .values_list("role", flat=True)
        .first()
    )
    if role != Role.AGENT:
        membership_set(actor=actor, board_id=board_id, user_id=forge.pk, role=Role.AGENT)
