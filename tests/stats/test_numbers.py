"""The statistics of a board with known history (tests/stats/scenario.py) equal the
figures worked out by hand below. Percentiles are nearest-rank: rank ceil(p * n / 100).

In Progress, the 10 completed stays (hours): 3 1 4 1 5 9 2 6 5 3
  sorted 1 1 2 3 3 4 5 5 6 9: median = 5th = 3h, p85 = 9th = 6h, p95 = 10th = 9h,
  mean 3.9h. (x1's stay ended by its deletion: no sample.)
Testing, 3 stays: 1 2 4 -> median = 2nd = 2h, p85 = p95 = 3rd = 4h, mean 7/3 h.
Cycle times (In Progress + Testing): 4 3 8 1 5 9 2 6 5 3
  sorted 1 2 3 3 4 5 5 6 8 9: p50 = 4h, p85 = 8h, p95 = 9h, mean 4.6h.
Lead times: 2 days in Backlog + 1h before, so 49h + cycle: p50 53h, p85 57h, p95 58h."""

import pytest

from stats.selectors import board_ticket_colors
from tests.stats.scenario import HOUR, OPEN_HOURS

pytestmark = pytest.mark.django_db


def get(api, path: str, **params) -> dict:
    response = api.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def board_url(known, tail: str) -> str:
    return f"/api/statistics/boards/{known.board.pk}/{tail}"


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


IN_PROGRESS = {
    "samples": 10,
    "mean_seconds": 3.9 * HOUR,
    "median_seconds": 3 * HOUR,
    "p85_seconds": 6 * HOUR,
    "p95_seconds": 9 * HOUR,
    "min_seconds": 1 * HOUR,
    "max_seconds": 9 * HOUR,
}
TESTING = {
    "samples": 3,
    "mean_seconds": round(7 / 3 * HOUR, 3),
    "median_seconds": 2 * HOUR,
    "p85_seconds": 4 * HOUR,
    "p95_seconds": 4 * HOUR,
    "min_seconds": 1 * HOUR,
    "max_seconds": 4 * HOUR,
}


def test_board_statistics(api, known):
    body = get(api, board_url(known, "statistics"))
    columns = by_name(body["columns"])
    assert [column["name"] for column in body["columns"]] == [
        "Backlog",
        "In Progress",
        "Testing",
        "Done",
    ]
    assert columns["In Progress"]["time_in_column"] == IN_PROGRESS
    assert columns["Testing"]["time_in_column"] == TESTING
    # Backlog: ten stays of 49h, x1's hour, and o1..o4 (left recently): 15 samples.
    backlog = columns["Backlog"]["time_in_column"]
    assert backlog["samples"] == 15
    assert backlog["min_seconds"] == 1 * HOUR
    assert backlog["median_seconds"] == 49 * HOUR
    assert columns["Done"]["time_in_column"]["samples"] == 0
    assert columns["Done"]["time_in_column"]["median_seconds"] is None
    counts = {name: column["count"] for name, column in columns.items()}
    assert counts == {"Backlog": 1, "In Progress": 3, "Testing": 1, "Done": 10}
    assert body["totals"] == {
        "tickets": 15,
        "backlog": 1,
        "in_progress": 4,
        "done": 10,
        "wip_limit": None,
    }
    period = body["period"]
    assert (period["created"], period["finished"], period["moves"]) == (16, 10, 28)
    assert period["days"] == 30 and period["to"] == known.day(20).isoformat()


def test_board_statistics_of_a_period(api, known):
    """Days 2..4: t1, t2, t3 finished (days 2, 3, 4); t3, t4, t5 were created (ticket i
    on day i - 1)."""
    body = get(
        api,
        board_url(known, "statistics"),
        **{"from": known.day(2).isoformat(), "to": known.day(4).isoformat()},
    )
    assert body["period"]["created"] == 3
    assert body["period"]["finished"] == 3
    # t1..t3 moved three times each in those days.
    assert body["period"]["moves"] == 9
    in_progress = by_name(body["columns"])["In Progress"]["time_in_column"]
    assert (in_progress["samples"], in_progress["median_seconds"]) == (3, 3 * HOUR)


