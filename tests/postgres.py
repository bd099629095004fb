"""PostgreSQL for the tests that start their own processes: the server to make databases
on, and a database made for one test or module, dropped afterwards. PostgreSQL being
down fails those tests: there is no skip."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

POSTGRES_ADMIN_URL = os.environ.get(
    "POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_url(name: str) -> str:
    """The URL of the database `name` on the same server."""
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def admin_sql(sql: str, *params) -> list[tuple]:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        cursor = admin.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


@contextmanager
def throwaway_database(purpose: str) -> Iterator[str]:
    """A new, empty database (its URL), named after `purpose`, dropped however the test
    ends."""
    name = f"test_ak_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url(name)
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
