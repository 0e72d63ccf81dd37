"""Scenarios that set the callback settings to one value run side by side, and the settings the
target had are back when the last of them ends; an early release lets the next ones start."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from harness.bundled import start_bundled
from harness.catalog import catalog
from harness.profiles.callbacks.executions import Settings
from harness.runner import Context
from harness.session import RunSession
from harness.target import build_target
from harness.verdicts import SetupFailed, Verdict


@pytest.fixture()
def served() -> Any:
    server, settings = start_bundled()
    try:
        yield settings
    finally:
        server.stop()


def current(settings: dict[str, Any]) -> dict[str, Any]:
    r = httpx.get(f"{settings['control']}/callbacks/settings", headers={"Authorization": f"Bearer {settings['token']}"})
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    return data


def test_one_value_runs_together_and_the_last_holder_restores(served: dict[str, Any]) -> None:
    before = current(served)
    group = [s for s in catalog() if "callbacks.retry=constant" in s.resources]
    linear = next(s for s in catalog() if s.id == "cb-retry-linear")
    assert len(group) >= 5
    session = RunSession(settings=dict(served), jobs=12)
    try:
        session.prefetch(group + [linear])
        results = {s.id: session.run(s) for s in group + [linear]}
    finally:
        session.stop()
    assert {i: r.verdict for i, r in results.items() if r.verdict is not Verdict.PASS} == {}
    spans = {i: (datetime.fromisoformat(r.started_at), datetime.fromisoformat(r.started_at)
                 + timedelta(seconds=r.duration)) for i, r in results.items()}
    members = [spans[s.id] for s in group]
    assert max(start for start, _ in members) < min(end for _, end in members), "the group did not overlap"
    lin_start, lin_end = spans[linear.id]
    tick = timedelta(milliseconds=2)  # started_at is cut to the millisecond; the next starts at once
    assert all(lin_end <= start + tick or end <= lin_start + tick for start, end in members), \
        "another value overlapped the group"
    assert current(served) == before


def test_different_changes_under_one_held_value_are_a_harness_error(served: dict[str, Any]) -> None:
    target = build_target(dict(served))
    scenario = next(s for s in catalog() if s.id == "cb-retry-constant")
    first, second = Context(scenario, target, "run", 0), Context(scenario, target, "run", 0)
    asyncio.run(Settings(first).apply(mode=0, interval=0.5, attempts=2, timeout=1.0))
    try:
        with pytest.raises(SetupFailed, match="apply different values"):
            asyncio.run(Settings(second).apply(mode=0, interval=0.5, attempts=3, timeout=1.0))
    finally:
        first.close()
        second.close()


def test_xdist_workers_against_one_target_take_turns_and_leave_its_settings_as_found(
        served: dict[str, Any], tmp_path: Any) -> None:
    """`conformance run -- -n 2`: two processes, no scheduler between them. Before, one worker read
    the other's changed values as the ones to restore, and the run passed while leaving the
    target's retry settings changed."""
    import json
    import os
    import subprocess
    import sys

    before = current(served)
    config = tmp_path / "target.json"
    config.write_text(json.dumps({k: served[k] for k in ("target", "control", "timings", "options")}))
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "-q", "--config", str(config), "--profile",
                           "callbacks", "--report-dir", str(tmp_path / "r"), "--", "-n", "2"],
                          env={**os.environ, "CONFORMANCE_TOKEN": served["token"]}, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert current(served) == before
