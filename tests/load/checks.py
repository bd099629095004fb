"""Checks the load tests run inside a child process with Django set up (through
`run_django`, as `from tests.load.checks import ...`), against the database the load
wrote to."""

from boards.models import Board, BoardEvent


def event_log_gap_free(board_id: int) -> bool:
    """The board's events are numbered 1..n in order, and its counter stands at n."""
    board = Board.objects.get(pk=board_id)
    seqs = list(
        BoardEvent.objects.filter(board=board).order_by("seq").values_list("seq", flat=True)
    )
    return seqs == list(range(1, len(seqs) + 1)) and board.last_event_seq == len(seqs)
