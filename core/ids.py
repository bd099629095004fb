"""The largest id a row can have. Ids are 64-bit signed integers (BigAutoField) on every
database, so a larger number names no row: it is refused before any query, since SQLite
refuses to bind it and PostgreSQL fails on it instead of answering 'no such row'."""

ID_MAX = 2**63 - 1
