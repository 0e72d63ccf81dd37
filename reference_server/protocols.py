"""The reference server's one list of protocols: each module under reference_server/profiles/ that
exports ``PROTOCOL`` is served, its faults listed and its declared settings handed to the harness.

Adding a protocol is adding a module that exports a :class:`ServerProtocol`; nothing here changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from aiohttp import web

from reference_server.config import ServerConfig
from reference_server.faults import Fault


def _nothing_declared(config: ServerConfig) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ServerProtocol:
    """One protocol of the reference server.

    ``setup`` adds routes and startup/cleanup hooks; ``openapi_paths`` documents them;
    ``declared`` returns what a harness must declare to test this server exactly as configured:
    ``{"timings": {...}, "options": {...}}`` for the profile of the same name.
    """

    name: str
    faults: tuple[Fault, ...]
    setup: Callable[[web.Application, ServerConfig], None]
    openapi_paths: Callable[[ServerConfig], dict[str, Any]]
    declared: Callable[[ServerConfig], dict[str, Any]] = field(default=_nothing_declared)


@lru_cache(maxsize=1)
def protocols() -> tuple[ServerProtocol, ...]:
    """Every protocol module's PROTOCOL, in module-name order."""
    import reference_server.profiles as package

    found: list[ServerProtocol] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        protocol = getattr(module, "PROTOCOL", None)
        if isinstance(protocol, ServerProtocol):
            found.append(protocol)
    names = [p.name for p in found]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate protocol names: {names}")
    return tuple(found)


def protocol(name: str) -> ServerProtocol:
    for p in protocols():
        if p.name == name:
            return p
    raise KeyError(name)


def declared_settings(config: ServerConfig) -> dict[str, dict[str, Any]]:
    """{"timings": {profile: {...}}, "options": {profile: {...}}} for every protocol served."""
    out: dict[str, dict[str, Any]] = {"timings": {}, "options": {}}
    for p in protocols():
        declared = p.declared(config)
        for key in ("timings", "options"):
            if declared.get(key):
                out[key][p.name] = declared[key]
    return out