def test_colours_against_the_column_history(api, known):
    body = get(api, board_url(known, "tickets/colors"))
    assert (body["window_days"], body["min_samples"]) == (90, 10)
    columns = by_name(body["columns"])
    assert set(columns) == {"In Progress", "Testing"}  # the working columns only
    assert columns["In Progress"]["judged"] is True
    assert columns["Testing"]["judged"] is False
    assert {k: columns["In Progress"][k] for k in IN_PROGRESS} == IN_PROGRESS
    tickets = {row["ticket_id"]: row for row in body["tickets"]}
    ids = known.ids
    assert set(tickets) == {ids["o1"], ids["o2"], ids["o3"], ids["o4"]}
    colours = {name: tickets[ids[name]]["color"] for name in ("o1", "o2", "o3", "o4")}
    assert colours == {"o1": "green", "o2": "yellow", "o3": "red", "o4": "grey"}
    for name, spent in OPEN_HOURS.items():
        row = tickets[ids[name]]
        assert row["time_in_column_seconds"] == pytest.approx(spent * HOUR, abs=120)
        assert (row["median"], row["p85"], row["p95"], row["samples"]) == (
            3 * HOUR,
            6 * HOUR,
            9 * HOUR,
            10,
        )
    assert tickets[ids["o3"]]["rule"] == "above_p85"
    assert "above p85 (6h)" in tickets[ids["o3"]]["reason"]
    assert tickets[ids["o4"]]["rule"] == "too_few_samples"
    assert tickets[ids["o4"]]["samples"] == 3


def test_the_board_pages_colours_are_the_apis_for_the_cards_it_renders(api, known):
    api_rows = {
        row["ticket_id"]: row for row in get(api, board_url(known, "tickets/colors"))["tickets"]
    }
    asked = [known.ids["o1"], known.ids["o3"], known.ids["t1"]]  # t1 is done: not coloured
    page = board_ticket_colors(known.board.pk, asked)
    assert set(page) == {known.ids["o1"], known.ids["o3"]}
    for ticket_id, entry in page.items():
        assert entry["color"] == api_rows[ticket_id]["color"]
        assert entry["rule"] == api_rows[ticket_id]["rule"]
    assert board_ticket_colors(known.board.pk, []) == {}


def test_colours_of_one_column(api, known):
    body = get(api, board_url(known, "tickets/colors"), column="Testing")
    assert [row["ticket_id"] for row in body["tickets"]] == [known.ids["o4"]]
    assert [column["name"] for column in body["columns"]] == ["Testing"]
    # The backlog is not coloured: asking for it gives no tickets.
    assert get(api, board_url(known, "tickets/colors"), column="Backlog")["tickets"] == []


def test_performance(api, known):
    body = get(api, board_url(known, "performance"))
    assert body["cycle_time"] == {
        "samples": 10,
        "p50_seconds": 4 * HOUR,
        "p85_seconds": 8 * HOUR,
        "p95_seconds": 9 * HOUR,
        "mean_seconds": 4.6 * HOUR,
    }
    assert body["lead_time"] == {
        "samples": 10,
        "p50_seconds": 53 * HOUR,
        "p85_seconds": 57 * HOUR,
        "p95_seconds": 58 * HOUR,
        "mean_seconds": 53.6 * HOUR,
    }
    throughput = {row["date"]: row["count"] for row in body["throughput"]}
    assert len(throughput) == 30
    finish_days = {known.day(k).isoformat() for k in range(2, 12)}
    assert {day for day, count in throughput.items() if count} == finish_days
    assert all(throughput[day] == 1 for day in finish_days)
    assert sum(row["count"] for row in body["throughput_weekly"]) == 10
    wip = {row["date"]: row["count"] for row in body["wip"]}
    assert wip[known.day(0).isoformat()] == 1  # x1
    assert wip[known.day(1).isoformat()] == 1
    assert all(wip[known.day(k).isoformat()] == 0 for k in range(2, 19))
    assert wip[known.day(20).isoformat()] == 4  # o1, o2, o3 in progress, o4 testing
    t3 = next(row for row in body["finished"] if row["ticket_id"] == known.ids["t3"])
    assert (t3["cycle_time_seconds"], t3["lead_time_seconds"]) == (8 * HOUR, 57 * HOUR)
    assert t3["finished_at"].startswith(known.day(4).isoformat())


