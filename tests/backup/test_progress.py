"""The progress helper, and the long commands that use it."""

import io
import json
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.core.management.color import color_style

from backups import transfer
from backups.transfer import board_export
from core.progress import Progress
from tests.factories import make_board, make_ticket


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, as a real one does."""

    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_every_tenth_of_the_way():
    log = io.StringIO()
    with Progress("Copying", 200, unit="pages", stream=log) as progress:
        for done in range(0, 201, 5):
            progress.update(done)
    assert log.getvalue().splitlines() == [
        f"Copying: {percent}% ({percent * 2}/200 pages)" for percent in range(0, 101, 10)
    ]


def test_a_log_gets_the_end_even_when_the_last_step_is_never_reported():
    log = io.StringIO()
    with Progress("Copying", 3, unit="tables", stream=log) as progress:
        progress.update(1)
    assert log.getvalue().splitlines() == [
        "Copying: 33% (1/3 tables)",
        "Copying: 100% (3/3 tables)",
    ]


def test_a_terminal_gets_one_bar_redrawn_in_place():
    terminal = Terminal()
    with Progress("Copying", 4, unit="pages", stream=terminal) as progress:
        progress.update(0)
        progress.update(2)
    text = terminal.getvalue()
    assert text.startswith("\rCopying [------------------------------]   0% 0/4 pages")
    assert text.endswith("\rCopying [##############################] 100% 4/4 pages\x1b[K\n")
    assert text.count("\n") == 1


def test_a_failure_ends_the_bar_without_claiming_completion():
    terminal = Terminal()
    with pytest.raises(RuntimeError), Progress("Copying", 4, stream=terminal) as progress:
        progress.update(1)
        raise RuntimeError("disk full")
    assert "100%" not in terminal.getvalue() and terminal.getvalue().endswith("\n")


def test_an_unknown_total_is_counted_and_reported_at_the_end():
    log = io.StringIO()
    with Progress("Reading", unit="KiB", stream=log) as progress:
        progress.update(5)
        progress.advance(2)
    assert log.getvalue() == "Reading: 7 KiB, done\n"


def test_disabled_progress_writes_nothing():
    log, terminal = io.StringIO(), Terminal()
    for stream in (log, terminal):
        with Progress("Copying", 4, stream=stream, enabled=False) as progress:
            progress.update(2)
    assert log.getvalue() == terminal.getvalue() == ""


def test_on_a_command_stderr_the_bar_is_neither_red_nor_broken_into_lines():
    terminal = Terminal()
    stderr = OutputWrapper(terminal)
    stderr.style_func = color_style(force_color=True).ERROR
    with Progress("Copying", 2, stream=stderr) as progress:
        progress.update(1)
    assert "\x1b[31" not in terminal.getvalue()
    assert terminal.getvalue().count("\n") == 1


@pytest.mark.django_db
def test_import_board_reports_reading_and_importing(user, tmp_path):
    board = make_board(user, "Shop")
    for number in range(3):
        make_ticket(user, board, f"Ticket {number}")
    exported = board_export(board_id=board.pk)
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(exported))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_board", str(path), "--name", "Copy", stdout=out, stderr=err)
    rows = len(exported["tickets"]) + len(exported["history"])
    lines = err.getvalue().splitlines()
    assert lines[:3] == [
        f"Reading {path}: 0% (0/{-(-path.stat().st_size // 1024)} KiB)",
        f"Reading {path}: 100% ({-(-path.stat().st_size // 1024)}/"
        f"{-(-path.stat().st_size // 1024)} KiB)",
        "Checking the document and importing the board (all or nothing)...",
    ]
    # The rows written: tickets first, then (no links or comments here) their history.
    assert lines[3] == f"Importing: 0% (0/{rows} rows)"
    assert f"Importing: {100 * 3 // rows}% (3/{rows} rows)" in lines
    assert lines[-1] == f"Importing: 100% ({rows}/{rows} rows)"
    assert "Imported board" in out.getvalue() and "with 3 tickets" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_reports_tickets_per_board():
    out = io.StringIO()
    call_command("seed_demo", "--boards", "1", "--tickets", "10", "--seed", "3", stdout=out)
    lines = out.getvalue().splitlines()
    assert "Storefront: 50% (5/10 tickets)" in lines
    assert "Storefront: 100% (10/10 tickets)" in lines


@pytest.mark.django_db
def test_board_import_reports_every_batch_of_rows(user, monkeypatch):
    board = make_board(user, "Shop")
    for number in range(5):
        make_ticket(user, board, f"Ticket {number}", labels=["a", "b"])
    exported = board_export(board_id=board.pk)
    monkeypatch.setattr(transfer, "IMPORT_BATCH_ROWS", 4)
    heard: list[tuple[int, int]] = []

    copy = transfer.board_import(
        actor=user, data=exported, name="Copy", progress=lambda *seen: heard.append(seen)
    )

    total = 5 + 10 + len(exported["history"])  # tickets, label links, history rows
    assert heard[0] == (0, total) and heard[-1] == (total, total)
    assert [done for done, _ in heard] == sorted({done for done, _ in heard})
    assert all(later - earlier <= 4 for (earlier, _), (later, _) in pairwise(heard))
    assert copy.tickets.count() == 5
    assert sorted(copy.tickets.values_list("labels__name", flat=True)) == ["a"] * 5 + ["b"] * 5
