"""The hardening tests. Those that start their own servers on a PostgreSQL database of
their own (marked `own_postgres`) run once, in the first (SQLite) pass, as tests/load
does: the PostgreSQL pass would only run them again against the same kind of database."""

import os

OWN_POSTGRES = "own_postgres"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{OWN_POSTGRES}: makes its own PostgreSQL database; runs in the SQLite pass only",
    )


def pytest_collection_modifyitems(config, items):
    """In the PostgreSQL pass (DATABASE_URL names PostgreSQL), deselect, not skip, the
    tests that already ran with a PostgreSQL database of their own in the SQLite pass."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return
    again = [item for item in items if item.get_closest_marker(OWN_POSTGRES)]
    if again:
        config.hook.pytest_deselected(items=again)
        items[:] = [item for item in items if not item.get_closest_marker(OWN_POSTGRES)]
