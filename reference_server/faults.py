"""Named faults: realistic bugs that can be switched on to prove each scenario can fail.

Each profile module declares its own faults; this module only aggregates them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    profile: str
    description: str


def all_faults() -> dict[str, Fault]:
    from reference_server.protocols import protocols

    faults: dict[str, Fault] = {}
    for protocol in protocols():
        for fault in protocol.faults:
            if fault.name in faults:
                raise ValueError(f"duplicate fault name {fault.name!r}")
            faults[fault.name] = fault
    return faults


def check_names(names: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """Return the names as a set, or raise ValueError naming the unknown one."""
    known = all_faults()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown fault {name!r}; `conformance serve --list-faults` lists them")
    return frozenset(names)
