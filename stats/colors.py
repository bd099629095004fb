"""The colour rule for a card in a working column, and its explanation.

A ticket's time in its current column is compared with how long tickets stayed in
that column before: the completed stays (entered, then left by a move to another
column; a deleted ticket's stay is no sample) that ended in the last STATS_WINDOW_DAYS
days.

- grey: fewer than STATS_MIN_SAMPLES such stays; too little history to judge;
- green: time in column <= the median of those stays;
- yellow: <= their 85th percentile;
- red: > their 85th percentile.

Percentiles are nearest-rank (see stats.sql.summary_sql). The first column (backlog)
and the last one (done) are not coloured."""

from dataclasses import dataclass

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "grey"


@dataclass(frozen=True)
class Summary:
    """How long stays lasted, in seconds."""

    samples: int
    mean: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    median: float | None = None
    p85: float | None = None
    p95: float | None = None

    def as_dict(self) -> dict:
        return {
            "samples": self.samples,
            "mean_seconds": self.mean,
            "median_seconds": self.median,
            "p85_seconds": self.p85,
            "p95_seconds": self.p95,
            "min_seconds": self.minimum,
            "max_seconds": self.maximum,
        }


EMPTY = Summary(samples=0)


def duration_text(seconds: float) -> str:
    """3725 -> '1h 2m': the two largest units, for people."""
    seconds = int(seconds)
    units = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
    parts = []
    for suffix, size in units:
        if seconds >= size or (suffix == "s" and not parts):
            parts.append(f"{seconds // size}{suffix}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


class Judge:
    """The colour rule of one working column, its texts prepared once for all its cards."""

    def __init__(
        self, column: str, reference: Summary, *, min_samples: int, window_days: int
    ) -> None:
        self.reference = reference
        self.judged = reference.samples >= min_samples
        stays = f"{reference.samples} completed stays"
        if not self.judged:
            self.grey = (
                f" in {column!r}; {stays} there in the last {window_days} days, "
                f"at least {min_samples} are needed to judge."
            )
            return
        median, p85 = duration_text(reference.median), duration_text(reference.p85)
        tail = f" of {stays} in the last {window_days} days."
        self.texts = {
            GREEN: f" in {column!r}: at most the median ({median}){tail}",
            YELLOW: f" in {column!r}: above the median ({median}), at most p85 ({p85}){tail}",
            RED: f" in {column!r}: above p85 ({p85}){tail}",
        }

    def __call__(self, seconds: float) -> tuple[str, str, str]:
        """(colour, rule, reason) for `seconds` spent so far in the column."""
        spent = duration_text(seconds)
        if not self.judged:
            return GREY, "too_few_samples", spent + self.grey
        if seconds <= self.reference.median:
            colour, rule = GREEN, "at_most_median"
        elif seconds <= self.reference.p85:
            colour, rule = YELLOW, "at_most_p85"
        else:
            colour, rule = RED, "above_p85"
        return colour, rule, spent + self.texts[colour]


def not_coloured(column: str, place: str) -> tuple[None, str, str]:
    return None, f"{place}_column", f"Tickets in the {place} column ({column!r}) are not coloured."
