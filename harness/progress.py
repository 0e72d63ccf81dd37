"""Live progress of long protocol waits: what is awaited, for how long at most, elapsed.

The waiting primitives (the receiver's expect/quiet, a socket waiting to close, a deliberate
sleep) wrap their wait in :func:`waiting`; the scenario they belong to comes from a context
variable set by the runner. A reporter is installed by the plugin: on a terminal, a rich live
display (one line per wait, transient); elsewhere (CI logs) one plain line for a wait of 10 s or
more, so a long wait never looks like a hang. Without a reporter nothing is printed.
"""
from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from harness.textsafe import printable

SCENARIO: contextvars.ContextVar[str] = contextvars.ContextVar("scenario", default="")
SHOWN_FROM = 2.0       # a wait shorter than this is not shown on a terminal
PLAIN_FROM = 10.0      # ... nor in a plain log


class Reporter(Protocol):
    def begin(self, scenario: str, what: str, at_most: float) -> object: ...
    def end(self, token: object) -> None: ...


_reporter: Reporter | None = None


def install(reporter: Reporter | None) -> None:
    global _reporter
    _reporter = reporter


@contextmanager
def waiting(what: str, at_most: float) -> Iterator[None]:
    reporter = _reporter
    if reporter is None or at_most < SHOWN_FROM:
        yield
        return
    token = reporter.begin(SCENARIO.get(), what, at_most)
    try:
        yield
    finally:
        reporter.end(token)


class PlainReporter:
    """One line when a long wait starts: CI logs stay plain and readable."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self._lock = threading.Lock()

    def begin(self, scenario: str, what: str, at_most: float) -> object:
        if at_most >= PLAIN_FROM:
            with self._lock:
                print(printable(f"  [{scenario}] waiting up to {at_most:.0f}s: {what}"), file=self.out, flush=True)
        return None

    def end(self, token: object) -> None:
        return None


class LiveReporter:
    """A rich live display of every wait in progress (transient: gone when the wait ends)."""

    def __init__(self, out: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), TextColumn("of at most {task.fields[at_most]}"),
                                 console=Console(file=out or sys.stderr), transient=True,
                                 refresh_per_second=4)
        self._lock = threading.Lock()
        self._active = 0

    def begin(self, scenario: str, what: str, at_most: float) -> object:
        from rich.markup import escape
        with self._lock:
            if self._active == 0:
                self.progress.console.file.write("\n")  # keep the runner's unfinished line above the display
                self.progress.start()
            self._active += 1
            return self.progress.add_task(escape(printable(f"[{scenario}] {what}")), total=None,
                                          at_most=f"{at_most:.1f}s", start=True)

    def end(self, token: object) -> None:
        with self._lock:
            self.progress.remove_task(token)  # type: ignore[arg-type]
            self._active -= 1
            if self._active == 0:
                self.progress.stop()


def reporter_for(stream: Any) -> Reporter:
    """The live display on a terminal, plain lines elsewhere."""
    return LiveReporter(stream) if getattr(stream, "isatty", lambda: False)() else PlainReporter(stream)
