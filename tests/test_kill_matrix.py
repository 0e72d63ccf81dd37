"""The kill matrix: every scenario can fail, every fault is caught, exactly as tests/kill_matrix.yaml says.

Fast tier (`make test`): each fault is caught by the scenarios the matrix names (they run alone,
each on its own server), so every fault is caught and every scenario can fail. Slow tier
(`make test-slow`, run by CI too): nothing else fails under the fault (the whole profile runs),
and at level SHOULD the same faults give WARN.
"""
from __future__ import annotations

from typing import Callable

import pytest

from harness.catalog import catalog
from harness.profile import profile_names
from harness.verdicts import Level, Verdict
from reference_server.faults import all_faults
from tests.killmatrix import LAST, load_matrix, optional_cells, run_profile

IMPLEMENTED_PROFILES = list(profile_names())
MATRIX = load_matrix()
OPTIONAL = optional_cells()
CASES = [(profile, fault) for profile in MATRIX for fault in MATRIX[profile]]


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


@pytest.mark.parametrize("profile", IMPLEMENTED_PROFILES)
def test_clean_reference_server_passes(profile: str) -> None:
    verdicts = settled(profile, None, run_profile(profile), lambda i, v: v is Verdict.PASS)
    assert {i: v for i, v in verdicts.items() if v is not Verdict.PASS} == {}


def settled(profile: str, fault: str | None, verdicts: dict[str, Verdict], wanted: Callable[[str, Verdict], bool],
            level: Level | None = None) -> dict[str, Verdict]:
    """The verdicts, with every scenario that disagreed with the matrix run once more on its own
    (one at a time, on a quiet machine as far as this test goes): timer scenarios run six at a time
    on a loaded 2-core CI machine can miss a window by scheduling delay alone. A cell that
    disagrees twice is a real failure."""
    odd = {i for i, v in verdicts.items() if not wanted(i, v)}
    if odd:
        faults = (fault,) if fault else ()
        again = {i: run_profile(profile, faults, only={i}, level=level)[i] for i in sorted(odd)}
        verdicts = {**verdicts, **again}
    return verdicts


@pytest.mark.parametrize(("profile", "fault"), CASES, ids=[f for _, f in CASES])
def test_fault_is_caught(profile: str, fault: str) -> None:
    verdicts = run_profile(profile, (fault,), only=set(MATRIX[profile][fault]))
    verdicts = settled(profile, fault, verdicts, lambda i, v: v in (Verdict.FAIL, Verdict.WARN))
    assert {i: v for i, v in verdicts.items() if v not in (Verdict.FAIL, Verdict.WARN)} == {}, \
        "each scenario the matrix names must FAIL (or WARN at SHOULD) under the fault, never PASS, ERROR or SKIP"


@pytest.mark.slow
@pytest.mark.parametrize(("profile", "fault"), CASES, ids=[f for _, f in CASES])
def test_fault_is_caught_exactly(profile: str, fault: str) -> None:
    optional = OPTIONAL[profile][fault]
    claimed = set(MATRIX[profile][fault])
    verdicts = settled(profile, fault, run_profile(profile, (fault,)),
                       lambda i, v: i in optional or (v is Verdict.PASS) == (i not in claimed))
    not_passed = {i: v for i, v in verdicts.items() if v is not Verdict.PASS}
    assert sorted(i for i in not_passed if i not in optional) == MATRIX[profile][fault]
    assert all(v in (Verdict.FAIL, Verdict.WARN) for v in not_passed.values()), \
        f"a fault must produce FAIL/WARN, never ERROR or SKIP: {not_passed}"


@pytest.mark.slow
@pytest.mark.parametrize(("profile", "fault"), CASES, ids=[f for _, f in CASES])
def test_same_fault_at_should_gives_warn_never_error(profile: str, fault: str) -> None:
    """A check that does not stop at SHOULD must not be followed by code that assumed it passed:
    every scenario a fault catches gives WARN at level SHOULD, never ERROR or PASS; a FAIL only
    through a check that declares its own MUST level (a MUST clause inside the scenario)."""
    def own_must(i: str) -> bool:
        failure = LAST[i].failure if i in LAST else None
        return failure is not None and failure.level is Level.MUST

    def wanted(i: str, v: Verdict) -> bool:
        return v is Verdict.WARN or (v is Verdict.FAIL and own_must(i))

    verdicts = run_profile(profile, (fault,), only=set(MATRIX[profile][fault]), level=Level.SHOULD)
    verdicts = settled(profile, fault, verdicts, wanted, level=Level.SHOULD)
    assert {i: v for i, v in verdicts.items() if not wanted(i, v)} == {}
