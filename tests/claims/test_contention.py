"""Many agents racing `claim next` on one board: every ticket is claimed exactly once.

Runs on whatever database the suite runs on (SQLite by default, PostgreSQL with
DATABASE_URL), with real connections: 32 threads in this process, then 4 OS processes."""

import json
import sqlite3
import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction

from boards.models import BoardEvent
from history.models import TicketHistory
from tests.claims.helpers import manage
from tests.factories import add_member, make_agent, make_board, make_ticket
from tickets.models import Ticket
from tickets.services import (
    NothingToClaim,
    ticket_claim_next,
    ticket_set_dependencies,
    tickets_bulk_set_priority,
)

pytestmark = pytest.mark.django_db(transaction=True)


def ready_board(user, size: int):
    board = make_board(user, f"Race of {size}")
    priorities = ["critical", "high", "medium", "low"]
    for index in range(size):
        make_ticket(user, board, f"Task {index}", priority=priorities[index % 4])
    return board


def assert_claimed_exactly_once(board, claims: list[tuple[str, int]]) -> None:
    """`claims` are (agent, ticket id) pairs as the racers saw them."""
    ids = set(Ticket.objects.filter(board=board).values_list("pk", flat=True))
    duplicates = [pk for pk, count in Counter(pk for _, pk in claims).items() if count > 1]
    assert duplicates == []
    assert {pk for _, pk in claims} == ids
    holders = dict(Ticket.objects.filter(board=board).values_list("pk", "claimed_by__username"))
    assert holders == {pk: username for username, pk in claims}
    history = list(
        TicketHistory.objects.filter(board=board, field_name="claimed_by").values_list(
            "ticket_id", "old_value", "new_value", "changed_by__username"
        )
    )
    assert sorted(history) == sorted((pk, None, name, name) for name, pk in claims)
    events = Counter(
        BoardEvent.objects.filter(board=board, type="ticket_claimed").values_list(
            "payload__id", flat=True
        )
    )
    assert events == Counter(ids)
    seqs = list(
        BoardEvent.objects.filter(board=board).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))


def test_32_threads_claim_500_tickets_each_exactly_once(user):
    board = ready_board(user, 500)
    agents = [make_agent(f"racer-{index}")[0] for index in range(32)]
    for racer in agents:
        add_member(board, racer, "agent")
    start = threading.Barrier(len(agents))
    claims: list[tuple[str, int]] = []
    errors: list[str] = []
    endings: Counter = Counter()

    def race(agent) -> None:
        try:
            start.wait()
            while True:
                try:
                    ticket = ticket_claim_next(actor=agent, board_id=board.pk)
                except NothingToClaim:
                    endings["nothing_to_claim"] += 1
                    return
                claims.append((agent.username, ticket.pk))
        except Exception as exc:
            errors.append(f"{agent.username}: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert endings == {"nothing_to_claim": 32}
    assert_claimed_exactly_once(board, claims)
    assert len({name for name, _ in claims}) > 1, "no race happened"


def test_4_processes_claim_next_without_a_double_claim(user, tmp_path):
    board = ready_board(user, 200)
    racers = [make_agent(f"process-{index}")[0] for index in range(4)]
    for racer in racers:
        add_member(board, racer, "agent")
    names = [racer.username for racer in racers]
    workers = []
    for name in names:
        script = (
            "from tests.claims.race_worker import race; "
            f"race(board_id={board.pk}, username={name!r}, "
            f"ready={str(tmp_path / (name + '.ready'))!r}, go={str(tmp_path / 'go')!r})"
        )
        workers.append(manage("shell", "-c", script, var_dir=tmp_path, wait=False))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all((tmp_path / f"{name}.ready").exists() for name in names):
            break
        if any(worker.poll() is not None for worker in workers):
            break
        time.sleep(0.05)
    (tmp_path / "go").touch()
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert [report["errors"] for report in reports] == [[], [], [], []]
    claims = [(report["username"], pk) for report in reports for pk in report["claimed"]]
    assert_claimed_exactly_once(board, claims)


def test_claim_next_gets_past_another_writer(user, agent):
    """Each database's way of meeting a concurrent writer; the suite runs on both."""
    if connection.vendor == "postgresql":
        claim_next_skips_a_row_another_writer_holds(user, agent)
    else:
        claim_next_outwaits_a_writer_past_the_busy_timeout(user, agent)


def claim_next_outwaits_a_writer_past_the_busy_timeout(user, agent):
    """A claimer that waits past SQLite's busy timeout tries again instead of failing."""
    board = make_board(user, "Locked")
    add_member(board, agent, "agent")
    ticket = make_ticket(user, board, "Wanted")
    options = connection.settings_dict["OPTIONS"]
    busy_timeout = options["timeout"]
    options["timeout"] = 0.2  # new connections (the claimer's thread) wait this long
    outcome: dict = {}

    def claim() -> None:
        began = time.monotonic()
        try:
            outcome["ticket"] = ticket_claim_next(actor=agent, board_id=board.pk).pk
        except Exception as exc:
            outcome["error"] = repr(exc)
        finally:
            outcome["waited"] = time.monotonic() - began
            connection.close()

    writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=5)
    try:
        writer.execute("BEGIN IMMEDIATE")
        claimer = threading.Thread(target=claim)
        claimer.start()
        time.sleep(1)
        writer.rollback()
        claimer.join(timeout=30)
    finally:
        writer.close()
        options["timeout"] = busy_timeout
    assert outcome.get("error") is None
    assert outcome["ticket"] == ticket.pk
    assert outcome["waited"] >= 0.9  # well past one busy timeout: it tried again


