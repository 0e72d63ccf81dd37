"""Pure timing logic: windows around declared timers and verdicts from observed timestamps.

Lower bounds are strict (a timer that fires early is a FAIL: the server is too eager); upper
bounds get slack (a timer that fires much later than declared, or never, is a FAIL too).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TimingVerdict(StrEnum):
    ON_TIME = "on-time"
    EARLY = "early"
    LATE = "late"
    NEVER = "never"


@dataclass(frozen=True)
class Window:
    lower: float
    upper: float

    def judge(self, observed: float | None) -> TimingVerdict:
        if observed is None:
            return TimingVerdict.NEVER
        if observed < self.lower:
            return TimingVerdict.EARLY
        if observed > self.upper:
            return TimingVerdict.LATE
        return TimingVerdict.ON_TIME


def window(declared: float, tolerance: float, slack: float) -> Window:
    """The accepted interval for a timer declared to fire after ``declared`` seconds."""
    return Window(max(0.0, declared - tolerance), declared + slack)


def intervals(times: list[float]) -> list[float]:
    """Gaps between consecutive timestamps."""
    return [b - a for a, b in zip(times, times[1:])]


def intervals_within(times: list[float], declared: float, tolerance: float, slack: float) -> list[float]:
    """The gaps that fall outside the window around ``declared`` (empty when all are fine)."""
    w = window(declared, tolerance, slack)
    return [round(g, 4) for g in intervals(times) if w.judge(g) is not TimingVerdict.ON_TIME]
