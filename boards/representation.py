"""The one shape of a board: REST responses, board events and the MCP server's board
briefs show what `board_representation` returns. `BoardSerializer` declares the same
fields for the OpenAPI schema; tests/api/test_response_schema.py holds the two in step."""

from boards.models import Board
from core.isotime import iso_datetime


def board_representation(board: Board) -> dict:
    """`board` with its column names in order (details are at /columns). `ticket_count`
    is shown when the board was read with it (`board_list` annotates it); a board
    just written has none."""
    shown = {
        "id": board.pk,
        "name": board.name,
        "description": board.description,
        "review_by": board.review_by,
        "columns": [column.name for column in board.columns.all()],
    }
    if hasattr(board, "ticket_count"):
        shown["ticket_count"] = board.ticket_count
    shown["created_by"] = board.created_by.username if board.created_by_id else None
    shown["created_at"] = iso_datetime(board.created_at)
    shown["updated_at"] = iso_datetime(board.updated_at)
    return shown
