"""Load and validate the scenario files under scenarios/<profile>/*.yaml into Scenario objects."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from harness.profile import profiles
from harness.resources import scenarios_dir
from harness.scheduling import uses
from harness.schemas import registry
from harness.verdicts import ConfigError, Level

SCENARIO_SCHEMA = "harness/scenario"


class CatalogError(ConfigError):
    """A scenario file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Source:
    seed: str
    clause: str


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    profile: str
    level: Level
    requirement: str
    source: Source
    kind: str
    path: Path
    needs: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()

    def matches(self, pattern: str) -> bool:
        """Selection by id, glob over the id, or ``tag:NAME``/a bare tag."""
        if pattern.startswith("tag:"):
            return pattern[4:] in self.tags
        return fnmatch.fnmatchcase(self.id, pattern) or pattern in self.tags


def load_file(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    issues = registry().issues(SCENARIO_SCHEMA, data)
    if issues:
        raise CatalogError(f"{path}: invalid scenario at {issues[0].path}: {issues[0].message}")
    if data["profile"] != path.parent.name:
        raise CatalogError(f"{path}: field 'profile' is {data['profile']!r} but the file is under {path.parent.name}/")
    desc = profiles().get(data["profile"])
    if desc is None:
        raise CatalogError(f"{path}: field 'profile': unknown profile {data['profile']!r}; "
                           f"known: {', '.join(profiles())}")
    params = dict(data.get("parameters", {}))
    bad = sorted(Draft202012Validator(desc.parameters_schema()).iter_errors(params), key=lambda e: e.json_path)
    if bad:
        where = bad[0].json_path.replace("$", "parameters", 1)
        known = ", ".join(sorted(desc.parameters)) or "none"
        raise CatalogError(f"{path}: invalid scenario at {where}: {bad[0].message} (known parameters: {known})")
    resources = tuple(data.get("resources") or desc.default_resources(params))
    try:
        uses(frozenset(resources))
    except ValueError as exc:
        raise CatalogError(f"{path}: {exc}") from None
    return Scenario(
        id=data["id"], title=data["title"], profile=data["profile"], level=Level(data["level"]),
        requirement=data["requirement"], source=Source(**{k: data["source"][k] for k in ("seed", "clause")}),
        kind=data["kind"], path=path, needs=tuple(data.get("needs", ())),
        parameters=params, tags=tuple(data.get("tags", ())), resources=resources,
    )


def load_catalog(root: Path | None = None) -> list[Scenario]:
    root = root or scenarios_dir()
    scenarios = [load_file(p) for p in sorted(root.glob("*/*.yaml"))]
    seen: dict[str, Path] = {}
    for s in scenarios:
        if s.id in seen:
            raise CatalogError(f"{s.path}: field 'id' {s.id!r} is already used by {seen[s.id]}")
        seen[s.id] = s.path
    return scenarios


@lru_cache(maxsize=1)
def catalog() -> tuple[Scenario, ...]:
    return tuple(load_catalog())


def select(scenarios: list[Scenario] | tuple[Scenario, ...], *, profiles: list[str] | None = None,
           patterns: list[str] | None = None, level: Level = Level.MAY) -> list[Scenario]:
    chosen = []
    for s in scenarios:
        if profiles and s.profile not in profiles:
            continue
        if patterns and not any(s.matches(p) for p in patterns):
            continue
        if s.level.strength > level.strength:
            continue
        chosen.append(s)
    return chosen
