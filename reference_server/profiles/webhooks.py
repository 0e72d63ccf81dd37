"""webhooks profile (seed 004): the exec API of a pipeline system that calls the client back.

Routes below ``/api/v1``: ``POST /exec/raw`` (a pipeline descriptor; 200 ``{"jobId"}``),
``GET /exec/status/{jobId}`` (the last progress payload), ``GET /exec/results/{jobId}`` (the
result payload; 400 until the run has ended), ``POST /exec/stop`` (``{"jobId", "reason"?}``).
Errors are ``{"error": {"code", "message"}}``; other methods answer 405 with ``Allow``.

Auth: the seed requires none, so requests without ``Authorization`` are served; a request that
does carry one must carry ``Bearer <t>`` with t in ``config.tokens`` (else 401).

Runs live in :mod:`pipelines`, outbound webhooks in :mod:`webhook_delivery`; ``config.options
["webhooks"]`` may override the delivery settings (attempts, retry_delay, delivery_timeout,
throttle_window, concurrency). docs/webhooks-pipelines.md describes the pipelines for vendors.
"""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from aiohttp import web

from reference_server.config import ServerConfig
from reference_server.contract import ref
from reference_server.feed_access import authorized
from reference_server.faults import Fault
from reference_server.profiles.pipelines import EVENT_LEVELS, DescriptorError, Pipelines, parse_descriptor
from reference_server.profiles.webhook_delivery import TIMINGS, Delivery, DeliverySettings, Webhooks
from reference_server.protocols import ServerProtocol

PROFILE = "webhooks"
BASE_PATH = "/api/v1"
RAW_PATH = BASE_PATH + "/exec/raw"
STOP_PATH = BASE_PATH + "/exec/stop"
STATUS_PATH = BASE_PATH + "/exec/status/{jobId}"
RESULTS_PATH = BASE_PATH + "/exec/results/{jobId}"
PIPELINES_KEY: web.AppKey[Pipelines] = web.AppKey("webhooks_pipelines", Pipelines)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _fault(name: str, description: str) -> Fault:
    return Fault(name, PROFILE, description)


FAULTS: list[Fault] = [
    _fault("wh-verbosity-inverted", "a progress webhook is sent when the event is at most as severe as the requested level"),
    _fault("wh-verbosity-ignored", "every progress event is sent, whatever the requested level"),
    _fault("wh-default-level-debug", "without progressVerbosityLevel the level is debug, not info"),
    _fault("wh-unknown-level-accepted", "an unknown progressVerbosityLevel is accepted (and taken as trace)"),
    _fault("wh-level-missing", "progress payloads carry no level"),
    _fault("wh-progress-string", "progress is sent as a string (\"33.33\") although a number is declared"),
    _fault("wh-progress-backwards", "the completed event's progress is read before the last task is counted: lower than the previous one"),
    _fault("wh-timestamps-backwards", "the completed event is stamped with the last task's start time, before the previous event"),
    _fault("wh-no-throttle", "every progress event is sent: no throttle"),
    _fault("wh-terminal-throttled", "the terminal progress goes through the throttle and is dropped when held at the run's end"),
    _fault("wh-no-result-on-failure", "a failed run sends no result webhook"),
    _fault("wh-no-result-on-stop", "a stopped run sends no result webhook"),
    _fault("wh-missing-batch-entry", "the result (webhook and GET) lacks the last batch entry"),
    _fault("wh-duplicate-result-differs", "the result is sent twice, the second time with storage references instead of results"),
    _fault("wh-failed-run-reported-completed", "a run whose tasks failed ends completed (errors only in its entries)"),
    _fault("wh-retry-on-404", "a 404 answer is retried like a 5xx"),
    _fault("wh-no-retry-on-503", "5xx answers are not retried (only connection errors are)"),
    _fault("wh-no-retry-on-408", "a 408 answer is not retried"),
    _fault("wh-timeout-not-retried", "a receiver that does not answer in time is not retried"),
    _fault("wh-retry-no-delay", "retries go at once, without the retry delay"),
    _fault("wh-attempts-off-by-one", "attempts counts the retries: one attempt more than declared"),
    _fault("wh-hanging-receiver-blocks", "all webhooks go through one queue: a hanging receiver delays every run"),
    _fault("wh-content-type-text", "webhooks are POSTed as text/plain"),
    _fault("wh-status-api-stale", "GET status keeps answering the payload of the run's active event"),
    _fault("wh-results-before-end", "GET results answers 200 with partial data while the run is going"),
    _fault("wh-stop-ignored", "stop answers 200 but the run goes on"),
    _fault("wh-405-without-allow", "405 answers carry no Allow header"),
    _fault("wh-auth-ignored", "a wrong bearer token is accepted"),
]


def error(code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=code, headers=headers)


def _guarded(config: ServerConfig, handler: Handler) -> Handler:
    """No Authorization header: served (the seed has no auth); a present one must be valid."""
    async def guarded(request: web.Request) -> web.StreamResponse:
        if "Authorization" in request.headers and not authorized(request, config) \
                and "wh-auth-ignored" not in config.faults:
            return error(401, "invalid bearer token", {"WWW-Authenticate": 'Bearer realm="hkube"'})
        return await handler(request)
    return guarded


def _not_allowed(config: ServerConfig, allow: str) -> Handler:
    async def not_allowed(request: web.Request) -> web.StreamResponse:
        headers = None if "wh-405-without-allow" in config.faults else {"Allow": allow}
        return error(405, f"method {request.method} not allowed; use {allow}", headers)
    return not_allowed


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DescriptorError("the body is not valid JSON") from exc


def _pipelines(request: web.Request) -> Pipelines:
    return request.app[PIPELINES_KEY]


