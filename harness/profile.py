"""The protocol descriptor: one ``Profile`` per protocol package, found through one registry.

Each package under ``harness/profiles/`` exports ``PROFILE``; importing the package registers its
executors. The CLI, the plugin, the config schema, the catalog and the runner read this list and
nothing else, so adding a protocol is adding a package (wptrunner's ``Product`` is the model).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

NEEDS = ("control", "tenants", "tenant-tokens", "credentials", "receiver", "clients")


@dataclass(frozen=True)
class Option:
    """A declared choice where the sources are silent: its default, its JSON Schema, why it exists."""

    name: str
    default: Any
    schema: dict[str, Any]
    doc: str


@dataclass(frozen=True)
class Timer:
    """A declared protocol timer in seconds; ``spec`` is what the sources say."""

    name: str
    spec: float
    doc: str


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    seeds: tuple[str, ...]
    options: tuple[Option, ...] = ()
    timers: tuple[Timer, ...] = ()
    # JSON Schema of every scenario parameter this profile's kinds read (a typo is refused)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    # resources a scenario of this profile uses when its file names none (see catalog.Scenario)
    default_resources: Callable[[dict[str, Any]], tuple[str, ...]] = field(default=lambda params: ())

    def option(self, name: str) -> Option:
        for opt in self.options:
            if opt.name == name:
                return opt
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def timer_defaults(self) -> dict[str, float]:
        return {t.name: t.spec for t in self.timers}

    def options_schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False,
                "properties": {o.name: {**o.schema, "description": o.doc} for o in self.options}}

    def parameters_schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "properties": self.parameters}

    def timers_schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False,
                "properties": {t.name: {"type": "number", "exclusiveMinimum": 0,
                                        "description": f"{t.doc} (spec: {t.spec:g} s)"}
                               for t in self.timers}}


def _module_names() -> list[str]:
    import harness.profiles as package

    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)


@lru_cache(maxsize=1)
def profile_names() -> tuple[str, ...]:
    """The names of every implemented profile, without importing their executors."""
    return tuple(name.replace("_", "-") for name in _module_names())


@lru_cache(maxsize=1)
def profiles() -> dict[str, Profile]:
    """Every profile package's PROFILE (importing the package registers its executors)."""
    found: dict[str, Profile] = {}
    for module_name in _module_names():
        module = importlib.import_module(f"harness.profiles.{module_name}")
        desc = getattr(module, "PROFILE", None)
        if not isinstance(desc, Profile):
            raise TypeError(f"harness.profiles.{module_name} exports no PROFILE")
        if desc.name != module_name.replace("_", "-"):
            raise ValueError(f"harness.profiles.{module_name}: PROFILE.name is {desc.name!r}")
        found[desc.name] = desc
    return found


def get_profile(name: str) -> Profile:
    try:
        return profiles()[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(profile_names())}") from None