def claim_next_skips_a_row_another_writer_holds(user, agent):
    """Claimers do not queue behind a locked row: they take the next best at once."""
    board = make_board(user, "Locked")
    add_member(board, agent, "agent")
    best = make_ticket(user, board, "Best", priority="critical")
    second = make_ticket(user, board, "Second")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().filter(pk=best.pk).first()
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        began = time.monotonic()
        assert ticket_claim_next(actor=agent, board_id=board.pk).pk == second.pk
        assert time.monotonic() - began < 5
    finally:
        release.set()
        holder.join(timeout=30)
    assert ticket_claim_next(actor=agent, board_id=board.pk).pk == best.pk


def block_at_once(user, ticket, blocker, start: threading.Barrier, outcomes: list) -> None:
    try:
        start.wait()
        ticket_set_dependencies(actor=user, ticket_id=ticket.pk, blocked_by=[blocker.pk])
        outcomes.append("ok")
    except Exception as exc:
        outcomes.append(getattr(exc, "code", repr(exc)))
    finally:
        connection.close()


def test_two_racing_dependency_changes_never_close_a_cycle(user):
    """A blocked by B and B blocked by A, asked for at the same moment: one must lose."""
    board = make_board(user, "Cycles")
    for round_number in range(5):
        a = make_ticket(user, board, f"A{round_number}")
        b = make_ticket(user, board, f"B{round_number}")
        start, outcomes = threading.Barrier(2), []
        threads = [
            threading.Thread(target=block_at_once, args=(user, a, b, start, outcomes)),
            threading.Thread(target=block_at_once, args=(user, b, a, start, outcomes)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["dependency_cycle", "ok"]
        links = Ticket.blocked_by.through.objects.filter(from_ticket__in=[a, b]).count()
        assert links == 1


def bulk_at_once(user, ids: list[int], start: threading.Barrier, outcomes: list) -> None:
    try:
        start.wait()
        tickets_bulk_set_priority(actor=user, ticket_ids=ids, priority="high")
        outcomes.append("ok")
    except Exception as exc:
        outcomes.append(repr(exc))
    finally:
        connection.close()


def test_a_dependency_change_and_a_bulk_write_on_the_same_tickets_both_succeed(user):
    """Both lock the same tickets; taken in the same order, neither deadlocks the other."""
    board = make_board(user, "Bulk and links")
    for round_number in range(5):
        a = make_ticket(user, board, f"A{round_number}")
        b = make_ticket(user, board, f"B{round_number}")
        start, outcomes = threading.Barrier(2), []

        threads = [
            threading.Thread(target=bulk_at_once, args=(user, [a.pk, b.pk], start, outcomes)),
            threading.Thread(target=block_at_once, args=(user, b, a, start, outcomes)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert outcomes == ["ok", "ok"]
