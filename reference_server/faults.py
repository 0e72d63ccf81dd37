"""Named faults: realistic bugs that can be switched on to prove each scenario can fail.

Each profile module declares its own faults; this module only aggregates them.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
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


class FaultSet(frozenset[str]):
    """The faults switched on, remembering every name the server asked about (``"x" in faults``).

    A server that never asked whether fault F is on behaved exactly as it would have with F on:
    the kill matrix uses this to run, under each fault, only the scenarios whose clean run asked
    about it (the others provably take the same path), as mutation tools run only the tests that
    cover a mutant.
    """

    def __new__(cls, names: Iterable[str] = ()) -> "FaultSet":
        made = super().__new__(cls, names)
        made._asked = set()
        made._lock = threading.Lock()
        return made

    _asked: set[str]
    _lock: threading.Lock

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name not in self._asked:
            with self._lock:
                self._asked.add(name)
        return frozenset.__contains__(self, name)

    def asked(self) -> frozenset[str]:
        """Every fault name this server has checked so far, on or off."""
        with self._lock:
            return frozenset(self._asked)


def check_names(names: list[str] | tuple[str, ...] | frozenset[str]) -> FaultSet:
    """Return the names as a set, or raise ValueError naming the unknown one."""
    known = all_faults()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown fault {name!r}; `conformance serve --list-faults` lists them")
    return FaultSet(names)
