"""The concurrent scheduler: at most N at once, never two sharing a resource, stop leaves the rest not run."""
from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from harness.scheduling import NotRun, Scheduler, conflicts



@settings(max_examples=25, deadline=None)
@given(resources=st.lists(st.sets(st.sampled_from(["a", "b", "c", "read:a", "read:b", "a=1", "a=2", "b=1"]), max_size=2).filter(
                              lambda r: not {"a=1", "a=2"} <= r),
                          min_size=1, max_size=10),
       jobs=st.integers(min_value=1, max_value=4))
def test_never_more_than_n_and_never_two_sharing_a_resource(resources: list[set[str]], jobs: int) -> None:
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()
    active: list[str] = []
    seen_max = [0]

    def run(key: str) -> str:
        with lock:
            active.append(key)
            seen_max[0] = max(seen_max[0], len(active))
            mine = frozenset(resources[int(key)])
            for other in active:
                if other != key:
                    assert not conflicts(mine, frozenset(resources[int(other)])), (key, other)
        start = time.monotonic()
        time.sleep(0.005)
        with lock:
            active.remove(key)
        spans[key] = (start, time.monotonic())
        return key

    scheduler: Scheduler[str] = Scheduler(jobs, run)
    futures = scheduler.submit_all([(str(i), frozenset(r)) for i, r in enumerate(resources)])
    assert sorted(f.result(timeout=30) for f in futures.values()) == sorted(str(i) for i in range(len(resources)))
    assert seen_max[0] <= jobs


def test_independent_scenarios_overlap() -> None:
    scheduler: Scheduler[float] = Scheduler(4, lambda key: time.sleep(0.3) or time.monotonic())
    t0 = time.monotonic()
    futures = scheduler.submit_all([(str(i), frozenset()) for i in range(4)])
    for f in futures.values():
        f.result(timeout=30)
    assert scheduler.peak == 4
    assert time.monotonic() - t0 < 1.2 * 4 * 0.3  # generous: they ran side by side, not one by one


def test_stop_leaves_the_rest_not_run() -> None:
    gate = threading.Event()
    scheduler: Scheduler[str] = Scheduler(1, lambda key: (gate.wait(10), key)[1])
    futures = scheduler.submit_all([("a", frozenset()), ("b", frozenset()), ("c", frozenset())])
    scheduler.stop()
    gate.set()
    assert futures["a"].result(timeout=10) == "a"
    for key in ("b", "c"):
        with pytest.raises(NotRun):
            futures[key].result(timeout=10)


def test_an_exception_in_a_job_reaches_its_future_and_frees_its_resources() -> None:
    def run(key: str) -> str:
        if key == "bad":
            raise RuntimeError("boom")
        return key

    scheduler: Scheduler[str] = Scheduler(1, run)
    futures = scheduler.submit_all([("bad", frozenset({"x"})), ("good", frozenset({"x"}))])
    with pytest.raises(RuntimeError):
        futures["bad"].result(timeout=10)
    assert futures["good"].result(timeout=10) == "good"


def test_readers_share_and_writers_exclude() -> None:
    r, w = frozenset({"read:settings"}), frozenset({"settings"})
    assert not conflicts(r, r)
    assert conflicts(r, w) and conflicts(w, r) and conflicts(w, w)
    assert not conflicts(frozenset({"feed:a"}), frozenset({"feed:b", "read:settings"}))


def test_holders_of_one_value_share_and_exclude_every_other_use() -> None:
    one, same, other = frozenset({"retry=constant"}), frozenset({"retry=constant", "read:https"}), frozenset({"retry=linear"})
    assert not conflicts(one, same)
    assert conflicts(one, other) and conflicts(other, one)
    assert conflicts(one, frozenset({"retry"})) and conflicts(frozenset({"read:retry"}), one)
    assert not conflicts(one, frozenset({"feed:a"}))


def test_the_most_contended_start_first_so_a_chain_of_turns_begins_at_once() -> None:
    """Four scenarios take turns on 'settings' and eight use nothing shared; two at a time. The
    chain starts first: the run takes about four turns, not eight loose ones and then the chain."""
    started: list[str] = []
    lock = threading.Lock()

    def run(key: str) -> str:
        with lock:
            started.append(key)
        time.sleep(0.05)
        return key

    items = [(f"free{i}", frozenset()) for i in range(8)] + [(f"chain{i}", frozenset({"settings"})) for i in range(4)]
    scheduler: Scheduler[str] = Scheduler(2, run)
    futures = scheduler.submit_all(items)
    for f in futures.values():
        f.result(timeout=30)
    assert started[0] == "chain0"
    assert all(started.index(f"chain{i}") < started.index(f"chain{i + 1}") for i in range(3))
    assert started.index("chain3") < len(started) - 1


def test_nothing_starts_once_may_start_says_no() -> None:
    budget = {"left": 2}

    def run(key: str) -> str:
        budget["left"] -= 1
        return key

    scheduler: Scheduler[str] = Scheduler(1, run, may_start=lambda: budget["left"] > 0)
    futures = scheduler.submit_all([(k, frozenset()) for k in "abcd"])
    assert [futures[k].result(timeout=10) for k in "ab"] == ["a", "b"]
    for key in "cd":
        with pytest.raises(NotRun):
            futures[key].result(timeout=10)


def test_a_resource_set_to_two_values_and_a_read_of_a_value_are_refused() -> None:
    import re

    from harness.scheduling import uses

    with pytest.raises(ValueError, match="two values"):
        uses(frozenset({"retry=constant", "retry=linear"}))
    import json
    from pathlib import Path
    schema = json.loads((Path(__file__).parent.parent / "schemas/harness/scenario.schema.json").read_text())
    pattern = schema["properties"]["resources"]["items"]["pattern"]
    assert re.search(pattern, "read:callbacks.retry") and re.search(pattern, "callbacks.retry=constant")
    assert not re.search(pattern, "read:callbacks.retry=constant")
