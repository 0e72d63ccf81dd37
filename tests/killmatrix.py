"""Run a profile's scenarios against the bundled server with faults on; print what was caught.

`python -m tests.killmatrix feed-polling` prints the observed matrix as YAML, to compare with or
regenerate tests/kill_matrix.yaml (review every change: the data is the claim). It runs every
scenario under every fault. The tests (tests/test_kill_matrix.py) run a selection, one batch per
profile (:func:`judge_profile`):

1. every scenario on a clean server, recording which faults the server asked about during it
   (reference_server.faults.FaultSet);
2. under each fault, the scenarios the matrix names, those whose clean run reached the fault's
   check, and a fixed sample of the others. A scenario that never reached the check takes the same
   path with the fault on: it passes as it did (the selection mutation-testing tools make with
   coverage; the sample keeps that premise honest);
3. the named scenarios once more at level SHOULD (a failed SHOULD check lets the scenario go on:
   the code after it must not ERROR);
4. each cell that disagrees with the matrix once more on its own, since a timer scenario on a
   loaded 2-core machine can miss a window by scheduling delay alone. A cell that disagrees twice
   is a real failure.

Each cell runs alone on its own bundled server (a fault in one scenario, such as leaked events or
closed sockets, cannot reach another), many cells at once: waiting on protocol timers dominates.
"""
from __future__ import annotations

import sys
import time
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from harness.catalog import Scenario, catalog, select
from harness.runner import Result
from harness.session import RunSession
from harness.verdicts import Level, Verdict

MATRIX_FILE = Path(__file__).with_name("kill_matrix.yaml")

# Cells run at once: the feed's stateful model computes more than it waits.
WORKERS = {"ws-progress": 12, "feed-polling": 4, "callbacks": 12, "webhooks": 12}

# the matrix needs the FAIL, not the shortest counterexample: no shrinking (it was ~45% of the time)
MATRIX_SETTINGS = {"options": {"feed-polling": {"stateful_shrink": False}}}

SAMPLE = 25  # about one cell in SAMPLE that the selection skips is run anyway, the same ones every time


@dataclass(frozen=True)
class Cell:
    scenario: str
    fault: str | None = None  # None: the clean server
    level: Level | None = None  # the scenario re-levelled (the SHOULD sweep), or its own level


@dataclass
class Ran:
    result: Result
    asked: frozenset[str]  # the faults the server checked during the run


def run_cell(cell: Cell, scenarios: dict[str, Scenario]) -> Ran:
    scenario = scenarios[cell.scenario]
    if cell.level is not None:
        scenario = replace(scenario, level=cell.level)
    session = RunSession(settings=dict(MATRIX_SETTINGS), faults=(cell.fault,) if cell.fault else (), seed=0)
    try:
        result = session.run(scenario)
        return Ran(result, session.faults_asked())
    finally:
        session.stop()


def run_cells(profile: str, cells: Iterable[Cell]) -> dict[Cell, Ran]:
    """Each cell on its own bundled server, WORKERS[profile] at a time."""
    scenarios = {s.id: s for s in select(catalog(), profiles=[profile])}
    todo = list(cells)
    with ThreadPoolExecutor(max_workers=WORKERS.get(profile, 4)) as pool:
        return dict(zip(todo, pool.map(lambda c: run_cell(c, scenarios), todo)))


def sampled(fault: str, scenario: str) -> bool:
    return zlib.crc32(f"{fault}/{scenario}".encode()) % SAMPLE == 0


def own_must(result: Result) -> bool:
    """A FAIL at SHOULD through a check that declares its own MUST level (a MUST clause inside)."""
    return result.failure is not None and result.failure.level is Level.MUST


def right_at_should(verdict: Verdict, through_own_must: bool) -> bool:
    """What a caught scenario re-levelled to SHOULD may give: WARN, or a FAIL only through a check
    that declares its own MUST level; never PASS or ERROR."""
    return verdict is Verdict.WARN or (verdict is Verdict.FAIL and through_own_must)


@dataclass
class Judged:
    """One profile's batch: what each cell gave (after one re-run of those that disagreed)."""

    clean: dict[str, Verdict] = field(default_factory=dict)
    reached: dict[str, set[str]] = field(default_factory=dict)  # fault -> scenarios whose clean run reached it
    exact: dict[str, dict[str, Verdict]] = field(default_factory=dict)  # fault -> the cells run at its level
    should: dict[str, dict[str, Verdict]] = field(default_factory=dict)  # fault -> named cells at SHOULD
    should_own_must: set[Cell] = field(default_factory=set)
    cells: int = 0
    rerun: list[Cell] = field(default_factory=list)
    seconds: float = 0.0


