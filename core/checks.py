"""System checks of the deployment's shape (`manage.py check --deploy --database default`,
which the kit's units run before they start)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import connections


def pool_options(database: dict) -> dict | None:
    """The options of the database's connection pool; None when it has none."""
    pool = database.get("OPTIONS", {}).get("pool")
    return pool if isinstance(pool, dict) else None


def connections_per_process(database: dict) -> int:
    """The most connections one process may hold: its pool's size, or one (a sync
    worker's persistent connection) without a pool."""
    pool = pool_options(database)
    return pool.get("max_size", 1) if pool else 1


@register(Tags.database, deploy=True)
def database_connections_fit(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    if not databases or "default" not in databases:
        return []
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])
    per_process = connections_per_process(connection.settings_dict)
    wanted = settings.DATABASE_PROCESSES * per_process
    budget = max_connections - settings.DATABASE_CONNECTIONS_HEADROOM
    if wanted <= budget:
        return []
    return [
        Warning(
            f"{settings.DATABASE_PROCESSES} processes with up to {per_process} connections "
            f"each may open {wanted}; PostgreSQL allows {max_connections}, and "
            f"{settings.DATABASE_CONNECTIONS_HEADROOM} are kept for administration.",
            hint="Lower DATABASE_POOL_MAX or the number of processes (DATABASE_PROCESSES), "
            "or raise max_connections in postgresql.conf.",
            id="agent_kanban.W001",
        )
    ]


@register(Tags.database, deploy=True)
def mcp_threads_leave_connections(app_configs=None, **kwargs) -> list[Warning]:
    """MCP calls that wait (a locked row) each hold a connection of the process's pool:
    with as many MCP threads as connections, they can hold all of them, and the
    watchers' replays then wait for the pool, not for a thread."""
    database = settings.DATABASES["default"]
    if pool_options(database) is None:
        return []
    pool = connections_per_process(database)
    if pool > settings.MCP_THREADS:
        return []
    return [
        Warning(
            f"MCP_THREADS ({settings.MCP_THREADS}) is not below DATABASE_POOL_MAX ({pool}): "
            "MCP calls that wait can hold every database connection of a process.",
            hint="Lower MCP_THREADS or raise DATABASE_POOL_MAX.",
            id="agent_kanban.W002",
        )
    ]
