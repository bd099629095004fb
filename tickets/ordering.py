"""Fractional index keys: strings whose byte order is the card order, so that a
card can always be put between two others by writing only that card.

Keys are an integer part, whose first character encodes its length, followed by
a base-62 fraction that never ends in '0'. Appending at either end increments or
decrements the integer part, so long runs of appends stay short."""

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
INTEGER_ZERO = "a0"
SMALLEST_INTEGER = "A" + "0" * 26


def _integer_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise ValueError(f"invalid order key head {head!r}")


def _split(key: str) -> tuple[str, str]:
    length = _integer_length(key[0])
    if len(key) < length:
        raise ValueError(f"invalid order key {key!r}")
    return key[:length], key[length:]


def validate_key(key: str) -> None:
    if not key or key == SMALLEST_INTEGER or any(c not in DIGITS for c in key):
        raise ValueError(f"invalid order key {key!r}")
    _, fraction = _split(key)
    if fraction.endswith("0"):
        raise ValueError(f"invalid order key {key!r}")


def _midpoint(low: str, high: str | None) -> str:
    """A fraction strictly between `low` and `high` (None meaning 1)."""
    if high is not None:
        common = 0
        while (low[common] if common < len(low) else "0") == high[common]:
            common += 1
        if common > 0:
            return high[:common] + _midpoint(low[common:], high[common:])
    digit_low = DIGITS.index(low[0]) if low else 0
    digit_high = DIGITS.index(high[0]) if high is not None else BASE
    if digit_high - digit_low > 1:
        return DIGITS[(digit_low + digit_high + 1) // 2]
    if high is not None and len(high) > 1:
        return high[:1]
    return DIGITS[digit_low] + _midpoint(low[1:], None)


def _step_integer(integer: str, step: int) -> str | None:
    head, digits = integer[0], list(integer[1:])
    edge, wrap = (BASE - 1, "0") if step > 0 else (0, DIGITS[-1])
    for index in reversed(range(len(digits))):
        value = DIGITS.index(digits[index])
        if value != edge:
            digits[index] = DIGITS[value + step]
            return head + "".join(digits)
        digits[index] = wrap
    # Every digit overflowed: the integer needs one more (or one fewer) digit.
    if step > 0:
        if head == "Z":
            return INTEGER_ZERO
        if head == "z":
            return None
        new_head = chr(ord(head) + 1)
        digits = [*digits, "0"] if new_head > "a" else digits[:-1]
    else:
        if head == "a":
            return "Z" + DIGITS[-1]
        if head == "A":
            return None
        new_head = chr(ord(head) - 1)
        digits = [*digits, DIGITS[-1]] if new_head < "Z" else digits[:-1]
    return new_head + "".join(digits)


def key_between(before: str | None, after: str | None) -> str:
    """A key that sorts after `before` and before `after` (None: the open end)."""
    if before is not None and after is not None and before >= after:
        raise ValueError(f"{before!r} is not below {after!r}")
    if before is None and after is None:
        return INTEGER_ZERO
    if before is None:
        integer, fraction = _split(after)
        if integer == SMALLEST_INTEGER:
            return integer + _midpoint("", fraction)
        if integer < after:
            return integer
        lower = _step_integer(integer, -1)
        if lower is None:
            raise ValueError("cannot go below the smallest key")
        return lower
    integer, fraction = _split(before)
    if after is None:
        higher = _step_integer(integer, 1)
        return integer + _midpoint(fraction, None) if higher is None else higher
    after_integer, after_fraction = _split(after)
    if integer == after_integer:
        return integer + _midpoint(fraction, after_fraction)
    higher = _step_integer(integer, 1)
    if higher is not None and higher < after:
        return higher
    return integer + _midpoint(fraction, None)


def keys_after(before: str | None, count: int) -> list[str]:
    """`count` increasing keys after `before`, for appending several cards at once."""
    keys: list[str] = []
    for _ in range(count):
        before = key_between(before, None)
        keys.append(before)
    return keys
