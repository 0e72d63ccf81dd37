"""callbacks profile (seed 003): object executions that call the subscriber back when they end.

Routes: ``POST /ae/api/v1/{client}/executions`` (200 ``{"run_id": int}``),
``GET /ae/api/v1/{client}/executions/{run_id}`` (the status), and the control hook
``GET|PUT {control_prefix}/callbacks/settings`` (UC_CALLBACK_SETTINGS; docs/callbacks-control.md).
Executions run in :mod:`callback_executions`, callbacks are sent by :mod:`callback_delivery`,
bodies are rendered by :mod:`callback_payload`, state is kept by :mod:`callback_store`.

Request bodies are checked against schemas/callbacks/ (the contract) and then by code for what
a schema cannot say. Errors are RFC 9457 problems: 400 invalid request, 401 no or wrong bearer
token, 404 unknown client (not 1-4 digits), unknown object or a run of another client, 415 a
body that is not JSON. Settings come from ``config.options["callbacks"]`` (keys of
callback-settings.schema.json) and may be changed at run time through the control hook.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from reference_server.config import ServerConfig
from reference_server.contract import errors, ref
from reference_server.feed_access import authorized
from reference_server.faults import Fault
from reference_server.problems import problem
from reference_server.protocols import ServerProtocol
from reference_server.profiles.callback_delivery import CallbackSender, CallbackSettings
from reference_server.profiles.callback_executions import (OBJECTS, Executions,
                                                           parse_execution_request)
from reference_server.profiles.callback_store import CallbackStore

PROFILE = "callbacks"
EXECUTIONS_PATH = "/ae/api/v1/{client}/executions"
SETTINGS_PATH = "/callbacks/settings"
CLIENT = "100"


def _fault(name: str, description: str) -> Fault:
    return Fault(name, PROFILE, description)


FAULTS: list[Fault] = [
    _fault("cb-constant-always", "the retry mode is ignored: every retry waits the constant interval"),
    _fault("cb-doubling", "squared mode waits 2^n x interval instead of n^2 x interval"),
    _fault("cb-attempts-off-by-one", "one retry more than the attempts setting allows"),
    _fault("cb-no-retry-on-timeout", "a try that times out counts as delivered: no retry"),
    _fault("cb-retry-after-2xx", "a successful delivery is not recorded: the callback is sent once more"),
    _fault("cb-headers-dropped", "the request's callback headers are not copied onto the callback"),
    _fault("cb-header-values-lowercased", "callback header values are lowercased on the way out"),
    _fault("cb-recurring-callback", "recurring executions send a callback at the end of each cycle"),
    _fault("cb-double-callback", "two callbacks are sent for each execution"),
    _fault("cb-callback-before-end", "the callback is sent when the execution starts, status still running"),
    _fault("cb-placeholders-unfilled", "the template is sent with its placeholders as they are"),
    _fault("cb-wrong-status", "the callback reports 1900 ENDED_OK even for an execution that ended not ok"),
    _fault("cb-interval-ignores-failures", "n is fixed at 1: linear and squared retries wait the constant interval"),
    _fault("cb-blocking-delivery", "deliveries are serialized: one hanging receiver delays every later callback"),
    _fault("cb-crlf-header-accepted", "header values with CR or LF are accepted at submission"),
    _fault("cb-https-only-ignored", "the https_only setting is ignored: http callback URLs are accepted"),
    _fault("cb-client-leak", "a run is visible under every client, not only its own"),
    _fault("cb-4xx-not-retried", "a 4xx answer counts as delivered: only 5xx and network errors are retried"),
    _fault("cb-status-stuck-running", "the polled status stays 1550 active after the execution ended"),
    _fault("cb-redirect-followed", "redirects are followed: a 3xx leading to a 2xx counts as delivered"),
]


# -- the contract ------------------------------------------------------------------------------

def contract_errors(name: str, document: Any) -> list[str]:
    """Why ``document`` is not valid by schemas/callbacks/<name>.schema.json (``[]``: it is)."""
    return errors(f"{PROFILE}/{name}", document)


def initial_settings(config: ServerConfig) -> CallbackSettings:
    """The settings a server starts with; ValueError for invalid ``options["callbacks"]``."""
    found = contract_errors("callback-settings", config.options.get(PROFILE, {}))
    if found:
        raise ValueError(f"options[{PROFILE!r}]: " + "; ".join(found))
    return CallbackSettings.defaults(config)


# -- state and routes --------------------------------------------------------------------------

class CallbacksState:
    """The store, the sender, the executions and the current settings of one server."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.settings = initial_settings(config)
        self.store = CallbackStore(config.db_path)
        self.sender = CallbackSender(config, self.store)
        self.executions = Executions(config, self.store, self.sender)


STATE_KEY: web.AppKey[CallbacksState] = web.AppKey("callbacks_state", CallbacksState)


def _unauthorized() -> web.Response:
    return problem(401, "missing or invalid bearer token",
                   headers={"WWW-Authenticate": 'Bearer realm="automation-engine"'})


def _client(request: web.Request) -> str | None:
    client = request.match_info["client"]
    return client if client.isascii() and client.isdigit() and len(client) <= 4 else None


async def _json(request: web.Request) -> tuple[Any, web.Response | None]:
    ctype = request.content_type.lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        return None, problem(415, "the body must be application/json")
    try:
        return json.loads(await request.text()), None
    except (ValueError, UnicodeDecodeError):
        return None, problem(400, "the body is not valid JSON")


