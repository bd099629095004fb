"""The board page's filters, read from the query string so a filtered board can be shared."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import QueryDict

from tickets import rules

QUERY_MAX = 200


@dataclass(frozen=True)
class BoardFilters:
    q: str = ""
    assignee: str = ""
    priority: str = ""
    label: str = ""
    claimed: bool = False
    # "Needs my review": cards in review columns the viewer may review.
    review: bool = False

    @classmethod
    def from_query(cls, query: QueryDict) -> "BoardFilters":
        """Anything unusable is dropped rather than refused: a stale shared link still opens."""
        priority = query.get("priority", "").strip().lower()
        return cls(
            q=query.get("q", "").strip()[:QUERY_MAX],
            assignee=query.get("assignee", "").strip()[:150],
            priority=priority if priority in rules.PRIORITY_NAMES else "",
            label=query.get("label", "").strip()[: rules.LABEL_MAX],
            claimed=query.get("claimed", "") in {"agents", "1", "on", "true"},
            review=query.get("review", "") in {"mine", "1", "on", "true"},
        )

    @property
    def active(self) -> bool:
        return bool(
            self.q or self.assignee or self.priority or self.label or self.claimed or self.review
        )

    def selector_kwargs(self) -> dict:
        """The filters `tickets.selectors.ticket_list` applies itself."""
        names = ("q", "assignee", "priority", "label")
        return {name: getattr(self, name) or None for name in names}

    def querystring(self) -> str:
        pairs = [
            (name, getattr(self, name))
            for name in ("q", "assignee", "priority", "label")
            if getattr(self, name)
        ]
        if self.claimed:
            pairs.append(("claimed", "agents"))
        if self.review:
            pairs.append(("review", "mine"))
        return urlencode(pairs)
