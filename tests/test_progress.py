"""Live progress of long waits: shown with the scenario, plain in logs, nothing when short."""
from __future__ import annotations

import asyncio
import io

from harness import progress
from harness.textsafe import printable


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, float]] = []

    def begin(self, scenario: str, what: str, at_most: float) -> object:
        self.events.append(("begin", scenario, what, at_most))
        return len(self.events)

    def end(self, token: object) -> None:
        self.events.append(("end", "", "", 0.0))


def test_a_long_wait_is_reported_with_its_scenario_and_bound() -> None:
    rec = Recorder()
    progress.install(rec)
    try:
        async def main() -> None:
            progress.SCENARIO.set("cb-retry-squared")
            with progress.waiting("4 deliveries at retry-squared", 9.5):
                await asyncio.sleep(0)
            with progress.waiting("a short wait", 0.5):
                pass
        asyncio.run(main())
    finally:
        progress.install(None)
    assert rec.events == [("begin", "cb-retry-squared", "4 deliveries at retry-squared", 9.5), ("end", "", "", 0.0)]


def test_plain_lines_only_for_long_waits_and_escaped() -> None:
    out = io.StringIO()
    plain = progress.PlainReporter(out)
    plain.begin("ws-x", "a wait", 3.0)
    plain.begin("ws-x", "a \x9b31m hostile wait", 60.0)
    assert out.getvalue() == "  [ws-x] waiting up to 60s: a \\x9b31m hostile wait\n"


def test_the_live_display_starts_and_stops_with_the_waits() -> None:
    out = io.StringIO()
    live = progress.LiveReporter(out)
    a = live.begin("s1", "first", 5.0)
    b = live.begin("s2", "second", 5.0)
    live.end(a)
    live.end(b)
    assert live._active == 0 and not live.progress.live.is_started
    assert printable("\x1b[2J") == "\\x1b[2J"
