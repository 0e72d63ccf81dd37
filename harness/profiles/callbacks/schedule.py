"""Pure retry-schedule logic of seed 003 (UC_CALLBACK_SETTINGS): no I/O, unit-tested.

"Constant: the system uses the value defined in the CALLBACK_INTERVAL key as is. Linear: the
system multiplies the value ... by the number of failed attempts. Squared: ... 30 seconds
(1 failed attempt: 1^2 x 30 seconds), ... 120 seconds (2^2 x 30), ... 270 seconds (3^2 x 30)."
The seed also calls the third mode "exponential": the harness grades n^2, so 2^n fails.
"""
from __future__ import annotations

CONSTANT, LINEAR, SQUARED = 0, 1, 2
MODE_NAMES = {CONSTANT: "constant", LINEAR: "linear", SQUARED: "squared"}


def backoff_delay(mode: int, interval: float, failed_so_far: int) -> float:
    """The wait before the next try, after ``failed_so_far`` (>= 1) failed tries."""
    if failed_so_far < 1:
        raise ValueError("the first retry follows one failed try")
    if mode == CONSTANT:
        return interval
    if mode == LINEAR:
        return failed_so_far * interval
    if mode == SQUARED:
        return failed_so_far ** 2 * interval
    raise ValueError(f"unknown mode {mode!r}")


def backoff_delays(mode: int, interval: float, retries: int) -> list[float]:
    """The gaps between consecutive tries when every try but the last fails."""
    return [backoff_delay(mode, interval, n) for n in range(1, retries + 1)]


def total_tries(attempts: int, include_first: bool) -> int:
    """How many requests one callback makes at most when every try fails."""
    return attempts if include_first else attempts + 1


def schedule_span(mode: int, interval: float, retries: int) -> float:
    return sum(backoff_delays(mode, interval, retries))
