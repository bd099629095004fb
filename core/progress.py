"""Progress for long management commands.

On a terminal: one bar redrawn in place. Anywhere else (cron mail, journald, a CI
log): a plain line every tenth of the way, so the log stays readable instead of
filling with carriage returns."""

import sys
import time
from types import TracebackType
from typing import Any

BAR_WIDTH = 30
REDRAW_SECONDS = 0.1  # a terminal needs no more than ten frames a second


def _plain(message: str) -> str:
    return message


class Progress:
    """Counts `done` of `total` `unit`s under `label`. `total` may be unknown (None)
    or change as the work learns more. Use as a context manager, or call `finish()`."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "",
        stream: Any = None,
        enabled: bool = True,
        step_percent: int = 10,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.step_percent = max(1, step_percent)
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self._next_percent = 0
        self._drawn_at = 0.0
        self._open_line = False
        self._finished = False

    # ------------------------------------------------------------ counting

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.done = done if self.total is None else min(done, self.total)
        self._show(final=False)

    def advance(self, amount: int = 1) -> None:
        self.update(self.done + amount)

    def finish(self) -> None:
        """Show the end state (100% when the total is known) and end the line."""
        if self._finished:
            return
        self._finished = True
        if self.total is not None:
            self.done = self.total
        self._show(final=True)

    def abandon(self) -> None:
        """Stop without claiming completion: end a half-drawn bar so an error
        message that follows starts on a line of its own."""
        self._finished = True
        if self.enabled and self.tty and self._open_line:
            self._write("\n")
            self._open_line = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        else:
            self.abandon()

    # ------------------------------------------------------------ drawing

    @property
    def percent(self) -> int | None:
        if self.total is None:
            return None
        if self.total <= 0:
            return 100
        return min(100, self.done * 100 // self.total)

    def _count(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.total is None:
            return f"{self.done}{unit}"
        return f"{self.done}/{self.total}{unit}"

    def _show(self, *, final: bool) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._draw_bar(final=final)
        else:
            self._print_line(final=final)

    def _draw_bar(self, *, final: bool) -> None:
        now = time.monotonic()
        if not final and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        percent = self.percent
        if percent is None:
            text = f"{self.label}: {self._count()}"
        else:
            filled = BAR_WIDTH * percent // 100
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            text = f"{self.label} [{bar}] {percent:3d}% {self._count()}"
        self._write(f"\r{text}\x1b[K" + ("\n" if final else ""))
        self._open_line = not final

    def _print_line(self, *, final: bool) -> None:
        percent = self.percent
        if percent is None:
            if final:
                self._write(f"{self.label}: {self._count()}, done\n")
            return
        if percent < self._next_percent:
            return
        self._write(f"{self.label}: {percent}% ({self._count()})\n")
        # The next line is due at the next multiple of step_percent after this one.
        self._next_percent = (percent // self.step_percent + 1) * self.step_percent

    def _write(self, text: str) -> None:
        # A Django OutputWrapper adds its own line ending and colours stderr red on a
        # terminal; progress wants neither.
        if hasattr(self.stream, "style_func"):
            self.stream.write(text, style_func=_plain, ending="")
        else:
            self.stream.write(text)
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            flush()


def command_progress(
    command: Any,
    label: str,
    total: int | None = None,
    *,
    unit: str = "",
    verbosity: int = 1,
    stream: Any = None,
) -> Progress:
    """Progress for a management command, on its stderr unless `stream` is given
    (stdout stays clean for a command's result); silent at `-v 0`."""
    stream = stream if stream is not None else command.stderr
    return Progress(label, total, unit=unit, stream=stream, enabled=verbosity > 0)
