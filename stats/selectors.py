"""Statistics of a board, computed from its history (see stats.sql for what a stay is).

Every public function costs a constant number of queries whatever the board's size:
figures come from aggregates and window functions in the database, or from one pass
over the rows of one query. Heavier results are cached per board (stats.cache).

Definitions:
- finished: a ticket whose latest arrival in the board's last column (done) was not
  followed by a move out (it is still there, or was deleted there); it finished at
  that arrival.
- cycle time: from the ticket's first entry into a column other than the first
  (backlog) — its first move out of the backlog — to its finish.
- lead time: from the ticket's creation to its finish.
- work in progress: tickets in working columns (neither the first nor the last)."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from boards.models import Column
from core.errors import InvalidInput, NotFound, field_error
from history.models import TicketHistory
from stats import colors, sql
from stats.cache import BoardVersion, board_version, cached
from stats.colors import EMPTY, Summary
from stats.models import RefusedMove
from stats.periods import Period
from tickets.models import Ticket


@dataclass(frozen=True)
class ColumnInfo:
    id: int
    name: str
    position: int
    wip_limit: int | None
    count: int


@dataclass(frozen=True)
class Reference:
    """A board's columns and how long completed stays lasted in each, in the window."""

    columns: tuple[ColumnInfo, ...]
    summaries: dict[str, Summary]
    window_days: int
    min_samples: int

    @property
    def working(self) -> tuple[ColumnInfo, ...]:
        return self.columns[1:-1]

    def summary(self, column: str) -> Summary:
        return self.summaries.get(column, EMPTY)


# ---------------------------------------------------------------- building blocks


def board_columns(board_id: int) -> tuple[ColumnInfo, ...]:
    """The columns in order with their current ticket counts, in one query."""
    rows = (
        Column.objects.filter(board_id=board_id)
        .annotate(count=Count("tickets"))
        .order_by("position")
        .values_list("id", "name", "position", "wip_limit", "count")
    )
    return tuple(ColumnInfo(*row) for row in rows)


def column_summaries(board_id: int, since: datetime, until: datetime) -> dict[str, Summary]:
    """Per column name: the stays that ended with a move in [since, until), in one
    query. A stay ended by deleting the ticket is left out: that work did not move on."""
    source = (
        f"SELECT col AS grp, {sql.seconds_between('left_at', 'entered_at')} AS secs "
        "FROM stays WHERE next_field = 'current_column' "
        "AND left_at >= %(since)s AND left_at < %(until)s"
    )
    query = f"WITH {sql.stays_cte(active_since=True)} {sql.summary_sql(source)}"
    params = {"board": board_id, "since": sql.db_time(since), "until": sql.db_time(until)}
    summaries = {}
    for name, samples, mean, low, high, p50, p85, p95 in sql.fetch(query, params):
        mean, low, high, p50, p85, p95 = sql.rounded((mean, low, high, p50, p85, p95))
        summaries[name] = Summary(samples, mean, low, high, p50, p85, p95)
    return summaries


def reference(board: BoardVersion) -> Reference:
    """Columns and colour references (cached): two queries on a miss, none on a hit."""
    window, min_samples = settings.STATS_WINDOW_DAYS, settings.STATS_MIN_SAMPLES

    def compute() -> Reference:
        now = timezone.now()
        summaries = column_summaries(board.id, now - timedelta(days=window), now)
        return Reference(board_columns(board.id), summaries, window, min_samples)

    return cached(board, "reference", (window, min_samples), compute)


