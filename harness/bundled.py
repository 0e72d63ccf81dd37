"""Start the bundled reference server in-process and describe it as a target."""
from __future__ import annotations

import secrets
from typing import Any

from reference_server.app import RunningServer, start_in_thread
from reference_server.config import ServerConfig, Timings as ServerTimings
from reference_server.faults import check_names

BUNDLED_TENANTS = ("tenant-a", "tenant-b")
CLIENT_ID = "conformance-client"


def start_bundled(faults: tuple[str, ...] = (), db_path: str = ":memory:") -> tuple[RunningServer, dict[str, Any]]:
    """Start the reference server with fast timings; return it and the settings that describe it."""
    token = secrets.token_urlsafe(24)
    secret = secrets.token_urlsafe(24)
    fast = ServerTimings.named("fast")
    config = ServerConfig(faults=check_names(faults), timings=fast, db_path=db_path,
                          tokens=(token,), tenants=BUNDLED_TENANTS, clients={CLIENT_ID: secret})
    server = start_in_thread(config)
    settings: dict[str, Any] = {
        "target": server.base_url,
        "control": server.control_url,
        "token": token,
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "tenants": list(BUNDLED_TENANTS),
        "timings": {"ping_interval": fast.ping_interval, "idle_timeout": fast.idle_timeout,
                    "token_lifetime": fast.token_lifetime,
                    "app_message_timeout": fast.app_message_timeout,
                    "tolerance": 0.15, "slack": 0.6},
        "options": {
            # the reference server's own declared choices, so they are checked exactly
            "feed-polling": {"stale_complete_status": config.stale_complete_status},
            "ws-progress": {"idle_close_code": config.idle_close_code,
                            "token_expiry_close_code": config.token_expiry_close_code,
                            "submit_status": [config.submit_status],
                            "unknown_connection_status": [422], "job_timeout": 5.0},
        },
    }
    return server, settings
