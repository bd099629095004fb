"""The database's nearest-rank percentiles (stats.sql.summary_sql) and Python's
(stats.sql.nearest_rank) agree, on any list of values, on SQLite and PostgreSQL."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stats import sql

pytestmark = pytest.mark.django_db


def database_summary(values: list[int]) -> tuple:
    rows = " UNION ALL ".join(f"SELECT 'g' AS grp, {value} AS secs" for value in values)
    ((_, samples, _, low, high, p50, p85, p95),) = sql.fetch(sql.summary_sql(rows), {})
    return samples, low, high, p50, p85, p95


def test_hand_picked():
    # 1..10: ranks ceil(5) = 5, ceil(8.5) = 9, ceil(9.5) = 10.
    assert database_summary(list(range(10, 0, -1))) == (10, 1, 10, 5, 9, 10)
    # Four values: the median is the lower middle one (rank 2), not their mean.
    assert database_summary([40, 10, 30, 20]) == (4, 10, 40, 20, 40, 40)
    assert database_summary([7]) == (1, 7, 7, 7, 7, 7)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=60))
def test_database_and_python_agree(values):
    ordered = sorted(values)
    samples, low, high, *percentiles = database_summary(values)
    assert (samples, low, high) == (len(values), ordered[0], ordered[-1])
    for p, value in zip(sql.PERCENTILES, percentiles, strict=True):
        assert value == sql.nearest_rank(ordered, p)
        # The definition: the value at rank ceil(p * n / 100).
        assert value == ordered[math.ceil(p * len(ordered) / 100) - 1]