def finished_tickets(board_id: int, first: str, last: str, period: Period) -> list[dict]:
    """Tickets that finished in the period, with cycle and lead times, in one query."""
    finish = "CASE WHEN col = %(last)s AND (next_field IS NULL OR next_field = 'deleted') THEN"
    query = f"""
    WITH {sql.stays_cte(active_since=True)},
    per_ticket AS (
        SELECT ticket_id, MIN(entered_at) AS created_at,
               MIN(CASE WHEN col <> %(first)s THEN entered_at END) AS started_at,
               MAX({finish} entered_at END) AS finished_at
        FROM stays GROUP BY ticket_id
    )
    SELECT ticket_id, finished_at,
           {sql.seconds_between("finished_at", "started_at")},
           {sql.seconds_between("finished_at", "created_at")}
    FROM per_ticket
    WHERE finished_at >= %(since)s AND finished_at < %(until)s
    ORDER BY finished_at, ticket_id"""
    params = {
        "board": board_id,
        "first": first,
        "last": last,
        "since": sql.db_time(period.start),
        "until": sql.db_time(period.end),
    }
    return [
        {
            "ticket_id": ticket_id,
            "finished_at": sql.to_datetime(finished_at),
            "cycle_time_seconds": sql.to_seconds(cycle),
            "lead_time_seconds": sql.to_seconds(lead),
        }
        for ticket_id, finished_at, cycle, lead in sql.fetch(query, params)
    ]


def column_levels(board_id: int, columns: tuple[ColumnInfo, ...], period: Period) -> list[tuple]:
    """[(day, {column: tickets there at the end of that day})] over the period, from one
    query: stays grouped by (column, day entered, day left); each adds one to its column
    on the day it began and takes it back on the day it ended, and a running sum over
    the days gives the levels. Open stays count under the ticket's current column, so a
    renamed column keeps its tickets."""
    tickets, board_columns_table = Ticket._meta.db_table, Column._meta.db_table
    query = f"""
    WITH {sql.stays_cte()},
    named AS (
        SELECT COALESCE(c.name, s.col) AS col, s.entered_at, s.left_at
        FROM stays s
        LEFT JOIN {tickets} t ON s.left_at IS NULL AND t.id = s.ticket_id
        LEFT JOIN {board_columns_table} c ON c.id = t.column_id
    )
    SELECT col, {sql.day_of("entered_at")}, {sql.day_of("left_at")}, COUNT(*)
    FROM named WHERE entered_at < %(until)s
    GROUP BY 1, 2, 3"""
    rows = sql.fetch(query, {"board": board_id, "until": sql.db_time(period.end)})
    levels = {column.name: 0 for column in columns}
    changes: dict = defaultdict(lambda: defaultdict(int))
    for name, entered, left, count in rows:
        if name not in levels:
            continue  # stays under a former column name are left out
        changes[sql.to_date(entered)][name] += count
        if left is not None:
            changes[sql.to_date(left)][name] -= count
    for day in [day for day in changes if day < period.first_day]:
        for name, delta in changes.pop(day).items():
            levels[name] += delta
    result = []
    for day in period.dates():
        for name, delta in changes.get(day, {}).items():
            levels[name] += delta
        result.append((day, dict(levels)))
    return result


def _percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    summary = {f"p{p}_seconds": sql.nearest_rank(ordered, p) for p in sql.PERCENTILES}
    summary["mean_seconds"] = round(sum(ordered) / len(ordered), 3) if ordered else None
    return {"samples": len(ordered), **summary}


# ---------------------------------------------------------------- board statistics


def board_statistics(*, board_id: int, period: Period) -> dict:
    """Per column: count, WIP limit, time spent there (stays ended in the period);
    board totals; tickets created, finished and moved in the period."""
    board = board_version(board_id)
    return cached(board, "statistics", period.cache_parts(), lambda: _statistics(board, period))


