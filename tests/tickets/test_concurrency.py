"""Many writers at once, each on its own database connection: no lost update, no
duplicate position, no gap in event numbers, and no error but a 409."""

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from rest_framework.test import APIClient

from boards.selectors import board_columns
from boards.services import board_set_columns
from core.errors import DomainError
from history.models import TicketHistory
from tests.factories import make_ticket
from tests.tickets.helpers import assert_seq_gap_free
from tickets.models import Ticket
from tickets.services import ticket_create, ticket_move, tickets_bulk_move

THREADS = 8
ATTEMPTS = 10

pytestmark = pytest.mark.django_db(transaction=True)


def run_threads(worker: Callable[[int], list], count: int = THREADS) -> list:
    """Run `worker(index)` in `count` threads that start together; returns all their results.
    An exception in a thread fails the test (it is re-raised here)."""
    barrier = threading.Barrier(count)
    results: list = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            outcome = worker(index)
            with lock:
                results.extend(outcome)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    if errors:
        raise errors[0]
    return results


def logged_in_clients(user, count: int) -> list[APIClient]:
    clients = []
    for _ in range(count):
        client = APIClient()
        client.force_login(user)
        clients.append(client)
    return clients


def test_read_then_put_never_loses_an_update(user, board):
    ticket = make_ticket(user, board, "Contended")
    clients = logged_in_clients(user, THREADS)

    def worker(index: int) -> list[tuple]:
        outcomes = []
        for attempt in range(ATTEMPTS):
            client = clients[index]
            version = client.get(f"/api/tickets/{ticket.pk}").json()["version"]
            title = f"writer {index} attempt {attempt}"
            response = client.put(
                f"/api/tickets/{ticket.pk}", {"title": title, "version": version}, "json"
            )
            body = response.json()
            code = body["error"]["code"] if response.status_code >= 400 else None
            outcomes.append((title, response.status_code, code, version))
        return outcomes

    outcomes = run_threads(worker)
    assert len(outcomes) == THREADS * ATTEMPTS
    statuses = Counter((status, code) for _, status, code, _ in outcomes)
    assert set(statuses) <= {(200, None), (409, "version_conflict")}, statuses
    successes = [title for title, status, _, _ in outcomes if status == 200]
    assert successes, "at least the first writer must win"

    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.version == 1 + len(successes)
    titles = Counter(
        TicketHistory.objects.filter(ticket_id=ticket.pk, field_name="title").values_list(
            "new_value", flat=True
        )
    )
    assert titles == Counter(successes)
    # Each version was won by exactly one writer.
    won = Counter(version for _, status, _, version in outcomes if status == 200)
    assert set(won.values()) == {1}
    assert sorted(won) == list(range(1, len(successes) + 1))
    assert_seq_gap_free(board)


def test_concurrent_creates_get_distinct_positions(user, board):
    def worker(index: int) -> list[int]:
        return [
            ticket_create(actor=user, board_id=board.pk, title=f"T{index}-{n}", column="Testing").pk
            for n in range(5)
        ]

    created = run_threads(worker)
    positions = list(Ticket.objects.filter(board=board).values_list("position", flat=True))
    assert len(created) == THREADS * 5 == len(positions) == len(set(positions))
    # Each writer's own tickets keep their creation order at the bottom of the column.
    order = list(Ticket.objects.filter(board=board).order_by("position").values_list("title"))
    for index in range(THREADS):
        mine = [title for (title,) in order if title.startswith(f"T{index}-")]
        assert mine == [f"T{index}-{n}" for n in range(5)]
    assert_seq_gap_free(board)


