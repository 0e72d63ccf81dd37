"""The baseline of known failures: the verdict expected of each scenario that does not pass yet.

Two-sided, so the file cannot rot: a FAIL it does not list fails the run, a FAIL it lists does not,
and an entry whose scenario now gets another verdict is *stale* (reported, and a failure under
--strict). ``conformance baseline REPORT`` writes one from a report.json.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.schemas import registry
from harness.verdicts import ConfigError

BASELINE_SCHEMA = "harness/baseline"
HEADER = """\
# Known failures of one target: the verdict each listed scenario is expected to get.
# `conformance run --baseline FILE`: a FAIL, WARN or ERROR listed here does not fail the run; one not
# listed does; an entry whose scenario now gets another verdict is stale (fails under --strict).
# Written by `conformance baseline`; review it and keep it in version control beside the pipeline.
"""


def load_baseline(path: str | Path) -> dict[str, str]:
    """The expected verdict by scenario id; a bad file is a ConfigError naming it (exit 2)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--baseline {p}: cannot read: {exc.strerror}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--baseline {p}: not valid YAML or JSON ({type(exc).__name__})") from None
    issues = registry().issues(BASELINE_SCHEMA, data)
    if issues:
        raise ConfigError(f"--baseline {p}: invalid at {issues[0].path}: {issues[0].message}")
    return {sid: (value if isinstance(value, str) else value["verdict"])
            for sid, value in data["scenarios"].items()}


def check_ids(expected: dict[str, str], known: set[str], path: str | Path) -> None:
    """A baseline naming a scenario that does not exist is a typo: refuse it (exit 2)."""
    unknown = sorted(set(expected) - known)
    if unknown:
        raise ConfigError(f"--baseline {path}: unknown scenario id(s): {', '.join(unknown[:5])}")


def from_report(report: dict[str, Any]) -> dict[str, Any]:
    """A baseline listing every FAIL, WARN and ERROR of a report.json, with its reason."""
    entries = {e["id"]: {"verdict": e["verdict"], "reason": e.get("reason", "")}
               for e in report.get("scenarios", []) if e.get("verdict") in ("FAIL", "WARN", "ERROR")}
    target = report.get("target", {})
    return {"baseline": 1, "target": str(target.get("base_url", "")),
            "from_run": str(report.get("run", {}).get("id", "")), "scenarios": entries}


def dump_baseline(baseline: dict[str, Any]) -> str:
    issues = registry().issues(BASELINE_SCHEMA, baseline)
    if issues:
        raise ValueError(f"baseline would be invalid: {issues[0]}")
    return HEADER + yaml.safe_dump(baseline, sort_keys=False, allow_unicode=True, width=110)