def _statistics(board: BoardVersion, period: Period) -> dict:
    columns = board_columns(board.id)
    summaries = column_summaries(board.id, period.start, period.end)
    finished = finished_tickets(board.id, columns[0].name, columns[-1].name, period)
    in_period = Q(changed_at__gte=period.start, changed_at__lt=period.end)
    counts = TicketHistory.objects.filter(board_id=board.id).aggregate(
        created=Count("id", filter=in_period & Q(field_name="created")),
        moves=Count(
            "id", filter=in_period & Q(field_name="current_column", old_value__isnull=False)
        ),
    )
    counts_by_column = [column.count for column in columns]
    return {
        "board_id": board.id,
        "period": {**period.as_dict(), **counts, "finished": len(finished)},
        "columns": [
            {
                "id": column.id,
                "name": column.name,
                "position": column.position,
                "count": column.count,
                "wip_limit": column.wip_limit,
                "time_in_column": summaries.get(column.name, EMPTY).as_dict(),
            }
            for column in columns
        ],
        "totals": {
            "tickets": sum(counts_by_column),
            "backlog": counts_by_column[0],
            "in_progress": sum(counts_by_column[1:-1]),
            "done": counts_by_column[-1] if len(columns) > 1 else 0,
            "wip_limit": sum(column.wip_limit or 0 for column in columns[1:-1]) or None,
        },
    }


# ---------------------------------------------------------------- colours


def _judges(ref: Reference) -> dict[str, colors.Judge]:
    return {
        info.name: colors.Judge(
            info.name,
            ref.summary(info.name),
            min_samples=ref.min_samples,
            window_days=ref.window_days,
        )
        for info in ref.working
    }


def _colour_entry(ticket: dict, column: str, judge: colors.Judge, now: datetime) -> dict:
    seconds = round((now - ticket["column_entered_at"]).total_seconds(), 3)
    colour, rule, reason = judge(seconds)
    summary = judge.reference
    return {
        "ticket_id": ticket["id"],
        "title": ticket["title"],
        "column": column,
        "column_entered_at": ticket["column_entered_at"],
        "time_in_column_seconds": seconds,
        "color": colour,
        "rule": rule,
        "reason": reason,
        "samples": summary.samples,
        "median": summary.median,
        "p85": summary.p85,
        "p95": summary.p95,
    }


def _coloured(
    board_id: int, column: str | None = None, ticket_ids: Iterable[int] | None = None
) -> tuple[Reference, list[dict]]:
    board = board_version(board_id)
    ref = reference(board)
    working = {info.id: info for info in ref.working}
    if column is not None:
        if column not in {info.name for info in ref.columns}:
            raise _unknown_column(column, ref)
        working = {pk: info for pk, info in working.items() if info.name == column}
    # The only query not cached: times in column are computed fresh on every call.
    tickets = Ticket.objects.filter(board_id=board_id, column_id__in=list(working)).values(
        "id", "title", "column_id", "column_entered_at"
    )
    if ticket_ids is not None:
        tickets = tickets.filter(pk__in=list(ticket_ids))
    now, judges, entries = timezone.now(), _judges(ref), []
    for row in tickets:
        name = working[row["column_id"]].name
        entries.append(_colour_entry(row, name, judges[name], now))
    return ref, sorted(entries, key=lambda entry: entry["ticket_id"])


def _unknown_column(column: str, ref: Reference) -> InvalidInput:
    valid = ", ".join(repr(info.name) for info in ref.columns)
    message = f"Unknown column {column!r}. Valid columns: {valid}."
    return InvalidInput(
        message,
        code="unknown_column",
        validation_errors=[field_error("column", message, "unknown_column")],
    )


def ticket_colors(*, board_id: int, column: str | None = None) -> dict:
    """Every ticket in a working column (or in `column`) with its colour and the
    column's reference percentiles."""
    ref, entries = _coloured(board_id, column)
    return {
        "board_id": board_id,
        "window_days": ref.window_days,
        "min_samples": ref.min_samples,
        "columns": [
            {
                "name": info.name,
                "position": info.position,
                "judged": ref.summary(info.name).samples >= ref.min_samples,
                **ref.summary(info.name).as_dict(),
            }
            for info in ref.working
            if column is None or info.name == column
        ],
        "tickets": entries,
    }


def board_ticket_colors(board_id: int, ticket_ids: Iterable[int]) -> dict[int, dict]:
    """{ticket_id: {"color", "rule", "reason", "column", "time_in_column_seconds",
    "samples", "median", "p85", "p95", ...}} for those of `ticket_ids` in working columns,
    for the cards a board page renders. Two queries when the reference is cached, four
    when not."""
    return {entry["ticket_id"]: entry for entry in _coloured(board_id, ticket_ids=ticket_ids)[1]}


