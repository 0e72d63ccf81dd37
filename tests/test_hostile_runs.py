"""`conformance run` end to end against hostile targets (tests/hostile_targets.py): every run ends
in bounded time with FAIL or ERROR (never a green exit for what it could not check), writes strict
JSON reports, prints no traceback, keeps the secrets out, and its peak memory stays bounded.

    python -m tests.test_hostile_runs      # prints exit code, wall time and peak RSS per target
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hostile_targets import BEHAVIOURS, start_hostile

SECRET = "hostile-run-secret-Zq81"
FAST = ["never-answers", "slow-headers", "gzip-bomb", "nan-json", "ws-frame-flood", "ws-close-1011"]
RSS_BOUND_MB = 300


def run_against(name: str, out: Path) -> dict[str, Any]:
    url, stop = start_hostile(name)
    url = "http" + url[2:] if url.startswith("ws") else url
    profile = "ws-progress" if name.startswith("ws-") else "feed-polling"
    argv = [sys.executable, "-m", "harness", "run", "-q", "--target", url, "--control", url + "/_control",
            "--client-id", "hostile-client", "--profile", profile, "--request-timeout", "1",
            "--max-wait", "3", "--run-budget", "90", "--report-dir", str(out)]
    env = {**os.environ, "CONFORMANCE_TOKEN": SECRET, "CONFORMANCE_CLIENT_SECRET": SECRET + "-c"}
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        try:
            stdout, stderr = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        _, _, usage = os.wait4(proc.pid, os.WNOHANG) if proc.returncode is None else (0, 0, None)
    finally:
        stop()
    wall = time.monotonic() - t0
    rss = _peak_rss_mb(proc)
    return {"exit": proc.returncode, "wall": wall, "rss_mb": rss, "stdout": stdout, "stderr": stderr}


def _peak_rss_mb(proc: subprocess.Popen[str]) -> float:
    """Peak RSS of the finished child (ru_maxrss of all children: the largest so far)."""
    import resource
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in sorted(BEHAVIOURS)])
def test_a_hostile_target_ends_in_a_bounded_red_run(name: str, tmp_path: Path) -> None:
    got = run_against(name, tmp_path)
    assert got["exit"] in (1, 3, 4), got["stderr"][-2000:]     # never 0: never a PASS it could not check
    assert got["wall"] < 200
    text = got["stdout"] + got["stderr"]
    assert "Traceback" not in text and SECRET not in text
    reports = [p for p in tmp_path.glob("*/report.json") if p.parent.name != "latest"]
    assert len(reports) == 1, "the reports are written"
    raw = reports[0].read_text()
    json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # strict JSON
    for path in reports[0].parent.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


if __name__ == "__main__":
    import tempfile
    for behaviour in sorted(BEHAVIOURS):
        with tempfile.TemporaryDirectory() as d:
            r = run_against(behaviour, Path(d))
        print(f"{behaviour:20} exit {r['exit']}  wall {r['wall']:6.1f}s  peak RSS so far {r['rss_mb']:6.0f} MB", flush=True)
