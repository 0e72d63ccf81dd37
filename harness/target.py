"""The target, described once: URLs, credentials, tenants, declared timings and profile options.

Built from a config file (YAML or TOML) and command-line flags; nothing else reads settings.
"""
from __future__ import annotations

import tomllib
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.options import merge_options
from harness.schemas import registry
from harness.verdicts import ConfigError

IMPLEMENTED_PROFILES = ["feed-polling", "ws-progress"]


@dataclass(frozen=True)
class Timings:
    """Declared protocol timers (spec values by default), scaled by one multiplier."""

    ping_interval: float = 30.0
    idle_timeout: float = 300.0
    token_lifetime: float = 900.0
    app_message_timeout: float = 60.0
    scale: float = 1.0
    tolerance: float = 0.1
    slack: float = 0.5

    def __getitem__(self, name: str) -> float:
        """A declared timing, multiplied by the scale."""
        return float(getattr(self, name)) * self.scale


@dataclass(frozen=True)
class Target:
    base_url: str
    control_url: str | None = None
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    tenants: tuple[str, ...] = ()
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)
    request_timeout: float = 5.0
    max_wait: float = 30.0
    bundled: bool = False
    faults: tuple[str, ...] = ()

    def option(self, profile: str, name: str) -> Any:
        return (self.options.get(profile) or merge_options(profile, None))[name]

    @property
    def secrets(self) -> list[str]:
        passwords = [urlsplit(u).password for u in (self.base_url, self.control_url, self.token_url) if u]
        return [s for s in (self.token, self.client_secret, *passwords) if s]

    def described(self) -> dict[str, Any]:
        """What was tested, for the report: no secrets."""
        return {
            "base_url": _no_password(self.base_url),
            "control_url": _no_password(self.control_url) if self.control_url else None,
            "bundled": self.bundled,
            "tenants": list(self.tenants), "faults": list(self.faults),
            "auth": "token" if self.token else ("client-credentials" if self.client_id else "none"),
            "timings": {k: getattr(self.timings, k) for k in
                        ("ping_interval", "idle_timeout", "token_lifetime", "app_message_timeout",
                         "scale", "tolerance", "slack")},
            "request_timeout": self.request_timeout, "max_wait": self.max_wait,
            "options": self.options,
        }


def _no_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":[REDACTED]@")).geturl()


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a YAML or TOML config file; errors name the file and the setting."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config {p}: cannot read: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"--config {p}: not valid {'TOML' if p.suffix == '.toml' else 'YAML'}: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {p}: expected a mapping of settings at the top level")
    issues = registry().issues("harness/config", data)
    if issues:
        issue = issues[0]
        where = issue.path.removeprefix("$.").removeprefix("$") or "(top level)"
        raise ConfigError(f"--config {p}: setting {where}: {issue.message}")
    return data


def build_target(settings: dict[str, Any]) -> Target:
    """A Target from validated settings (config file merged with flags)."""
    if not settings.get("target"):
        raise ConfigError("target: no target URL given (use --target URL, or no --target for the bundled server)")
    tenants = list(settings.get("tenants") or [])
    if settings.get("tenant") and settings["tenant"] not in tenants:
        tenants.insert(0, settings["tenant"])
    options = {profile: merge_options(profile, (settings.get("options") or {}).get(profile))
               for profile in ("feed-polling", "ws-progress", "callbacks", "webhooks")}
    timings = Timings(**(settings.get("timings") or {}))
    for key in ("target", "control", "token_url"):
        url = settings.get(key)
        if url is not None:
            parts = urlsplit(str(url))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"{key}: {url!r} is not an http(s) URL")
    if bool(settings.get("client_id")) != bool(settings.get("client_secret")):
        raise ConfigError("client_id/client_secret: give both or neither")
    return Target(
        base_url=str(settings["target"]).rstrip("/"),
        control_url=str(settings["control"]).rstrip("/") if settings.get("control") else None,
        token=settings.get("token"), client_id=settings.get("client_id"),
        client_secret=settings.get("client_secret"), token_url=settings.get("token_url"),
        tenants=tuple(tenants), options=options, timings=timings,
        request_timeout=float(settings.get("request_timeout", 5.0)),
        max_wait=float(settings.get("max_wait", 30.0)),
    )