async def run_raw(request: web.Request) -> web.Response:
    pipelines = _pipelines(request)
    faults = pipelines.faults
    try:
        descriptor = parse_descriptor(
            await _body(request),
            default_level="debug" if "wh-default-level-debug" in faults else "info",
            unknown_level_as="trace" if "wh-unknown-level-accepted" in faults else None)
    except DescriptorError as exc:
        return error(400, str(exc))
    return web.json_response({"jobId": pipelines.submit(descriptor).job_id})


async def get_status(request: web.Request) -> web.Response:
    pipelines = _pipelines(request)
    job_id = request.match_info["jobId"]
    run = pipelines.runs.get(job_id)
    if run is None or run.progress is None:
        return error(404, f"jobId {job_id} Not Found")
    if "wh-status-api-stale" in pipelines.faults and run.active_progress is not None:
        return web.json_response(run.active_progress)
    return web.json_response(run.progress)


async def get_results(request: web.Request) -> web.Response:
    pipelines = _pipelines(request)
    job_id = request.match_info["jobId"]
    run = pipelines.runs.get(job_id)
    if run is None:
        return error(404, f"jobId {job_id} Not Found")
    if run.result is None:
        if "wh-results-before-end" in pipelines.faults:
            return web.json_response(pipelines.result_payload(run))
        return error(400, f"jobId {job_id} is {run.status}: results exist once the run has ended")
    return web.json_response(run.result)


async def stop(request: web.Request) -> web.Response:
    pipelines = _pipelines(request)
    try:
        body = await _body(request)
    except DescriptorError as exc:
        return error(400, str(exc))
    if not isinstance(body, dict) or not isinstance(body.get("jobId"), str):
        return error(400, "expected {jobId: string, reason?: string}")
    reason = body.get("reason", "stopped by the client")
    if not isinstance(reason, str):
        return error(400, "reason must be a string")
    run = pipelines.runs.get(body["jobId"])
    if run is None:
        return error(404, f"jobId {body['jobId']} Not Found")
    if run.ended:
        return error(400, f"unable to stop {run.job_id}: it is {run.status}")
    if "wh-stop-ignored" not in pipelines.faults:
        pipelines.stop(run, reason)
    return web.json_response({"message": "OK"})


def settings(config: ServerConfig) -> DeliverySettings:
    return DeliverySettings.build(config.timings.name, dict(config.options.get(PROFILE, {})))


def setup(app: web.Application, config: ServerConfig) -> None:
    delivery = Delivery(settings(config), config.faults)
    pipelines = Pipelines(config.timings.name, config.faults, Webhooks(delivery))
    app[PIPELINES_KEY] = pipelines
    for path, method, handler in ((RAW_PATH, "POST", run_raw), (STOP_PATH, "POST", stop),
                                  (STATUS_PATH, "GET", get_status), (RESULTS_PATH, "GET", get_results)):
        resource = app.router.add_resource(path)
        resource.add_route(method, _guarded(config, handler))
        resource.add_route("*", _not_allowed(config, method))

    async def on_cleanup(app: web.Application) -> None:
        await pipelines.shutdown()
        await delivery.close()

    app.on_cleanup.append(on_cleanup)


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": ref(f"webhooks/{schema}")}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "error body", "content": _json("error")} for code in codes}


def openapi_paths(config: ServerConfig | None = None) -> dict[str, Any]:
    job_id = [{"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}]
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        RAW_PATH: {"post": {
            "summary": "Run a pipeline; webhooks{progress, result} are called back", "security": [],
            "requestBody": {"required": True, "content": _json("pipeline-run-request")},
            "responses": {"200": {"description": "{jobId: '<name>:<uuid>'}", "content": {
                "application/json": {"schema": {"type": "object", "required": ["jobId"],
                                                "properties": {"jobId": {"type": "string"}}}}}},
                          **_errors(400, 401, 405)}}},
        STATUS_PATH: {"get": {"summary": "The run's last progress payload", "security": [],
                              "parameters": job_id,
                              "responses": {"200": {"description": "progress", "content": _json("progress")},
                                            **_errors(401, 404, 405)}}},
        RESULTS_PATH: {"get": {"summary": "The result payload of an ended run", "security": [],
                               "parameters": job_id,
                               "responses": {"200": {"description": "result", "content": _json("result")},
                                             **_errors(400, 401, 404, 405)}}},
        STOP_PATH: {"post": {
            "summary": "Stop a running pipeline", "security": [],
            "requestBody": {"required": True, "content": _json("stop-request")},
            "responses": {"200": ok, **_errors(400, 401, 404, 405)}}},
    }


def _descriptor(name: str, algorithm: str) -> dict[str, Any]:
    return {"name": name, "nodes": [{"nodeName": "green", "algorithmName": algorithm,
                                     "input": ["#[1,2,3]"]}]}


def declared(config: ServerConfig) -> dict[str, Any]:
    s = settings(config)
    return {
        "timings": {"retry_delay": s.retry_delay, "delivery_timeout": s.delivery_timeout,
                    "throttle_window": s.throttle_window,
                    "run_time": TIMINGS[config.timings.name]["run_time"]},
        "options": {"base_path": BASE_PATH, "verbosity_compare": "at-least", "progress_type": "number",
                    "attempts": s.attempts, "result_repeats": False,
                    "event_levels": dict(EVENT_LEVELS),
                    "pipelines": {"batch": _descriptor("batch", "green-alg"),
                                  "failing": _descriptor("failing", "fail-alg"),
                                  "slow": _descriptor("slow", "slow-alg")}},
    }


PROTOCOL = ServerProtocol(PROFILE, tuple(FAULTS), setup, openapi_paths, declared)