async def submit(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not authorized(request, state.config):
        return _unauthorized()
    client = _client(request)
    if client is None:
        return problem(404, "no such client: clients are numbers of 1 to 4 digits")
    body, error = await _json(request)
    if error:
        return error
    found = contract_errors("execution-request", body)
    if found:
        return problem(400, "; ".join(found))
    faults = state.config.faults
    try:
        parsed = parse_execution_request(
            body, https_only=state.settings.https_only and "cb-https-only-ignored" not in faults,
            crlf_accepted="cb-crlf-header-accepted" in faults)
    except ValueError as exc:
        return problem(400, str(exc))
    if parsed.object_name not in OBJECTS:
        return problem(404, f"object {parsed.object_name!r} does not exist in client {client}")
    execution = state.executions.submit(client, parsed, state.settings)
    return web.json_response({"run_id": execution.run_id})


async def status(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not authorized(request, state.config):
        return _unauthorized()
    client, run_id = _client(request), request.match_info["run_id"]
    view = None
    if client is not None and run_id.isascii() and run_id.isdigit():
        view = state.executions.view(client, int(run_id))
    if view is None:
        return problem(404, f"no execution {run_id} in client {client}")
    return web.json_response(view)


async def get_settings(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not authorized(request, state.config):
        return _unauthorized()
    return web.json_response(state.settings.as_json())


async def put_settings(request: web.Request) -> web.Response:
    """Test control hook: a partial update of UC_CALLBACK_SETTINGS; answers all of them."""
    state = request.app[STATE_KEY]
    if not authorized(request, state.config):
        return _unauthorized()
    body, error = await _json(request)
    if error:
        return error
    found = contract_errors("callback-settings", body)
    if found:
        return problem(400, "; ".join(found))
    state.settings = state.settings.updated(body)
    return web.json_response(state.settings.as_json())


def setup(app: web.Application, config: ServerConfig) -> None:
    initial_settings(config)  # a bad option fails at build time, not at the first request
    app.router.add_post(EXECUTIONS_PATH, submit)
    app.router.add_get(EXECUTIONS_PATH + "/{run_id}", status)
    prefix = config.control_prefix.rstrip("/")
    app.router.add_get(prefix + SETTINGS_PATH, get_settings)
    app.router.add_put(prefix + SETTINGS_PATH, put_settings)

    async def start(app: web.Application) -> None:
        app[STATE_KEY] = state = CallbacksState(config)
        await state.sender.start()

    async def stop(app: web.Application) -> None:
        state = app[STATE_KEY]
        await state.executions.shutdown()
        await state.sender.close()
        state.store.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


# -- what the harness is told ------------------------------------------------------------------

def _problems(*codes: int) -> dict[str, Any]:
    content = {"application/problem+json": {"schema": {"type": "object"}}}
    return {str(code): {"description": "problem details (RFC 9457)", "content": content}
            for code in codes}


def _schema_ref(name: str) -> dict[str, Any]:
    return ref(f"{PROFILE}/{name}")


def openapi_paths(config: ServerConfig) -> dict[str, Any]:
    client = {"name": "client", "in": "path", "required": True, "schema": {"type": "string"}}
    run_id = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    settings = {"application/json": {"schema": _schema_ref("callback-settings")}}
    prefix = config.control_prefix.rstrip("/")
    return {
        EXECUTIONS_PATH: {"post": {
            "summary": "Execute an object; an optional callback is sent when it ends",
            "parameters": [client],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _schema_ref("execution-request")}}},
            "responses": {"200": {"description": "the run id", "content": {"application/json": {
                "schema": _schema_ref("execution-response")}}}, **_problems(400, 401, 404, 415)}}},
        EXECUTIONS_PATH + "/{run_id}": {"get": {
            "summary": "Execution status (polling)", "parameters": [client, run_id],
            "responses": {"200": {"description": "the status", "content": {"application/json": {
                "schema": _schema_ref("execution-status")}}}, **_problems(401, 404)}}},
        prefix + SETTINGS_PATH: {
            "get": {"summary": "Test control hook: the callback settings in force",
                    "responses": {"200": {"description": "all settings", "content": settings},
                                  **_problems(401)}},
            "put": {"summary": "Test control hook: change some callback settings (not part of "
                               "the protocol; docs/callbacks-control.md)",
                    "requestBody": {"required": True, "content": settings},
                    "responses": {"200": {"description": "all settings", "content": settings},
                                  **_problems(400, 401, 415)}}},
    }


def declared(config: ServerConfig) -> dict[str, Any]:
    settings = initial_settings(config)
    spec = config.timings.name == "spec"
    return {
        "timings": {"retry_interval": settings.interval, "delivery_timeout": settings.timeout,
                    "execution_time": 30.0 if spec else 2.0,
                    "quiet_window": 30.0 if spec else 1.5},
        "options": {"client": CLIENT, "default_payload": settings.default_payload,
                    "attempts_include_first": False,
                    "objects": {"ok": "SCRI.CONFORMANCE.OK", "not_ok": "SCRI.CONFORMANCE.FAIL",
                                "long": "SCRI.CONFORMANCE.LONG"},
                    "retry": {"attempts": settings.attempts, "interval": settings.interval,
                              "mode": settings.mode},
                    "settings_control": True, "https_only_setting": True, "template": True},
    }


PROTOCOL = ServerProtocol(PROFILE, tuple(FAULTS), setup, openapi_paths, declared)
