"""Verdicts and the two error families: the target's non-conformance, and everything else.

- FAIL: a MUST check failed (the target does not conform).
- WARN: only SHOULD or MAY checks failed; fails a run only with ``--strict``.
- SKIP: the scenario does not apply (with the reason).
- ERROR: the scenario could not execute (target unreachable, setup step failed, harness bug).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"
    ERROR = "ERROR"


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"

    @property
    def strength(self) -> int:
        return {"MUST": 0, "SHOULD": 1, "MAY": 2}[self.value]


@dataclass
class Check:
    """One assertion about the target, tied to a clause."""

    name: str
    passed: bool
    level: Level
    message: str
    expected: Any = None
    observed: Any = None
    clause: str | None = None  # None: the scenario's own clause

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "passed": self.passed,
                               "level": str(self.level), "message": self.message}
        if self.clause:
            out["clause"] = self.clause
        if not self.passed:
            out["expected"] = self.expected
            out["observed"] = self.observed
        return out


class ConformanceFailure(Exception):
    """A MUST check failed: stops the scenario with a FAIL."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.message)
        self.check = check


class StopScenario(Exception):
    """A precondition (``ctx.require``) failed at SHOULD/MAY: the scenario stops with a WARN."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.message)
        self.check = check


class HarnessError(Exception):
    """The scenario could not execute: an ERROR, never a PASS or a FAIL."""


class TargetUnreachable(HarnessError):
    """The target did not answer (connection refused, timeout, garbage)."""


class SetupFailed(HarnessError):
    """A setup step (control hook, draining a feed, getting a token) failed."""


class NotApplicable(Exception):
    """The scenario does not apply to this target: a SKIP with the reason."""


class ConfigError(Exception):
    """A bad setting: usage or configuration error (exit code 2). Names the setting."""


def combine(checks: list[Check]) -> Verdict:
    """FAIL if any MUST check failed, WARN if only SHOULD/MAY checks failed, else PASS."""
    failed = [c for c in checks if not c.passed]
    if any(c.level is Level.MUST for c in failed):
        return Verdict.FAIL
    if failed:
        return Verdict.WARN
    return Verdict.PASS
