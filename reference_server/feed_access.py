"""Who may call the feeds and the control hook: bearer tokens, and the tenants each token may use.

``ServerConfig.token_tenants`` binds tokens to tenants. When it is empty, every token in
``ServerConfig.tokens`` may use every tenant (a single-client test set-up). When it is not, a
token may use only the tenants listed for it, and a token it does not list may use none; its
tokens are accepted like those in ``tokens``. A call acts for the tenant its ``X-TENANT-ID``
(or the control hook's ``tenantId``) names, else for the first tenant its token may use. A tenant
the token may not use is 403. The fault fp-tenant-unbound ignores the binding.
"""
from __future__ import annotations

import hmac

from aiohttp import web

from reference_server.config import ServerConfig
from reference_server.problems import bearer_token, problem

TENANT_HEADER = "X-TENANT-ID"
UNBOUND_FAULT = "fp-tenant-unbound"


def known_token(request: web.Request, config: ServerConfig) -> str | None:
    """The configured token the request's ``Authorization: Bearer`` carries, or None."""
    token = bearer_token(request)
    if token is None:
        return None
    found = None
    for known in (*config.tokens, *config.token_tenants):
        if hmac.compare_digest(token.encode(), known.encode()):
            found = known
    return found


def authorized(request: web.Request, config: ServerConfig) -> bool:
    return known_token(request, config) is not None


def unauthorized() -> web.Response:
    return problem(401, "missing or invalid bearer token",
                   headers={"WWW-Authenticate": 'Bearer realm="eventnotifications"'})


def usable_tenants(config: ServerConfig, token: str | None) -> tuple[str, ...]:
    """The tenants ``token`` may use (None: a call let through by the fault fp-no-auth-check)."""
    if not config.token_tenants or token is None or UNBOUND_FAULT in config.faults:
        return config.tenants
    return config.token_tenants.get(token, ())


def tenant_for(request: web.Request, config: ServerConfig, token: str | None,
               named: str | None = None) -> str | web.Response:
    """The tenant the call acts for (``named``, else X-TENANT-ID, else the token's first), or
    the 403 problem to answer when it is unknown or not the token's to use."""
    usable = usable_tenants(config, token)
    tenant = named if named is not None else request.headers.get(TENANT_HEADER)
    if tenant is None:
        if not usable:
            return problem(403, "this token may use no tenant")
        return usable[0]
    if tenant not in config.tenants:
        return problem(403, "unknown tenant")
    if tenant not in usable:
        return problem(403, "this token may not use this tenant")
    return tenant
