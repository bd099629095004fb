"""The largest id a row can have. Ids are 64-bit signed integers (BigAutoField) on every
database, so a larger number names no row: it is refused before any query, since SQLite
refuses to bind it and PostgreSQL fails on it instead of answering 'no such row'."""

ID_MAX = 2**63 - 1


def is_id(value: object) -> bool:
    """Could `value` name a row: an integer (not a bool) from 1 to ID_MAX."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX
