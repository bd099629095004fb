"""May this user do this to this ticket: the board's rule, found from the ticket."""

from boards.access import READ, NotFound, board_id_of, can, require_board
from core.ids import is_id
from tickets.models import Ticket


def require_ticket(user, ticket_id: int, need: str = READ) -> int:
    """The board id of the ticket, unless `user` may not `need` on it: a ticket on a board
    they may not read is "does not exist", word for word as a missing one."""
    board_id = None
    if is_id(ticket_id):
        board_id = board_id_of(user, Ticket.objects.filter(pk=ticket_id))
    if board_id is None or not can(user, board_id, READ):
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    require_board(user, board_id, need)
    return board_id