# ---------------------------------------------------------------- one ticket


def _ticket_stays(ticket_id: int, now: datetime) -> list[dict]:
    rows = (
        TicketHistory.objects.filter(
            ticket_id=ticket_id, field_name__in=["current_column", "deleted"]
        )
        .order_by("changed_at", "id")
        .values_list("field_name", "new_value", "changed_at")
    )
    stays: list[dict] = []
    for field_name, column, at in rows:
        if stays:
            stays[-1]["left_at"] = at
        if field_name == "deleted":
            break
        stays.append({"column": column, "entered_at": at, "left_at": None})
    for stay in stays:
        stay["seconds"] = round(((stay["left_at"] or now) - stay["entered_at"]).total_seconds(), 3)
    return stays


def _time_per_column(stays: list[dict]) -> list[dict]:
    totals: dict[str, dict] = {}
    for stay in stays:
        total = totals.setdefault(stay["column"], {"column": stay["column"], "seconds": 0.0})
        total["seconds"] = round(total["seconds"] + stay["seconds"], 3)
        total["visits"] = total.get("visits", 0) + 1
    return list(totals.values())


def ticket_statistics(*, ticket_id: int) -> dict:
    """Time in each column so far, age, cycle and lead time if finished, and the
    current colour with the reason for it."""
    fields = ("id", "title", "board_id", "column_id", "column__name", "column_entered_at")
    ticket = Ticket.objects.filter(pk=ticket_id).values(*fields, "created_at").first()
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    ref = reference(board_version(ticket["board_id"]))
    now = timezone.now()
    stays = _ticket_stays(ticket_id, now)
    column = ticket["column__name"]
    place = {ref.columns[0].id: "first", ref.columns[-1].id: "last"}.get(ticket["column_id"])
    if place:
        colour, rule, reason = colors.not_coloured(column, place)
        current = {"color": colour, "rule": rule, "reason": reason}
    else:
        judge = colors.Judge(
            column,
            ref.summary(column),
            min_samples=ref.min_samples,
            window_days=ref.window_days,
        )
        entry = _colour_entry(ticket, column, judge, now)
        current = {key: entry[key] for key in ("color", "rule", "reason")}
        current["reference"] = ref.summary(column).as_dict()
    finished = place == "last" and len(ref.columns) > 1
    return {
        "ticket_id": ticket_id,
        "board_id": ticket["board_id"],
        "column": column,
        "column_entered_at": ticket["column_entered_at"],
        "time_in_column_seconds": round((now - ticket["column_entered_at"]).total_seconds(), 3),
        "age_seconds": round((now - ticket["created_at"]).total_seconds(), 3),
        "time_in_columns": _time_per_column(stays),
        "transitions": stays,
        **_cycle(stays, ref.columns[0].name, finished),
        **current,
    }


def _cycle(stays: list[dict], first: str, finished: bool) -> dict:
    """Cycle and lead time, as this module defines them, once the ticket is done."""
    if not finished or not stays:
        return {
            "finished": False,
            "finished_at": None,
            "cycle_time_seconds": None,
            "lead_time_seconds": None,
        }
    finished_at = stays[-1]["entered_at"]
    started_at = next((s["entered_at"] for s in stays if s["column"] != first), finished_at)
    return {
        "finished": True,
        "finished_at": finished_at,
        "cycle_time_seconds": round((finished_at - started_at).total_seconds(), 3),
        "lead_time_seconds": round((finished_at - stays[0]["entered_at"]).total_seconds(), 3),
    }


# ---------------------------------------------------------------- flow and performance


