"""The SQL the statistics share. It runs on SQLite (>= 3.28) and PostgreSQL alike: both
have window functions (LEAD, ROW_NUMBER, COUNT OVER); only two expressions differ, and
they are built here.

A ticket's *stays* come from its history: every `current_column` row opens a stay in
the column it names (`new_value`) and the ticket's next `current_column` or `deleted`
row closes it. A stay without a next row is still open. Column renames do not rewrite
history, so stays carry the column's name at the time."""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from django.db import connection
from django.utils.dateparse import parse_datetime

from history.models import TicketHistory

PERCENTILES = (50, 85, 95)


def history_table() -> str:
    return connection.ops.quote_name(TicketHistory._meta.db_table)


def seconds_between(later: str, earlier: str) -> str:
    """SQL for the seconds from `earlier` to `later` (two timestamp expressions)."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    # julianday() keeps milliseconds, which is all the length of a stay needs.
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def day_of(timestamp: str) -> str:
    """SQL for the UTC calendar day of a timestamp expression."""
    if connection.vendor == "postgresql":
        return f"CAST(({timestamp} AT TIME ZONE 'UTC') AS date)"
    return f"date({timestamp})"  # SQLite stores UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'


def stays_cte(*, active_since: bool = False) -> str:
    """The `moves` and `stays` parts of a WITH clause for board %(board)s.

    `stays` has one row per stay: ticket_id, col, entered_at, left_at (NULL while open)
    and next_field ('current_column', 'deleted' or NULL). With `active_since`, only
    tickets with a move or a deletion at or after %(since)s are read: the others cannot
    have a stay that ended in the period, and skipping them keeps old boards fast."""
    history = history_table()
    active = (
        f"AND h.ticket_id IN (SELECT a.ticket_id FROM {history} a WHERE a.board_id = %(board)s"
        " AND a.field_name IN ('current_column', 'deleted') AND a.changed_at >= %(since)s)"
        if active_since
        else ""
    )
    return f"""
    moves AS (
        SELECT h.ticket_id, h.field_name, h.new_value AS col, h.changed_at AS entered_at,
               LEAD(h.changed_at) OVER w AS left_at,
               LEAD(h.field_name) OVER w AS next_field
        FROM {history} h
        WHERE h.board_id = %(board)s AND h.field_name IN ('current_column', 'deleted') {active}
        WINDOW w AS (PARTITION BY h.ticket_id ORDER BY h.changed_at, h.id)
    ),
    stays AS (
        SELECT ticket_id, col, entered_at, left_at, next_field
        FROM moves WHERE field_name = 'current_column'
    )"""


def summary_sql(source: str) -> str:
    """Per group of `source` (a query yielding `grp` and `secs`): samples, mean, min, max
    and the nearest-rank percentiles, in one pass of window functions.

    Nearest rank: the p-th percentile of n sorted values is the value at rank
    ceil(p * n / 100) (1-based), i.e. the smallest observed value that at least p % of
    the values do not exceed. It is always a value that really occurred; the median of
    an even count is the lower of the two middle values. (p * n + 99) / 100 is that
    ceiling in integer arithmetic, which both databases do for integer operands."""
    ranks = ", ".join(
        f"MAX(CASE WHEN rn = ({p} * n + 99) / 100 THEN secs END) AS p{p}" for p in PERCENTILES
    )
    return f"""
    SELECT grp, COUNT(*) AS samples, AVG(secs), MIN(secs), MAX(secs), {ranks}
    FROM (
        SELECT grp, secs,
               ROW_NUMBER() OVER (PARTITION BY grp ORDER BY secs) AS rn,
               COUNT(*) OVER (PARTITION BY grp) AS n
        FROM ({source}) AS source
    ) AS ranked
    GROUP BY grp"""


def nearest_rank(sorted_values: Sequence[float], p: int) -> float | None:
    """The same nearest-rank percentile as `summary_sql`, over an already sorted list."""
    if not sorted_values:
        return None
    return sorted_values[(p * len(sorted_values) + 99) // 100 - 1]


def fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def db_time(value: datetime):
    """A datetime as the database compares it (SQLite: UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def to_datetime(value) -> datetime | None:
    """A timestamp read by raw SQL (text on SQLite) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def to_seconds(value) -> float | None:
    """Seconds (float, Decimal on PostgreSQL) rounded to the millisecond both databases keep."""
    return None if value is None else round(float(value), 3)


def rounded(values: Iterable) -> list[float | None]:
    return [to_seconds(value) for value in values]
