"""The target, described once: URLs, credentials, tenants, declared timings and profile options.

Built from settings (config file merged with flags, harness/settings.py); nothing else reads them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.options import all_options, build_timings, normalize_timings
from harness.settings import load_config as load_config  # re-exported: callers load through here
from harness.timing import Timings
from harness.verdicts import ConfigError


def origin(url: str) -> str:
    """scheme://host:port of a URL (the default port made explicit), lower-cased."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:  # a URL a target handed out that does not parse: trusted by no one
        return "invalid:"
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class Target:
    base_url: str
    control_url: str | None = None
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    clients: tuple[tuple[str, str], ...] = ()  # further (client_id, client_secret) of the same target
    tenants: tuple[str, ...] = ()
    tenant_tokens: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)
    request_timeout: float = 5.0
    max_wait: float = 30.0
    bundled: bool = False
    faults: tuple[str, ...] = ()
    trusted_origins: tuple[str, ...] = ()
    receiver_bind: str = "127.0.0.1:0"
    receiver_url: str | None = None
    notes: tuple[str, ...] = ()

    def option(self, profile: str, name: str) -> Any:
        if profile not in self.options:
            from harness.options import merge_options
            return merge_options(profile, None)[name]
        return self.options[profile][name]

    @property
    def secrets(self) -> list[str]:
        passwords = [urlsplit(u).password for u in (self.base_url, self.control_url, self.token_url,
                                                     self.receiver_url) if u]
        return [s for s in (self.token, self.client_secret, *self.tenant_tokens.values(),
                            *(c[1] for c in self.clients), *passwords) if s]

    @property
    def all_clients(self) -> tuple[tuple[str, str], ...]:
        """Every declared client: the main one (client_id/client_secret) first."""
        main = ((self.client_id, self.client_secret),) if self.client_id and self.client_secret else ()
        return (*main, *self.clients)

    def trusts(self, url: str) -> bool:
        """Credentials go only to the target's own origins (and the ones it declared trusted)."""
        mine = {origin(self.base_url), *(origin(u) for u in (self.control_url, self.token_url) if u)}
        mine.update(origin(u) for u in self.trusted_origins)
        return origin(url) in mine

    def described(self) -> dict[str, Any]:
        """What was tested, for the report: no secrets."""
        return {
            "base_url": _no_password(self.base_url),
            "control_url": _no_password(self.control_url) if self.control_url else None,
            "bundled": self.bundled,
            "tenants": list(self.tenants), "faults": list(self.faults),
            "clients": [cid for cid, _ in self.all_clients],
            "auth": "token" if self.token else ("client-credentials" if self.client_id else "none"),
            "timings": self.timings.described(),
            "request_timeout": self.request_timeout, "max_wait": self.max_wait,
            "trusted_origins": list(self.trusted_origins),
            "options": self.options,
            "notes": list(self.notes),
        }


def _no_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":[REDACTED]@")).geturl()


def build_target(settings: dict[str, Any]) -> Target:
    """A Target from validated settings (config file merged with flags)."""
    if not settings.get("target"):
        raise ConfigError("target: no target URL given (use --target URL, or no --target for the bundled server)")
    tenants = list(settings.get("tenants") or [])
    if settings.get("tenant") and settings["tenant"] not in tenants:
        tenants.insert(0, settings["tenant"])
    for key in ("target", "control", "token_url", "receiver_url"):
        url = settings.get(key)
        if url is not None:
            parts = urlsplit(str(url))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"{key}: {_no_password(str(url))!r} is not an http(s) URL")
    if bool(settings.get("client_id")) != bool(settings.get("client_secret")):
        raise ConfigError("client_id/client_secret: give both or neither")
    declared, notes = normalize_timings(settings.get("timings"))
    timings = build_timings(declared)
    return Target(
        base_url=str(settings["target"]).rstrip("/"),
        control_url=str(settings["control"]).rstrip("/") if settings.get("control") else None,
        token=settings.get("token"), client_id=settings.get("client_id"),
        client_secret=settings.get("client_secret"), token_url=settings.get("token_url"),
        clients=tuple((str(c["client_id"]), str(c["client_secret"])) for c in settings.get("clients") or ()),
        tenants=tuple(tenants), tenant_tokens=dict(settings.get("tenant_tokens") or {}),
        options=all_options(settings.get("options")), timings=timings,
        request_timeout=float(settings.get("request_timeout", 5.0)),
        max_wait=float(settings.get("max_wait", 30.0)),
        trusted_origins=tuple(settings.get("trusted_origins") or ()),
        receiver_bind=str(settings.get("receiver_bind") or "127.0.0.1:0"),
        receiver_url=settings.get("receiver_url"), notes=tuple([*(settings.get("notes") or ()), *notes]),
    )
