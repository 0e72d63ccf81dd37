"""Concurrent scenarios (run by hand; prints figures, asserts nothing).

Runs the full default suite of every implemented profile against the bundled reference server at
fast timings, once with ``--jobs 1`` (sequential) and once with the default ``--jobs``, side by
side, and prints for each: the wall time, the sum and the longest of the scenarios' own durations,
the ratio wall / longest scenario, and the timing error of every timer the harness judged on time
(observed minus declared, from report.json's evidence): p50 and p99, in milliseconds. The goal:
the default run in <= 30 s wall, no more than twice the longest scenario, and a timing error at
the default --jobs close to the one at --jobs 1.

    .venv/bin/python benchmarks/concurrency_bench.py [--jobs N] [--runs 1]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _errors(report: dict[str, Any]) -> list[float]:
    """observed - declared (seconds) of every on-time timer and schedule gap in the report."""
    out: list[float] = []
    for scenario in report["scenarios"]:
        for item in scenario.get("evidence", {}).get("timings", []):
            declared, observed = item.get("declared"), item.get("observed")
            if declared is None or observed is None:
                continue
            pairs = zip(declared, observed) if isinstance(declared, list) else [(declared, observed)]
            out += [o - d for d, o in pairs if isinstance(o, (int, float)) and isinstance(d, (int, float))]
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def run(jobs: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "harness", "run", "-q", "--report-dir", out]
        if jobs is not None:
            argv += ["--jobs", str(jobs)]
        t0 = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True)
        wall = time.monotonic() - t0
        report = json.loads(next(Path(out).glob("*/report.json")).read_text())
    durations = [s["duration_s"] for s in report["scenarios"]]
    errors = _errors(report)
    return {"exit": proc.returncode, "wall": wall, "sum": sum(durations), "longest": max(durations),
            "scenarios": len(durations), "err_p50": _pct([abs(e) for e in errors], 0.5) * 1000,
            "err_p99": _pct([abs(e) for e in errors], 0.99) * 1000, "timers": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=None, help="the concurrent run's --jobs (default: the harness's)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.runs):
        for label, jobs in (("sequential (--jobs 1)", 1), (f"concurrent (--jobs {args.jobs or 'default'})", args.jobs)):
            r = run(jobs)
            print(f"{label:28} exit {r['exit']}  {r['scenarios']} scenarios  wall {r['wall']:6.1f}s  "
                  f"sum {r['sum']:6.1f}s  longest {r['longest']:5.1f}s  wall/longest {r['wall'] / r['longest']:4.2f}  "
                  f"timer error p50 {r['err_p50']:6.1f} ms  p99 {r['err_p99']:6.1f} ms ({r['timers']} timers)")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
