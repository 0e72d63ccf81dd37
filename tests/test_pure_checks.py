"""Pure check logic, without sockets: run-log contiguity (ws-progress), batch bounds and the
FIFO prefix rule (feed-polling), lifecycle order and progress (webhooks)."""
from __future__ import annotations

from hypothesis import given, strategies as st

from harness.profiles.webhooks.pipelines import allowed, decreasing, lifecycle_problems
from harness.profiles.ws_progress.runlog import contiguity_problems


def _ranges(sizes: list[int], first: int = 1) -> list[dict[str, object]]:
    out, start = [], first
    for n in sizes:
        out.append({"startLine": start, "endLine": start + n - 1, "lines": [f"l{i}" for i in range(n)]})
        start += n
    return out


@given(st.lists(st.integers(min_value=1, max_value=10), max_size=20), st.integers(min_value=1, max_value=50))
def test_contiguous_ranges_have_no_problem_and_count_their_lines(sizes: list[int], first: int) -> None:
    problems, last = contiguity_problems(_ranges(sizes, first), first)
    assert problems == [] and last == first + sum(sizes) - 1


@given(st.lists(st.integers(min_value=1, max_value=10), min_size=2, max_size=20), st.data())
def test_a_gap_an_overlap_or_a_short_range_is_named(sizes: list[int], data: st.DataObject) -> None:
    ranges = _ranges(sizes)
    i = data.draw(st.integers(min_value=1, max_value=len(ranges) - 1))
    kind = data.draw(st.sampled_from(["gap", "overlap", "short"]))
    if kind == "gap":
        ranges[i] = {**ranges[i], "startLine": ranges[i]["startLine"] + 1, "endLine": ranges[i]["endLine"] + 1}  # type: ignore[operator]
    elif kind == "overlap":
        ranges[i] = {**ranges[i], "startLine": ranges[i]["startLine"] - 1}  # type: ignore[operator]
    else:
        ranges[i] = {**ranges[i], "lines": list(ranges[i]["lines"])[1:] + []}  # type: ignore[call-overload]
    assert contiguity_problems(ranges)[0]


def test_junk_ranges_are_problems_not_crashes() -> None:
    assert contiguity_problems([{"startLine": "1", "endLine": None, "lines": "x"}])[0]


def test_lifecycle_and_progress() -> None:
    assert lifecycle_problems(["pending", "active", "active", "completed"]) == []
    assert lifecycle_problems(["active", "pending"]) and lifecycle_problems(["completed", "active"])
    assert decreasing([0, 33.3, 66.7, 50, 100]) == [3]


@given(st.sampled_from(["trace", "debug", "info", "warn", "error", "critical"]),
       st.sampled_from(["trace", "debug", "info", "warn", "error", "critical"]))
def test_at_least_and_at_most_are_mirror_images(event: str, requested: str) -> None:
    assert allowed(event, requested, "at-least") == (allowed(requested, event, "at-most"))
    assert not allowed(None, requested, "at-least")