def judge_profile(profile: str, matrix: dict[str, list[str]], optional: dict[str, set[str]]) -> Judged:
    t0 = time.monotonic()
    out = Judged()
    scenarios = {s.id: s for s in select(catalog(), profiles=[profile])}
    ids = list(scenarios)
    clean = run_cells(profile, [Cell(i) for i in ids])
    # a clean run that did not pass may have stopped early and reached little: once more, alone,
    # before the faults are chosen from what the clean runs reached (both runs count)
    again = {c: run_cell(c, scenarios) for c, r in clean.items() if r.result.verdict is not Verdict.PASS}
    asked = {c.scenario: r.asked | (again[c].asked if c in again else frozenset()) for c, r in clean.items()}
    out.rerun += sorted(again, key=str)
    clean.update(again)
    for fault in matrix:
        out.reached[fault] = {i for i in ids if fault in asked[i]}
    cells: list[Cell] = []
    for fault, claimed in matrix.items():
        chosen = set(claimed) | optional[fault] | out.reached[fault] | {i for i in ids if sampled(fault, i)}
        cells += [Cell(i, fault) for i in ids if i in chosen]
        cells += [Cell(i, fault, Level.SHOULD) for i in claimed]
    ran = {**clean, **run_cells(profile, cells)}

    def wanted(cell: Cell, r: Ran) -> bool:
        v = r.result.verdict
        if cell.fault is None:
            return v is Verdict.PASS
        if cell.scenario in optional[cell.fault]:
            return True
        if cell.level is Level.SHOULD:
            return right_at_should(v, own_must(r.result))
        return (v is Verdict.PASS) == (cell.scenario not in matrix[cell.fault]) and v is not Verdict.ERROR

    odd = sorted((c for c, r in ran.items() if c.fault is not None and not wanted(c, r)), key=str)
    out.rerun += odd
    ran.update({c: run_cell(c, scenarios) for c in odd})  # once more, alone and one at a time
    for cell, r in ran.items():
        v = r.result.verdict
        if cell.fault is None:
            out.clean[cell.scenario] = v
        elif cell.level is Level.SHOULD:
            out.should.setdefault(cell.fault, {})[cell.scenario] = v
            if own_must(r.result):
                out.should_own_must.add(cell)
        else:
            out.exact.setdefault(cell.fault, {})[cell.scenario] = v
    out.cells, out.seconds = len(ran), time.monotonic() - t0
    return out


def _matrix_data() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
    return data


def load_matrix() -> dict[str, dict[str, list[str]]]:
    """The cells each fault must make fail. A cell written ``id?`` is one the seeded stateful
    model meets on some runs and not on others: allowed either way, required by no test."""
    return {profile: {fault: sorted(i for i in ids if not i.endswith("?")) for fault, ids in faults.items()}
            for profile, faults in _matrix_data().items()}


def optional_cells() -> dict[str, dict[str, set[str]]]:
    return {profile: {fault: {i[:-1] for i in ids if i.endswith("?")} for fault, ids in faults.items()}
            for profile, faults in _matrix_data().items()}


def main(argv: list[str]) -> int:
    from reference_server.faults import all_faults

    profile = argv[0]
    faults = [f.name for f in all_faults().values() if f.profile == profile]
    ids = [s.id for s in select(catalog(), profiles=[profile])]
    t0 = time.monotonic()
    ran = run_cells(profile, [Cell(i, fault) for fault in faults for i in ids])
    print(f"# {len(ran)} cells in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    out: dict[str, list[str]] = {}
    for fault in faults:
        verdicts = {c.scenario: r.result.verdict for c, r in ran.items() if c.fault == fault}
        out[fault] = sorted(i for i, v in verdicts.items() if v is not Verdict.PASS)
        odd = {i: str(v) for i, v in verdicts.items() if v not in (Verdict.PASS, Verdict.FAIL, Verdict.WARN)}
        if odd:
            print(f"# {fault}: not FAIL/WARN: {odd}", file=sys.stderr)
    print(yaml.safe_dump({profile: out}, sort_keys=True, width=200))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
