"""The kill matrix: every scenario can fail, every fault is caught, exactly as tests/kill_matrix.yaml says.

One batch per profile (tests/killmatrix.py judge_profile, run once per test process; under
pytest-xdist each profile's tests go to one worker, `--dist loadgroup`): the clean server passes
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
from tests.killmatrix import Cell, Judged, judge_profile, load_matrix, optional_cells, sampled

IMPLEMENTED_PROFILES = list(profile_names())
MATRIX = load_matrix()
OPTIONAL = optional_cells()
CASES = [pytest.param(profile, fault, id=fault, marks=pytest.mark.xdist_group(f"kill-{profile}"))
         for profile in MATRIX for fault in MATRIX[profile]]
PROFILES = [pytest.param(p, id=p, marks=pytest.mark.xdist_group(f"kill-{p}")) for p in IMPLEMENTED_PROFILES]
JUDGED: dict[str, Judged] = {}


def judged(profile: str) -> Judged:
    if profile not in JUDGED:
        JUDGED[profile] = judge_profile(profile, MATRIX[profile], OPTIONAL[profile])
    return JUDGED[profile]


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


@pytest.mark.parametrize("profile", PROFILES)
def test_clean_reference_server_passes(profile: str) -> None:
    assert {i: v for i, v in judged(profile).clean.items() if v is not Verdict.PASS} == {}


@pytest.mark.parametrize(("profile", "fault"), CASES)
def test_fault_is_caught_exactly(profile: str, fault: str) -> None:
    """The scenarios the matrix names FAIL (or WARN at SHOULD) under the fault, never PASS, ERROR
    or SKIP; every other scenario that reached the fault's check, or is in the sample, passes."""
    j = judged(profile)
    claimed, optional = set(MATRIX[profile][fault]), OPTIONAL[profile][fault]
    assert claimed <= j.reached[fault], \
        f"the matrix names scenarios whose clean run never reached the fault: {sorted(claimed - j.reached[fault])}"
    verdicts = j.exact[fault]
    not_passed = {i: v for i, v in verdicts.items() if v is not Verdict.PASS}
    assert sorted(i for i in not_passed if i not in optional) == MATRIX[profile][fault]
    assert all(v in (Verdict.FAIL, Verdict.WARN) for v in not_passed.values()), \
        f"a fault must produce FAIL/WARN, never ERROR or SKIP: {not_passed}"


@pytest.mark.parametrize(("profile", "fault"), CASES)
def test_same_fault_at_should_gives_warn_never_error(profile: str, fault: str) -> None:
    """A check that does not stop at SHOULD must not be followed by code that assumed it passed:
    every scenario a fault catches gives WARN at level SHOULD, never ERROR or PASS; a FAIL only
    through a check that declares its own MUST level (a MUST clause inside the scenario)."""
    j = judged(profile)
    wrong = {i: v for i, v in j.should[fault].items()
             if not (v is Verdict.WARN or (v is Verdict.FAIL and Cell(i, fault, Level.SHOULD) in j.should_own_must))}
    assert wrong == {}


def test_a_fault_set_remembers_every_fault_asked_about_on_or_off() -> None:
    from reference_server.faults import check_names

    faults = check_names(["ws-no-pings"])
    assert "ws-no-pings" in faults and "fp-tenant-leak" not in faults
    assert faults.asked() == {"ws-no-pings", "fp-tenant-leak"}
    assert "ws-no-pings" in check_names(["ws-no-pings"]) and check_names([]).asked() == frozenset()