def test_concurrent_moves_to_the_top_of_one_column(user, board):
    tickets = [make_ticket(user, board, f"T{index}").pk for index in range(THREADS * 3)]

    def worker(index: int) -> list[str]:
        mine = tickets[index * 3 : index * 3 + 3]
        for ticket_id in mine:
            ticket_move(actor=user, ticket_id=ticket_id, column="Done", position="top")
        return [str(ticket_id) for ticket_id in mine]

    run_threads(worker)
    done = Ticket.objects.filter(board=board, column__name="Done")
    positions = list(done.values_list("position", flat=True))
    assert len(positions) == len(set(positions)) == len(tickets)
    assert_seq_gap_free(board)


def test_concurrent_moves_of_one_ticket_with_versions(user, board):
    """Writers race to move the same card, each naming the version it read."""
    ticket = make_ticket(user, board, "Raced")
    columns = ["In Progress", "Testing", "Done", "Backlog"]

    def worker(index: int) -> list[str]:
        outcomes = []
        for attempt in range(ATTEMPTS):
            version = Ticket.objects.get(pk=ticket.pk).version
            try:
                moved = ticket_move(
                    actor=user,
                    ticket_id=ticket.pk,
                    column=columns[(index + attempt) % 4],
                    expected_version=version,
                )
            except DomainError as error:
                outcomes.append(error.code)
            else:
                # Moving to the column it is already in is a successful no-op.
                outcomes.append("moved" if moved.version == version + 1 else "stayed")
        return outcomes

    outcomes = Counter(run_threads(worker))
    assert set(outcomes) <= {"moved", "stayed", "version_conflict"}, outcomes
    assert outcomes["moved"] > 0
    moves = TicketHistory.objects.filter(ticket_id=ticket.pk, field_name="current_column")
    assert Ticket.objects.get(pk=ticket.pk).version == 1 + outcomes["moved"]
    assert moves.count() == 1 + outcomes["moved"]  # its creation, then each move
    assert_seq_gap_free(board)


def test_overlapping_bulk_moves(user, board):
    """Every writer moves the same tickets back and forth: all succeed, nothing is lost."""
    ids = [make_ticket(user, board, f"T{index}").pk for index in range(10)]
    columns = ["In Progress", "Testing", "Done", "Backlog"]

    def worker(index: int) -> list[int]:
        changed = []
        for attempt in range(5):
            column = columns[(index + attempt) % 4]
            # Each writer names the tickets in its own order; locks are taken in id order.
            order = ids if index % 2 else list(reversed(ids))
            report = tickets_bulk_move(actor=user, ticket_ids=order, column=column)
            changed.append(sum(row["status"] == "changed" for row in report))
        return changed

    changed = sum(run_threads(worker))
    moves = TicketHistory.objects.filter(ticket_id__in=ids, field_name="current_column")
    assert moves.count() == len(ids) + changed  # creations, then each change
    versions = Ticket.objects.filter(pk__in=ids).values_list("version", flat=True)
    assert sum(version - 1 for version in versions) == changed
    for column in Ticket.objects.filter(board=board).values_list("column", flat=True).distinct():
        keys = list(Ticket.objects.filter(column=column).values_list("position", flat=True))
        assert len(keys) == len(set(keys))
    assert_seq_gap_free(board)


def test_column_edits_and_ticket_writes_do_not_deadlock(user, board):
    """Half the writers change WIP limits (board, then columns) while the others create
    and move tickets (which must lock in the same order)."""

    def worker(index: int) -> list[str]:
        for n in range(ATTEMPTS):
            if index % 2:
                specs = [
                    {"id": column["id"], "name": column["name"], "wip_limit": 1000 + n}
                    for column in board_columns(board_id=board.pk)
                ]
                board_set_columns(actor=user, board_id=board.pk, columns=specs)
            else:
                ticket = ticket_create(
                    actor=user, board_id=board.pk, title=f"T{index}-{n}", column="Testing"
                )
                ticket_move(actor=user, ticket_id=ticket.pk, column="Done", position="top")
        return []

    run_threads(worker)
    assert Ticket.objects.filter(board=board, column__name="Done").count() == THREADS // 2 * 10
    assert_seq_gap_free(board)
