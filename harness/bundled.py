"""Start the bundled reference server in-process and describe it as a target."""
from __future__ import annotations

import secrets
from typing import Any

from reference_server.app import RunningServer, start_in_thread
from reference_server.config import ServerConfig, Timings as ServerTimings
from reference_server.faults import check_names
from reference_server.protocols import declared_settings

BUNDLED_TENANTS = ("tenant-a", "tenant-b")
CLIENT_ID = "conformance-client"
OTHER_CLIENT_ID = "conformance-client-2"  # a second client: the job-ownership scenarios need two
# the window rule for a loaded 2-core CI machine running harness and server in one process
TOLERANCE = {"abs": 0.15, "rel": 0.1}
SLACK = {"abs": 0.3, "rel": 0.5}


def start_bundled(faults: tuple[str, ...] = (), db_path: str = ":memory:") -> tuple[RunningServer, dict[str, Any]]:
    """Start the reference server with fast timings; return it and the settings that describe it."""
    token = secrets.token_urlsafe(24)
    secret, other_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    per_tenant = {tenant: secrets.token_urlsafe(24) for tenant in BUNDLED_TENANTS}
    config = ServerConfig(faults=check_names(faults), timings=ServerTimings.named("fast"), db_path=db_path,
                          tokens=(token,), tenants=BUNDLED_TENANTS,
                          clients={CLIENT_ID: secret, OTHER_CLIENT_ID: other_secret},
                          token_tenants={token: BUNDLED_TENANTS,
                                         **{t: (tenant,) for tenant, t in per_tenant.items()}})
    server = start_in_thread(config)
    declared = declared_settings(config)  # the server's own choices, so they are checked exactly
    settings: dict[str, Any] = {
        "target": server.base_url,
        "control": server.control_url,
        "token": token,
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "clients": [{"client_id": OTHER_CLIENT_ID, "client_secret": other_secret}],
        "tenants": list(BUNDLED_TENANTS),
        "tenant_tokens": per_tenant,
        "timings": {**declared["timings"], "tolerance": TOLERANCE, "slack": SLACK},
        "options": declared["options"],
    }
    return server, settings
