"""Concurrent runs (-j) report what sequential runs report: same verdicts, checks and exit code
(`conformance diff` finds no change), and a fault still FAILs the same scenarios."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SELECTION = ["fp-fifo-drain", "fp-discard-all", "fp-feeds-independent", "ws-status-lifecycle",
             "ws-runlog-contiguous", "cb-callback-on-success", "cb-retry-constant", "wh-result-webhook"]


def _run(out: Path, jobs: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "run", "-q", "-j", str(jobs), "--report-dir", str(out),
                           *extra, *SELECTION], capture_output=True, text=True, timeout=300)


def _report(out: Path) -> Path:
    return next(p for p in out.glob("*/report.json") if p.parent.name != "latest")


def test_a_concurrent_run_reports_what_a_sequential_one_does(tmp_path: Path) -> None:
    one, four = _run(tmp_path / "j1", 1), _run(tmp_path / "j4", 4)
    assert one.returncode == four.returncode == 0, four.stdout[-2000:]
    diff = subprocess.run([sys.executable, "-m", "harness", "diff", str(_report(tmp_path / "j1")),
                           str(_report(tmp_path / "j4"))], capture_output=True, text=True, timeout=60)
    assert diff.returncode == 0, diff.stdout


def test_a_fault_fails_the_same_scenarios_concurrently(tmp_path: Path) -> None:
    one = _run(tmp_path / "j1", 1, "--reference-fault", "fp-discard-all-noop")
    four = _run(tmp_path / "j4", 4, "--reference-fault", "fp-discard-all-noop")
    assert one.returncode == four.returncode == 1
    diff = subprocess.run([sys.executable, "-m", "harness", "diff", str(_report(tmp_path / "j1")),
                           str(_report(tmp_path / "j4"))], capture_output=True, text=True, timeout=60)
    assert diff.returncode == 0, diff.stdout
