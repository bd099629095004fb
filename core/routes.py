"""The route a request matched, as a label for metrics and access logs: the URL pattern,
never the raw path, so the set of labels stays bounded."""

import functools
import re

from django.http import HttpRequest

UNMATCHED = "unmatched"


def _close_paren(pattern: str, start: int) -> int:
    """Index just past the group opening at `start` (nesting, escapes and classes)."""
    depth, index, in_class = 0, start, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(pattern)


@functools.lru_cache(maxsize=1024)
def route_label(route: str) -> str:
    """`api/tickets/(?P<pk>\\d+)/?$` → `/api/tickets/<pk>`; `boards/<int:board_id>/` →
    `/boards/<board_id>/`. A bounded set of labels: the URL patterns, never a raw path."""
    out, index = [], 0
    while index < len(route):
        if route.startswith("(?P<", index):
            name = route[index + 4 : route.index(">", index)]
            out.append(f"<{name}>")
            index = _close_paren(route, index)
        elif route.startswith("/?", index):
            index += 2
        elif route[index] == "\\" and index + 1 < len(route):
            out.append(route[index + 1])
            index += 2
        elif route[index] in "^$":
            index += 1
        else:
            out.append(route[index])
            index += 1
    text = re.sub(r"<\w+:(\w+)>", r"<\1>", "".join(out))
    return "/" + text


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None or getattr(match.func, "matches_nothing", False):
        return UNMATCHED
    return route_label(match.route)
