"""Properties of tickets/ordering.py: any sequence of insertions keeps keys strictly
increasing, valid and unique; keys_after gives increasing keys."""

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.ordering import INTEGER_ZERO, key_between, keys_after, validate_key

# Each step inserts at a position given as a fraction of the current length, so that a
# drawn number always lands somewhere: 0.0 is the top, 1.0 the bottom.
insert_points = st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=200)


def insert(keys: list[str], index: int) -> str:
    before = keys[index - 1] if index > 0 else None
    after = keys[index] if index < len(keys) else None
    key = key_between(before, after)
    keys.insert(index, key)
    return key


def assert_ordered(keys: list[str]) -> None:
    for key in keys:
        validate_key(key)
    assert all(low < high for low, high in pairwise(keys)), keys
    assert len(set(keys)) == len(keys)


@given(insert_points)
@settings(max_examples=300, deadline=None)
def test_any_insertions_keep_keys_increasing_valid_and_unique(points):
    keys: list[str] = []
    for point in points:
        key = insert(keys, round(point * len(keys)))
        validate_key(key)
    assert_ordered(keys)


@given(st.lists(st.sampled_from(["top", "bottom", "second", "second_last"]), max_size=300))
@settings(max_examples=200, deadline=None)
def test_insertions_hammering_one_spot(moves):
    """The worst cases for key length: always just inside one end."""
    keys = [INTEGER_ZERO]
    for move in moves:
        index = {"top": 0, "bottom": len(keys), "second": 1, "second_last": len(keys) - 1}[move]
        insert(keys, index)
    assert_ordered(keys)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_key_between_two_existing_keys_lies_strictly_between(data):
    keys: list[str] = []
    for point in data.draw(st.lists(st.floats(0, 1), min_size=2, max_size=60)):
        insert(keys, round(point * len(keys)))
    low = data.draw(st.integers(0, len(keys) - 2))
    high = data.draw(st.integers(low + 1, len(keys) - 1))
    key = key_between(keys[low], keys[high])
    validate_key(key)
    assert keys[low] < key < keys[high]
    assert key_between(None, keys[low]) < keys[low]
    assert key_between(keys[high], None) > keys[high]


@given(st.lists(st.floats(0, 1), max_size=40), st.integers(0, 300))
@settings(max_examples=200, deadline=None)
def test_keys_after_gives_increasing_keys(points, count):
    keys: list[str] = []
    for point in points:
        insert(keys, round(point * len(keys)))
    last = keys[-1] if keys else None
    appended = keys_after(last, count)
    assert len(appended) == count
    assert_ordered(keys + appended)


def test_long_runs_of_appends_and_prepends_stay_short():
    appended = keys_after(None, 20_000)
    assert_ordered(appended)
    assert max(len(key) for key in appended) <= 4
    prepended = [INTEGER_ZERO]
    for _ in range(20_000):
        prepended.insert(0, key_between(None, prepended[0]))
    assert_ordered(prepended)
    assert max(len(key) for key in prepended) <= 4


def test_first_key_and_ends():
    assert key_between(None, None) == INTEGER_ZERO
    assert key_between(INTEGER_ZERO, None) > INTEGER_ZERO
    assert key_between(None, INTEGER_ZERO) < INTEGER_ZERO


@pytest.mark.parametrize("low, high", [("a1", "a0"), ("a0", "a0")])
def test_key_between_refuses_a_wrong_order(low, high):
    with pytest.raises(ValueError):
        key_between(low, high)


@pytest.mark.parametrize("key", ["", "a", "a00", "a10", "b0", "A" + "0" * 26, "a0 ", "a0-", "!"])
def test_validate_key_rejects_malformed_keys(key):
    with pytest.raises(ValueError):
        validate_key(key)


@pytest.mark.parametrize("key", ["a0", "a1", "Zz", "b00", "a0V", "a0001"[:2] + "1"])
def test_validate_key_accepts_valid_keys(key):
    validate_key(key)
