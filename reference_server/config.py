"""Settings of one reference server instance: who may call it, its timings, its faults."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

TimingsName = Literal["fast", "spec"]


@dataclass(frozen=True)
class Timings:
    """Protocol timers in seconds. ``spec`` is what the seeds say; ``fast`` is for test runs."""

    ping_interval: float
    idle_timeout: float
    token_lifetime: float
    app_message_timeout: float
    runlog_line_interval: float
    name: TimingsName = "fast"

    @classmethod
    def named(cls, name: TimingsName) -> "Timings":
        if name == "spec":
            # seed 001: five-minute idle, 15-minute token; notes: APP_MESSAGE answered within 60 s
            return cls(ping_interval=30.0, idle_timeout=300.0, token_lifetime=900.0,
                       app_message_timeout=60.0, runlog_line_interval=0.05, name="spec")
        if name == "fast":
            return cls(ping_interval=0.25, idle_timeout=1.2, token_lifetime=1.6,
                       app_message_timeout=0.8, runlog_line_interval=0.01, name="fast")
        raise ValueError(f"unknown timings {name!r}: use 'fast' or 'spec'")


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one abusive client from exhausting the server; docs/reference-server.md."""

    json_depth: int = 64  # deepest nesting of a JSON body or WebSocket frame (deeper: 400 / 1008)
    header_timeout: float = 10.0  # seconds for a connection to send complete request headers
    subscriptions_per_message: int = 100  # SUBSCRIBE entries in one frame (more: close 1008)
    subscriptions_per_socket: int = 1000  # distinct jobs one socket may subscribe to
    socket_outbound_bytes: int = 8 * 1024 * 1024  # queued for a socket that does not read: 1008
    finished_job_retention: float = 600.0  # seconds a finished ws-progress job is kept
    finished_jobs: int = 50  # finished jobs kept at most (the oldest go first)
    closed_connection_ids: int = 10_000  # closed socket ids remembered (newest kept)
    idempotency_keys: int = 10_000  # control-hook Idempotency-Keys remembered (newest kept)


@dataclass
class ServerConfig:
    """Everything a reference server instance needs; built by ``conformance serve`` or a test."""

    faults: frozenset[str] = frozenset()
    timings: Timings = field(default_factory=lambda: Timings.named("fast"))
    db_path: str = ":memory:"
    # feed-polling: static bearer tokens accepted on every feed and control call
    tokens: tuple[str, ...] = field(default_factory=lambda: (secrets.token_urlsafe(24),))
    # tenants a caller may name in X-TENANT-ID; the first is used when the header is absent
    tenants: tuple[str, ...] = ("tenant-a", "tenant-b")
    # feed-polling: token -> the tenants it may use (reference_server/feed_access.py). Empty: every
    # token may use every tenant. Otherwise only the listed ones (an unlisted token: none); the
    # tokens listed here are accepted like those in ``tokens``.
    token_tenants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # ws-progress: clientId -> secret for POST /api/authentication/token
    clients: dict[str, str] = field(default_factory=lambda: {"conformance-client": secrets.token_urlsafe(24)})
    # close codes (profile options): idle and token expiry
    idle_close_code: int = 4000
    token_expiry_close_code: int = 4001
    # ws-progress: submission success status, 200 or 201
    submit_status: int = 201
    # ws-progress: messageType acknowledging a valid UPDATE_TOKEN ({messageType, messagePayload: {}}), or None
    update_token_ack: str | None = "TOKEN_UPDATED"
    # feed-polling: status for completing an unknown or already completed batch
    stale_complete_status: int = 404
    control_prefix: str = "/_control"
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        for token, bound in self.token_tenants.items():
            unknown = [t for t in bound if t not in self.tenants]
            if unknown or not token:
                raise ValueError(f"token_tenants binds a token to unknown tenants {unknown}")
    # settings of the other protocols, by protocol name (each module documents its own keys)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
