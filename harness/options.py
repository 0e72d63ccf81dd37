"""Declared profile options: where the sources are silent, the target declares its choice.

Each option has the default the reference server implements; the report says which value was tested.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.verdicts import ConfigError

FEEDS = ["journey", "entitydata", "document", "screening", "digitalidv", "association"]


@dataclass(frozen=True)
class Option:
    default: Any
    doc: str


PROFILE_OPTIONS: dict[str, dict[str, Option]] = {
    "feed-polling": {
        "base_path": Option("/eventnotifications/v2", "path of the feeds below the target URL"),
        "feeds": Option(FEEDS, "the feed ids the target serves (seed 002 lists six)"),
        "tenant_header": Option("X-TENANT-ID", "header naming the tenant (notes: the real API wants X-TENANT-ID)"),
        "stale_complete_status": Option(404, "status of completing an unknown or already completed batch (the seed's sentence is cut off)"),
        "problem_media_type": Option("application/problem+json", "media type of 404 problem bodies (a SHOULD)"),
        "drain_limit": Option(200, "most batches read while emptying a feed before a scenario"),
        "stateful_examples": Option(50, "Hypothesis examples of the stateful feed test"),
        "stateful_steps": Option(20, "most steps per Hypothesis example"),
        "stateful_seconds": Option(60.0, "wall-clock bound of the stateful feed test"),
    },
    "ws-progress": {
        "token_path": Option("/api/authentication/token", "token endpoint (JSON {clientId, secret, maxAge?})"),
        "jobs_path": Option("/api/compute-jobs", "job submission endpoint"),
        "socket_path": Option("/api/compute-job-messages", "WebSocket endpoint"),
        "submit_status": Option([200, 201], "accepted statuses of a job submission (documented both ways)"),
        "unknown_connection_status": Option([404, 422], "statuses refusing a submission with an unknown or closed connection-id"),
        "idle_close_code": Option(None, "close code of the idle disconnect (null: any code)"),
        "token_expiry_close_code": Option(None, "close code of the token-expiry disconnect (null: any code)"),
        "idle_counts_from": Option("last-pong", "idle time counts from 'last-pong' or from the unanswered 'ping'"),
        "settle_s": Option(0.25, "seconds to keep listening after a job's terminal status (duplicates, late messages)"),
        "job_timeout": Option(20.0, "seconds a declared job may take to reach its terminal status"),
        "jobs": Option({}, "job request bodies by name (short, failing, app-message, long); defaults are the reference server's"),
    },
    "callbacks": {},
    "webhooks": {},
}


def merge_options(profile: str, declared: dict[str, Any] | None) -> dict[str, Any]:
    """The profile's defaults overridden by the declared values; unknown names are an error."""
    known = PROFILE_OPTIONS.get(profile)
    if known is None:
        raise ConfigError(f"options: unknown profile {profile!r}")
    merged = {name: opt.default for name, opt in known.items()}
    for name, value in (declared or {}).items():
        if name not in known:
            raise ConfigError(f"options.{profile}.{name}: unknown option; known: {', '.join(sorted(known))}")
        merged[name] = value
    return merged
