"""The one timing rule (harness/timing.py) and the callbacks schedule, without sockets."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from harness.options import build_timings, normalize_timings
from harness.profiles.callbacks.schedule import backoff_delay, backoff_delays, total_tries
from harness.timing import Margin, Timings, TimingVerdict, intervals, off_schedule

positive = st.floats(min_value=0.001, max_value=10_000, allow_nan=False)


def test_window_is_the_larger_of_absolute_and_relative() -> None:
    t = Timings(tolerance=Margin(0.1, 0.05), slack=Margin(0.25, 0.25))
    assert t.window(0.1).lower == pytest.approx(0.0) and t.window(0.1).upper == pytest.approx(0.35)
    assert t.window(100).lower == pytest.approx(95.0) and t.window(100).upper == pytest.approx(125.0)


def test_raising_slack_for_a_noisy_ci_does_not_let_three_times_a_short_timer_pass() -> None:
    """The review's case: slack 0.8 s absolute let a 0.1 s ping interval pass at 0.3 s. A relative
    slack that survives noise on long timers keeps short ones tight."""
    noisy = Timings(slack=Margin(0.15, 0.8))
    assert noisy.window(0.1).judge(0.3) is TimingVerdict.LATE
    assert noisy.window(300).judge(500) is TimingVerdict.ON_TIME


def test_scale_multiplies_the_absolute_parts() -> None:
    t = Timings(scale=10, tolerance=Margin(0.1), slack=Margin(0.2))
    w = t.window(5.0)
    assert (w.lower, w.upper) == (pytest.approx(4.0), pytest.approx(7.0))


@given(declared=positive, observed=positive)
def test_judge_agrees_with_the_bounds(declared: float, observed: float) -> None:
    w = Timings().window(declared)
    verdict = w.judge(observed)
    assert (verdict is TimingVerdict.ON_TIME) == (w.lower <= observed <= w.upper)
    assert w.lower <= declared <= w.upper
    assert w.judge(None) is TimingVerdict.NEVER


def test_off_schedule_names_each_gap_out_of_its_window_and_a_missing_one() -> None:
    t = Timings(tolerance=Margin(0.05), slack=Margin(0.1))
    assert off_schedule([1.0, 2.0, 4.0], [1.0, 2.0, 4.0], t) == []
    assert off_schedule([1.0, 4.0, 4.0], [1.0, 2.0, 4.0], t) == [1]
    assert off_schedule([1.0, 2.0], [1.0, 2.0, 4.0], t) == [2]
    assert off_schedule([1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0], t) == [3]


def test_intervals() -> None:
    assert intervals([1.0, 1.5, 3.0]) == [0.5, 1.5]
    assert intervals([1.0]) == []


# -- seed 003's schedule ------------------------------------------------------------------------

def test_the_seed_examples() -> None:
    assert backoff_delays(1, 30, 2) == [30, 60]                  # "after 30 seconds ... the second after 60"
    assert backoff_delays(2, 30, 3) == [30, 120, 270]            # 1^2, 2^2, 3^2 x 30
    assert backoff_delays(0, 30, 3) == [30, 30, 30]


@given(interval=st.floats(min_value=0.05, max_value=100), n=st.integers(min_value=1, max_value=8))
def test_modes_are_told_apart_and_squared_is_not_doubling(interval: float, n: int) -> None:
    t = Timings(tolerance=Margin(0.1, 0.1), slack=Margin(0.0, 0.2))
    squared = backoff_delays(2, interval, 3)
    linear, constant = backoff_delays(1, interval, 3), backoff_delays(0, interval, 3)
    doubling = [2 ** k * interval for k in range(1, 4)]
    for other in (linear, constant, doubling):
        assert off_schedule(other, squared, t), other
    assert backoff_delay(2, interval, n) == pytest.approx(n * n * interval)


def test_attempts_with_and_without_the_first_try() -> None:
    assert total_tries(3, include_first=False) == 4
    assert total_tries(3, include_first=True) == 3
    with pytest.raises(ValueError):
        backoff_delay(0, 1.0, 0)


# -- declared timings ----------------------------------------------------------------------------

def test_flat_ws_progress_timings_still_work_with_a_note() -> None:
    normalized, notes = normalize_timings({"ping_interval": 2, "scale": 2})
    assert normalized == {"ws-progress": {"ping_interval": 2}, "scale": 2}
    assert notes and "deprecated" in notes[0]
    t = build_timings(normalized)
    assert t.get("ws-progress", "ping_interval") == 4.0
    assert t.get("ws-progress", "idle_timeout") == 600.0  # the spec value, scaled


def test_per_profile_timers_and_margins_from_the_config() -> None:
    t = build_timings({"callbacks": {"retry_interval": 0.5}, "tolerance": {"abs": 0.2, "rel": 0.1},
                       "slack": 1.5})
    assert t.get("callbacks", "retry_interval") == 0.5
    assert t.tolerance == Margin(0.2, 0.1) and t.slack == Margin(1.5, 0.0)
