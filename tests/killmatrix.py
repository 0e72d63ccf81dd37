"""Run a profile's scenarios against the bundled server with one fault on; print what was caught.

`python -m tests.killmatrix feed-polling` prints the observed matrix as YAML, to compare with or
regenerate tests/kill_matrix.yaml (review every change: the data is the claim).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml
from concurrent.futures import ThreadPoolExecutor

from dataclasses import replace

from harness.catalog import Scenario, catalog, select
from harness.runner import Result
from harness.session import RunSession
from harness.verdicts import Level, Verdict

MATRIX_FILE = Path(__file__).with_name("kill_matrix.yaml")


# Each scenario gets its own bundled server, so scenarios can run side by side without a fault
# in one (events leaking, sockets closed) reaching into another: the matrix stays deterministic.
WORKERS = {"ws-progress": 6, "feed-polling": 2, "callbacks": 6, "webhooks": 6}


# the matrix needs the FAIL, not the shortest counterexample: no shrinking (it was ~45% of the time)
MATRIX_SETTINGS = {"options": {"feed-polling": {"stateful_shrink": False}}}


LAST: dict[str, Result] = {}  # the latest result of each scenario id (for the checks behind a verdict)


def _run_alone(scenario: Scenario, faults: tuple[str, ...]) -> Verdict:
    session = RunSession(settings=dict(MATRIX_SETTINGS), faults=faults, seed=0)
    try:
        result = session.run(scenario)
        LAST[scenario.id] = result
        return result.verdict
    finally:
        session.stop()


def run_profile(profile: str, faults: tuple[str, ...] = (), *, only: set[str] | None = None,
                level: Level | None = None) -> dict[str, Verdict]:
    """Each scenario of the profile (or only those named) on its own bundled server, optionally
    re-levelled (the SHOULD sweep: the same fault must give WARN at SHOULD where it FAILs at MUST)."""
    scenarios = [s if level is None else replace(s, level=level)
                 for s in select(catalog(), profiles=[profile]) if only is None or s.id in only]
    with ThreadPoolExecutor(max_workers=WORKERS.get(profile, 1)) as pool:
        verdicts = list(pool.map(lambda s: _run_alone(s, faults), scenarios))
    return {s.id: v for s, v in zip(scenarios, verdicts)}


def load_matrix() -> dict[str, dict[str, list[str]]]:
    """The cells each fault must make fail. A cell written ``id?`` is one the seeded stateful
    model meets on some runs and not on others: allowed either way, required by no test."""
    data = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
    return {profile: {fault: sorted(i for i in ids if not i.endswith("?")) for fault, ids in faults.items()}
            for profile, faults in data.items()}


def optional_cells() -> dict[str, dict[str, set[str]]]:
    data = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
    return {profile: {fault: {i[:-1] for i in ids if i.endswith("?")} for fault, ids in faults.items()}
            for profile, faults in data.items()}


def main(argv: list[str]) -> int:
    from reference_server.faults import all_faults

    profile = argv[0]
    faults = [f.name for f in all_faults().values() if f.profile == profile]
    out: dict[str, list[str]] = {}
    for fault in faults:
        t0 = time.monotonic()
        verdicts = run_profile(profile, (fault,))
        print(f"# {fault}: {time.monotonic() - t0:.1f}s", file=sys.stderr)
        out[fault] = sorted(i for i, v in verdicts.items() if v is not Verdict.PASS)
        odd = {i: str(v) for i, v in verdicts.items() if v not in (Verdict.PASS, Verdict.FAIL, Verdict.WARN)}
        if odd:
            print(f"# {fault}: not FAIL/WARN: {odd}", file=sys.stderr)
    print(yaml.safe_dump({profile: out}, sort_keys=True, width=200))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
