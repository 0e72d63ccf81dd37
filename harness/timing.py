"""Pure timing logic: declared timers, one tolerance rule, windows and verdicts from timestamps.

The rule, applied in one place (:meth:`Timings.window`): a timer declared to fire after ``d``
seconds (already multiplied by ``scale``) is on time in ``[d - early, d + late]`` where
``early = max(tolerance.abs, tolerance.rel x d)`` and ``late = max(slack.abs, slack.rel x d)``,
the absolute parts scaled too. Lower bounds are strict (a timer that fires early is a FAIL: the
server is too eager); the relative part keeps a short timer's window short, so raising slack to
survive a noisy CI no longer lets a 0.1 s ping interval pass at three times its value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping, Sequence


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


@dataclass(frozen=True)
class Margin:
    """How far off a timer may be: the larger of an absolute and a relative part."""

    abs: float
    rel: float = 0.0

    def of(self, declared: float, scale: float = 1.0) -> float:
        return max(self.abs * scale, self.rel * declared)

    @classmethod
    def parse(cls, value: Any, default: "Margin") -> "Margin":
        if value is None:
            return default
        if isinstance(value, (int, float)):
            return cls(float(value), 0.0)
        return cls(float(value.get("abs", default.abs)), float(value.get("rel", default.rel)))

    def as_dict(self) -> dict[str, float]:
        return {"abs": self.abs, "rel": self.rel}


DEFAULT_TOLERANCE = Margin(0.1, 0.05)
DEFAULT_SLACK = Margin(0.25, 0.25)


@dataclass(frozen=True)
class Timings:
    """Declared timers per profile (seconds, unscaled), one scale, one tolerance rule."""

    declared: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    scale: float = 1.0
    tolerance: Margin = DEFAULT_TOLERANCE
    slack: Margin = DEFAULT_SLACK

    def get(self, profile: str, name: str) -> float:
        """A declared timer multiplied by the scale."""
        return float(self.declared[profile][name]) * self.scale

    def seconds(self, value: float) -> float:
        """Any harness wait that is not a declared timer, multiplied by the scale."""
        return value * self.scale

    def window(self, declared: float) -> Window:
        """The accepted interval for a timer (already scaled) declared to fire after ``declared`` s."""
        return Window(max(0.0, declared - self.tolerance.of(declared, self.scale)),
                      declared + self.slack.of(declared, self.scale))

    def latest(self, declared: float) -> float:
        """The upper bound of the window: how long to wait for a timer before calling it NEVER."""
        return self.window(declared).upper

    def described(self) -> dict[str, Any]:
        return {**{p: dict(v) for p, v in self.declared.items()}, "scale": self.scale,
                "tolerance": self.tolerance.as_dict(), "slack": self.slack.as_dict()}


def intervals(times: Sequence[float]) -> list[float]:
    """Gaps between consecutive timestamps."""
    return [b - a for a, b in zip(times, times[1:])]


def off_schedule(observed: Sequence[float], expected: Sequence[float], timings: Timings) -> list[int]:
    """Indexes of the observed gaps outside the window of the expected gap at the same place;
    a missing or extra gap counts as off (at the index where the two lists stop agreeing)."""
    off = [i for i, (o, e) in enumerate(zip(observed, expected))
           if timings.window(e).judge(o) is not TimingVerdict.ON_TIME]
    if len(observed) != len(expected):
        off.append(min(len(observed), len(expected)))
    return off


def round_or_none(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)
