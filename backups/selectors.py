"""Reads about the database as a whole, for the backup commands."""

from django.contrib.auth import get_user_model
from django.db import connection

from boards.models import Board
from tickets.models import Ticket

POSTGRES_TABLES = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname <> 'information_schema'
      AND n.nspname NOT LIKE 'pg\\_%'
"""


def database_contents() -> dict[str, int]:
    """How many users, boards and tickets the database holds (only those it has);
    empty for a new database, migrated or not."""
    tables = set(connection.introspection.table_names())
    found = {}
    for label, model in (("users", get_user_model()), ("boards", Board), ("tickets", Ticket)):
        if model._meta.db_table in tables:
            count = model.objects.count()
            if count:
                found[label] = count
    return found


def contents_summary(found: dict[str, int]) -> str:
    """'3 users, 1 board, 30 tickets'."""
    return ", ".join(
        f"{count} {what if count != 1 else what.removesuffix('s')}" for what, count in found.items()
    )


def postgres_tables() -> set[str]:
    """The tables ("schema.name") pg_dump would dump the data of."""
    with connection.cursor() as cursor:
        cursor.execute(POSTGRES_TABLES)
        return {f"{schema}.{name}" for schema, name in cursor.fetchall()}