def board_flow(*, board_id: int, period: Period) -> dict:
    """Cumulative flow: per day of the period, the tickets in each column at its end."""
    board = board_version(board_id)

    def compute() -> dict:
        columns = board_columns(board.id)
        return {
            "board_id": board.id,
            "period": period.as_dict(),
            "columns": [column.name for column in columns],
            "days": [
                {"date": day, "counts": counts}
                for day, counts in column_levels(board.id, columns, period)
            ],
        }

    return cached(board, "flow", period.cache_parts(), compute)


def board_performance(*, board_id: int, period: Period) -> dict:
    """Throughput per day and week, cycle and lead time percentiles, WIP per day, and
    the finished tickets themselves (for a scatter plot)."""
    board = board_version(board_id)
    return cached(board, "performance", period.cache_parts(), lambda: _performance(board, period))


def _performance(board: BoardVersion, period: Period) -> dict:
    columns = board_columns(board.id)
    working = [column.name for column in columns[1:-1]]
    finished = finished_tickets(board.id, columns[0].name, columns[-1].name, period)
    per_day = {day: 0 for day in period.dates()}
    for ticket in finished:
        per_day[ticket["finished_at"].date()] += 1
    per_week: dict = {}
    for day, count in per_day.items():
        monday = day - timedelta(days=day.weekday())
        per_week[monday] = per_week.get(monday, 0) + count
    levels = column_levels(board.id, columns, period)
    cycle = [t["cycle_time_seconds"] for t in finished if t["cycle_time_seconds"] is not None]
    return {
        "board_id": board.id,
        "period": period.as_dict(),
        "finished_count": len(finished),
        "throughput": [{"date": day, "count": count} for day, count in per_day.items()],
        "throughput_weekly": [{"week_start": day, "count": n} for day, n in per_week.items()],
        "cycle_time": _percentiles(cycle),
        "lead_time": _percentiles([t["lead_time_seconds"] for t in finished]),
        "wip": [
            {"date": day, "count": sum(counts[name] for name in working)} for day, counts in levels
        ],
        "finished": finished,
    }


# ---------------------------------------------------------------- moves


def _kind(is_agent: bool | None) -> str:
    if is_agent is None:
        return "unknown"  # the user was deleted; the move stays counted
    return "agent" if is_agent else "human"


def drag_drop_metrics(*, board_id: int, period: Period) -> dict:
    """Moves between columns in the period, by source -> target and by actor kind, and
    refused moves by reason. Not cached: refusals are not board events, and both
    queries are grouped aggregates on indexed columns."""
    board_version(board_id)
    rows = (
        TicketHistory.objects.filter(
            board_id=board_id,
            field_name="current_column",
            old_value__isnull=False,
            changed_at__gte=period.start,
            changed_at__lt=period.end,
        )
        .values("old_value", "new_value", "changed_by__is_agent")
        .annotate(count=Count("id"))
        .order_by()
    )
    pairs: dict[tuple, dict] = {}
    by_kind = {"human": 0, "agent": 0, "unknown": 0}
    for row in rows:
        key = (row["old_value"], row["new_value"])
        pair = pairs.setdefault(
            key, {"from": key[0], "to": key[1], "count": 0, "human": 0, "agent": 0, "unknown": 0}
        )
        kind = _kind(row["changed_by__is_agent"])
        pair["count"] += row["count"]
        pair[kind] += row["count"]
        by_kind[kind] += row["count"]
    refused = (
        RefusedMove.objects.filter(board_id=board_id, at__gte=period.start, at__lt=period.end)
        .values("reason")
        .annotate(count=Count("id"))
        .order_by()
    )
    by_reason = {reason: 0 for reason in RefusedMove.Reason.values}
    for row in refused:
        by_reason[row["reason"]] = row["count"]
    return {
        "board_id": board_id,
        "period": period.as_dict(),
        "total_moves": sum(by_kind.values()),
        "moves": sorted(
            pairs.values(), key=lambda pair: (-pair["count"], pair["from"], pair["to"])
        ),
        "by_actor_kind": by_kind,
        "refused": {"total": sum(by_reason.values()), "by_reason": by_reason},
    }
