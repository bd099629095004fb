"""The database this process opened, as Django's own tools see it: what to call it in a
message, and whether its schema matches the code's migrations."""

from django.db import connections
from django.db.migrations.executor import MigrationExecutor


def database_label(alias: str = "default") -> str:
    """`SQLite /srv/var/db.sqlite3` or `PostgreSQL kanban@db.internal:5432/kanban`: which
    database it is, without its password."""
    connection = connections[alias]
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {db['NAME']}"
    user = f"{db['USER']}@" if db.get("USER") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{connection.display_name} {user}{db.get('HOST') or 'localhost'}{port}/{db['NAME']}"


def migration_state(alias: str = "default") -> tuple[list[str], list[str]]:
    """Migrations this code has that the database lacks, and migrations the database
    records that this code does not know (a backup from a newer version)."""
    executor = MigrationExecutor(connections[alias])
    loader = executor.loader
    pending = [
        f"{migration.app_label}.{migration.name}"
        for migration, _ in executor.migration_plan(loader.graph.leaf_nodes())
    ]
    unknown = sorted(
        f"{app}.{name}"
        for app, name in loader.applied_migrations
        if app in loader.migrated_apps and (app, name) not in loader.graph.nodes
    )
    return pending, unknown