def expected_flow(known, k: int) -> dict[str, int]:
    """End-of-day counts worked out from the scenario, for days 0..18 and today (20)."""
    if k == 20:
        return {"Backlog": 1, "In Progress": 3, "Testing": 1, "Done": 10}
    if k >= 12:
        return {"Backlog": 5, "In Progress": 0, "Testing": 0, "Done": 10}
    backlog = len([i for i in (k, k + 1) if 1 <= i <= 10])  # ticket i waits days i-1, i
    return {
        "Backlog": backlog,
        "In Progress": 1 if k in (0, 1) else 0,  # x1 until its deletion on day 2
        "Testing": 0,
        "Done": max(0, min(k - 1, 10)),
    }


def test_cumulative_flow(api, known):
    body = get(api, board_url(known, "flow"), days=25)
    assert body["columns"] == ["Backlog", "In Progress", "Testing", "Done"]
    days = {row["date"]: row["counts"] for row in body["days"]}
    assert len(days) == 25
    for k in [*range(0, 19), 20]:
        assert days[known.day(k).isoformat()] == expected_flow(known, k), f"day {k}"
    before = known.day(-1).isoformat()
    assert days[before] == {"Backlog": 0, "In Progress": 0, "Testing": 0, "Done": 0}


def test_cumulative_flow_from_to(api, known):
    first, last = known.day(1).isoformat(), known.day(3).isoformat()
    body = get(api, board_url(known, "flow"), **{"from": first, "to": last})
    assert body["period"] == {"from": first, "to": last, "days": 3}
    assert [row["counts"] for row in body["days"]] == [expected_flow(known, k) for k in (1, 2, 3)]


def test_ticket_statistics_of_an_open_ticket(api, known):
    body = get(api, f"/api/statistics/tickets/{known.ids['o2']}/statistics")
    assert body["column"] == "In Progress"
    assert body["color"] == "yellow" and body["rule"] == "at_most_p85"
    assert body["reference"] == IN_PROGRESS
    assert body["time_in_column_seconds"] == pytest.approx(5 * HOUR, abs=120)
    assert body["finished"] is False and body["cycle_time_seconds"] is None
    spent = {row["column"]: row for row in body["time_in_columns"]}
    assert set(spent) == {"Backlog", "In Progress"}
    age = body["age_seconds"]
    assert age == pytest.approx(spent["Backlog"]["seconds"] + 5 * HOUR, abs=120)


def test_ticket_statistics_of_a_finished_ticket(api, known):
    body = get(api, f"/api/statistics/tickets/{known.ids['t3']}/statistics")
    assert body["finished"] is True
    assert (body["cycle_time_seconds"], body["lead_time_seconds"]) == (8 * HOUR, 57 * HOUR)
    assert body["color"] is None and body["rule"] == "last_column"
    spent = {row["column"]: row["seconds"] for row in body["time_in_columns"]}
    assert spent["Backlog"] == 49 * HOUR
    assert spent["In Progress"] == 4 * HOUR
    assert spent["Testing"] == 4 * HOUR
    assert [stay["column"] for stay in body["transitions"]] == [
        "Backlog",
        "In Progress",
        "Testing",
        "Done",
    ]


def test_ticket_statistics_in_the_backlog(api, known):
    body = get(api, f"/api/statistics/tickets/{known.ids['o5']}/statistics")
    assert body["color"] is None and body["rule"] == "first_column"
    assert "reference" not in body


def test_drag_drop_metrics(api, known):
    body = get(api, board_url(known, "drag-drop/metrics"))
    assert body["total_moves"] == 28
    assert body["by_actor_kind"] == {"human": 24, "agent": 4, "unknown": 0}
    pairs = {(row["from"], row["to"]): row for row in body["moves"]}
    assert {pair: row["count"] for pair, row in pairs.items()} == {
        ("Backlog", "In Progress"): 14,
        ("In Progress", "Testing"): 3,
        ("Testing", "Done"): 3,
        ("In Progress", "Done"): 7,
        ("Backlog", "Testing"): 1,
    }
    assert pairs[("Backlog", "In Progress")]["agent"] == 3
    assert pairs[("Backlog", "In Progress")]["human"] == 11
    assert body["refused"] == {
        "total": 0,
        "by_reason": {"wip_limit": 0, "claimed": 0, "version_conflict": 0, "review_required": 0},
    }
