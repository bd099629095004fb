"""Parent changes at the same moment, each on its own database connection: two changes
that are each fine alone never together make a cycle or a tree four levels deep."""

import pytest

from core.errors import DomainError
from tests.factories import make_ticket
from tests.tickets.test_concurrency import run_threads
from tickets import rules
from tickets.models import Ticket
from tickets.services import ticket_create, ticket_update

ROUNDS = 4

pytestmark = pytest.mark.django_db(transaction=True)


def race(*writes) -> list[str]:
    """Run the writes at once, one thread each; what each ended with, sorted."""

    def worker(index: int) -> list[str]:
        try:
            writes[index]()
        except DomainError as error:
            return [error.code]
        return ["ok"]

    return sorted(run_threads(worker, count=len(writes)))


def depth(ticket_id: int) -> int:
    levels, current = 1, Ticket.objects.get(pk=ticket_id).parent_id
    while current is not None:
        levels += 1
        assert levels <= rules.SUBTASK_DEPTH_MAX + 1, "a cycle"
        current = Ticket.objects.get(pk=current).parent_id
    return levels


def test_two_tickets_never_become_each_others_parent(user, board):
    for round_ in range(ROUNDS):
        one = make_ticket(user, board, f"One {round_}")
        two = make_ticket(user, board, f"Two {round_}")
        outcomes = race(
            lambda: ticket_update(actor=user, ticket_id=one.pk, parent_id=two.pk),  # noqa: B023
            lambda: ticket_update(actor=user, ticket_id=two.pk, parent_id=one.pk),  # noqa: B023
        )
        assert outcomes == ["ok", "parent_cycle"]
        parents = dict(Ticket.objects.filter(pk__in=[one.pk, two.pk]).values_list("pk", "parent"))
        assert None in parents.values()


def test_nesting_deeper_and_adding_below_never_make_four_levels(user, board):
    for round_ in range(ROUNDS):
        top = make_ticket(user, board, f"Top {round_}")
        moving = make_ticket(user, board, f"Moving {round_}")
        child = make_ticket(user, board, f"Child {round_}", parent_id=moving.pk)
        outcomes = race(
            # moving (with its child) under top: three levels…
            lambda: ticket_update(actor=user, ticket_id=moving.pk, parent_id=top.pk),  # noqa: B023
            # …and a subtask of child: three levels too, alone; four together.
            lambda: ticket_create(
                actor=user,
                board_id=board.pk,
                title="Below",
                parent_id=child.pk,  # noqa: B023
            ),
        )
        assert outcomes == ["ok", "too_deep"]
        below = Ticket.objects.filter(parent_id=child.pk).values_list("pk", flat=True)
        assert max([depth(pk) for pk in below] or [depth(child.pk)]) <= rules.SUBTASK_DEPTH_MAX
