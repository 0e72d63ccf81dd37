"""The kill matrix: every scenario can fail, every fault is caught, exactly as tests/kill_matrix.yaml says.

One test and one batch per profile (tests/killmatrix.py judge_profile): the clean server passes
everything; under each fault exactly the named scenarios fail, never with an ERROR or SKIP; at
level SHOULD the same faults give WARN. Which cells the batch runs, and why the others need not
run, is said in tests/killmatrix.py.
"""
from __future__ import annotations

import pytest

from harness.catalog import catalog
from harness.profile import profile_names
from harness.verdicts import Level, Verdict
from reference_server.faults import all_faults
from tests.killmatrix import Cell, Judged, judge_profile, load_matrix, optional_cells, right_at_should, sampled

IMPLEMENTED_PROFILES = list(profile_names())
MATRIX = load_matrix()
OPTIONAL = optional_cells()


def test_matrix_covers_every_fault_and_scenario() -> None:
    faults = all_faults()
    for profile in IMPLEMENTED_PROFILES:
        assert profile in MATRIX, f"no kill matrix for {profile}"
        profile_faults = {f.name for f in faults.values() if f.profile == profile}
        assert set(MATRIX[profile]) == profile_faults, "matrix and reference server faults differ"
        for fault, caught in MATRIX[profile].items():
            assert caught, f"fault {fault} is caught by no scenario"
        scenarios = {s.id for s in catalog() if s.profile == profile}
        caught_any = {i for ids in MATRIX[profile].values() for i in ids}
        assert scenarios - caught_any == set(), "scenarios no fault can make fail"
        assert caught_any - scenarios == set(), "matrix names unknown scenarios"


def test_the_sample_of_skipped_cells_is_fixed_and_about_one_in_25() -> None:
    cells = [(f, s.id) for p in MATRIX for f in MATRIX[p] for s in catalog() if s.profile == p]
    share = sum(sampled(f, i) for f, i in cells) / len(cells)
    assert 0.02 < share < 0.07
    assert [sampled(f, i) for f, i in cells] == [sampled(f, i) for f, i in cells]


@pytest.mark.parametrize("profile", IMPLEMENTED_PROFILES)
def test_kill_matrix(profile: str) -> None:
    """One batch per profile (pytest-xdist spreads the profiles; a test per fault would have each
    worker run every batch). Every disagreement of every fault is listed, not only the first."""
    j = judge_profile(profile, MATRIX[profile], OPTIONAL[profile])
    problems = [f"clean server: {i} gave {v}" for i, v in j.clean.items() if v is not Verdict.PASS]
    for fault in MATRIX[profile]:
        problems += fault_problems(profile, fault, j)
    print(f"{profile}: {j.cells} cells in {j.seconds:.1f}s; re-run alone: {[str(c) for c in j.rerun]}")
    assert not problems, "\n".join(problems)


def fault_problems(profile: str, fault: str, j: Judged) -> list[str]:
    """What disagrees with the matrix under one fault: the scenarios it names must FAIL (or WARN
    at SHOULD), never PASS, ERROR or SKIP; every other scenario run under it (it reached the
    fault's check, or is in the sample) passes; at level SHOULD the named ones give WARN, a FAIL
    only through a check that declares its own MUST level (code after a failed SHOULD check must
    not rely on it)."""
    claimed, optional = set(MATRIX[profile][fault]), OPTIONAL[profile][fault]
    out = []
    if not claimed <= j.reached[fault]:
        out.append(f"{fault}: the matrix names scenarios whose clean run never reached it: "
                   f"{sorted(claimed - j.reached[fault])}")
    not_passed = {i: v for i, v in j.exact[fault].items() if v is not Verdict.PASS}
    caught = sorted(i for i in not_passed if i not in optional)
    if caught != MATRIX[profile][fault]:
        out.append(f"{fault}: caught {caught}, the matrix says {MATRIX[profile][fault]}")
    odd = {i: str(v) for i, v in not_passed.items() if v not in (Verdict.FAIL, Verdict.WARN)}
    if odd:
        out.append(f"{fault}: a fault must produce FAIL/WARN, never ERROR or SKIP: {odd}")
    wrong = {i: str(v) for i, v in j.should[fault].items()
             if not right_at_should(v, Cell(i, fault, Level.SHOULD) in j.should_own_must)}
    if wrong:
        out.append(f"{fault} at level SHOULD: expected WARN, got {wrong}")
    return out


def test_a_fault_set_remembers_every_fault_asked_about_on_or_off() -> None:
    from reference_server.faults import check_names

    faults = check_names(["ws-no-pings"])
    assert "ws-no-pings" in faults and "fp-tenant-leak" not in faults
    assert faults.asked() == {"ws-no-pings", "fp-tenant-leak"}
    assert "ws-no-pings" in check_names(["ws-no-pings"]) and check_names([]).asked() == frozenset()


def test_every_kind_of_disagreement_is_reported() -> None:
    """The matrix test can fail: a named scenario that passes, a stray one that fails, an ERROR, a
    SHOULD-level ERROR and a claim the clean run never reached are each named."""
    profile = "feed-polling"
    fault = next(f for f in MATRIX[profile] if not OPTIONAL[profile][f])
    claimed = MATRIX[profile][fault]
    stray = next(s.id for s in catalog() if s.profile == profile and s.id not in claimed)
    j = Judged(reached={fault: set(claimed[1:])},
               exact={fault: {claimed[0]: Verdict.PASS, stray: Verdict.ERROR}},
               should={fault: {claimed[0]: Verdict.ERROR}})
    text = "\n".join(fault_problems(profile, fault, j))
    assert "never reached" in text and f"caught ['{stray}']" in text and "ERROR or SKIP" in text
    assert "at level SHOULD" in text
