"""ws-progress profile (seeds 000, 001): REST job API plus the Progress Events WebSocket.

Routes: ``POST /api/authentication/token``, ``POST /api/compute-jobs``,
``GET|DELETE /api/compute-jobs/{id}``, ``GET .../results``, ``GET .../run-log`` and the socket
``GET /api/compute-job-messages``. Jobs and tokens live in :mod:`ws_jobs`, the socket in
:mod:`ws_socket`. docs/ws-progress-jobs.md is the vendor-facing description of the job body.
"""
from __future__ import annotations

import hmac
import uuid
from typing import Any

from aiohttp import BodyPartReader, web

from reference_server.config import ServerConfig
from reference_server.contract import ref
from reference_server.faults import Fault
from reference_server.protocols import ServerProtocol
from reference_server.json_bodies import JsonError, json_integer, loads
from reference_server.problems import bearer_token, problem, problem_response
from reference_server.profiles.ws_job_request import job_request_schema, parse_job_request
from reference_server.profiles.ws_jobs import Job, JobRegistry
from reference_server.profiles.ws_socket import GOING_AWAY, handle_socket

PROFILE = "ws-progress"
TOKEN_PATH = "/api/authentication/token"
JOBS_PATH = "/api/compute-jobs"
SOCKET_PATH = "/api/compute-job-messages"
REGISTRY_KEY: web.AppKey[JobRegistry] = web.AppKey("ws_progress_registry", JobRegistry)


def _fault(name: str, description: str) -> Fault:
    return Fault(name, PROFILE, description)


FAULTS: list[Fault] = [
    _fault("ws-no-connection-id", "the 101 response carries no connection-id header"),
    _fault("ws-connection-id-reused", "every socket gets the same connection-id"),
    _fault("ws-no-pings", "the server never sends pings"),
    _fault("ws-no-idle-close", "idle sockets are never closed"),
    _fault("ws-idle-close-early", "idle sockets are closed at half the idle timeout"),
    _fault("ws-wrong-pong-accepted", "any pong counts as a sign of life, its data is not checked"),
    _fault("ws-token-expiry-ignored", "sockets never close when their token expires"),
    _fault("ws-update-token-ignored", "UPDATE_TOKEN is accepted but the socket still closes at the first token's expiry"),
    _fault("ws-update-token-unchecked", "an invalid UPDATE_TOKEN token is accepted and extends the socket"),
    _fault("ws-expired-token-accepted", "the handshake accepts expired tokens"),
    _fault("ws-handshake-no-auth", "the handshake accepts a missing or wrong token"),
    _fault("ws-token-bad-credentials", "the token endpoint accepts any secret"),
    _fault("ws-runlog-gap", "one line number is skipped in the RUNLOG_UPDATED ranges (after the first batch)"),
    _fault("ws-runlog-total-wrong", "RUNLOG_COMPLETED totalLines is one short"),
    _fault("ws-status-out-of-order", "EXECUTING is sent before QUEUED"),
    _fault("ws-two-terminal-statuses", "the terminal status (COMPLETED, FAILED, CANCELLED) is sent twice"),
    _fault("ws-events-leak", "job events are sent to every open socket"),
    _fault("ws-missing-message-payload", "status messages lack messagePayload: their fields sit at top level"),
    _fault("ws-unknown-connection-accepted", "a submission naming an unknown or closed connection-id is accepted"),
    _fault("ws-app-message-timeout-ignored", "an unanswered APP_MESSAGE does not fail the job: it goes on to COMPLETED"),
    _fault("ws-app-message-response-ignored", "APP_MESSAGE_RESPONSE is ignored: the job fails at the timeout"),
    _fault("ws-subscribe-no-replay", "SUBSCRIBE answers CURRENT_JOB_STATUS but replays no run-log lines"),
    _fault("ws-subscribe-ignored", "SUBSCRIBE gets no CURRENT_JOB_STATUS, no replay and no routing"),
    _fault("ws-get-status-stale", "GET of a job always reports QUEUED"),
    _fault("ws-delete-ignored", "DELETE answers 204 but the job stays (GET still 200)"),
    _fault("ws-duplicate-id-accepted", "a second submission with an existing job id is accepted"),
    _fault("ws-jobs-no-auth", "job submission accepts a missing bearer token"),
    _fault("ws-results-unavailable", "the resultsUrl of a finished job answers 409, as if still running"),
    _fault("ws-malformed-frame-crash", "a non-JSON frame closes every open socket with 1011"),
    _fault("ws-no-permessage-deflate", "the permessage-deflate extension is refused"),
    _fault("ws-old-connection-routes", "a submission naming a closed socket's connection-id is accepted"),
    # issue 9: behaviours the suite did not check before
    _fault("ws-connection-id-per-token", "the connection-id is derived from the bearer token: two sockets "
           "opened with one token share it"),
    _fault("ws-interrupt-solve-ignored", "APP_MESSAGE_RESPONSE with interruptSolve: true lets the job go on "
           "to COMPLETED"),
    _fault("ws-subscribe-no-live-events", "SUBSCRIBE answers and replays, but the job's later events do not "
           "reach the subscribing socket"),
    _fault("ws-delete-running-continues", "DELETE of a running job forgets it (GET 404) but does not stop it: "
           "no CANCELLED, it runs on to COMPLETED"),
    _fault("ws-runlog-url-short", "GET runLogUrl omits the last run-log line"),
    _fault("ws-app-message-type-wrong", "APP_MESSAGE carries appMessageType INTSOL instead of SOLVER_CALLBACK"),
    _fault("ws-token-json-object", "the token endpoint answers {\"token\": ...} as JSON, not the token as a "
           "plain string"),
    _fault("ws-job-rest-any-client", "any client's token may GET, DELETE, fetch the results and run log of "
           "another client's job"),
    _fault("ws-subscribe-any-client", "a socket may SUBSCRIBE to another client's job"),
    _fault("ws-app-message-any-client", "a socket may answer another client's APP_MESSAGE"),
    _fault("ws-connection-id-any-client", "a submission may name another client's socket in connection-id"),
    _fault("ws-update-token-no-ack", "UPDATE_TOKEN is not acknowledged, although the server declares its "
           "acknowledgement (TOKEN_UPDATED)"),
    _fault("ws-results-url-foreign-origin", "resultsUrl is an absolute URL on another origin (localhost for "
           "127.0.0.1, and the other way round)"),
    _fault("ws-multipart-part-ignored", "a multipart submission's computeJobRequest part is not read: the job "
           "runs with the server's defaults, under an id the server makes up"),
]

_JSON_TYPES = ("application/json",)
MULTIPART_PART = "computeJobRequest"  # notes: the real service takes multipart with this part
MAX_JOB_REQUEST = 1024 * 1024


def _registry(request: web.Request) -> JobRegistry:
    return request.app[REGISTRY_KEY]


def _unauthorized() -> web.Response:
    return problem(401, "a valid, unexpired bearer token is required",
                   headers={"WWW-Authenticate": 'Bearer realm="compute"'})


def _authorized(request: web.Request) -> bool:
    return _registry(request).tokens.valid(bearer_token(request))


def _own_job(request: web.Request) -> Job | None:
    """The job named in the path if the caller's client submitted it: another client's job is
    answered as unknown (404), so ids do not leak."""
    registry = _registry(request)
    job = registry.jobs.get(request.match_info["id"])
    if job is None or job.owner == registry.tokens.client(bearer_token(request)) \
            or registry.fault("ws-job-rest-any-client"):
        return job
    return None


async def _json_body(request: web.Request) -> tuple[Any, web.Response | None]:
    try:
        return loads(await request.read(), _registry(request).config.limits.json_depth), None
    except JsonError as exc:
        return None, problem(400, f"the body is {exc}")


async def issue_token(request: web.Request) -> web.Response:
    registry = _registry(request)
    body, error = await _json_body(request)
    if error:
        return error
    if not isinstance(body, dict) or not isinstance(body.get("clientId"), str) \
            or not isinstance(body.get("secret"), str):
        return problem(422, "expected {clientId: string, secret: string, maxAge?: integer}")
    max_age = body.get("maxAge")
    if max_age is not None:  # an integer as JSON Schema has it: 3064 and 3064.0 alike
        max_age = json_integer(max_age)
        if max_age is None or max_age < 1:
            return problem(422, "maxAge must be a positive integer (seconds)")
    known = registry.config.clients.get(body["clientId"])
    if known is None or not (registry.fault("ws-token-bad-credentials")
                             or hmac.compare_digest(known.encode(), body["secret"].encode())):
        return problem(401, "unknown clientId or wrong secret")
    lifetime = registry.config.timings.token_lifetime
    if max_age is not None:
        lifetime = min(float(max_age), lifetime)
    token = registry.tokens.issue(lifetime, body["clientId"])
    if registry.fault("ws-token-json-object"):
        return web.json_response({"token": token})
    return web.Response(text=token, content_type="text/plain")


async def _multipart_body(request: web.Request) -> tuple[Any, web.Response | None]:
    """The JSON of the ``computeJobRequest`` part of a multipart/form-data submission."""
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name != MULTIPART_PART:
                continue
            if _registry(request).fault("ws-multipart-part-ignored"):
                return {"id": f"unread-{uuid.uuid4().hex}"}, None
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > MAX_JOB_REQUEST:
                    return None, problem(413, f"the {MULTIPART_PART} part is larger than {MAX_JOB_REQUEST} bytes")
            return loads(bytes(data), _registry(request).config.limits.json_depth), None
    except Exception:  # whatever aiohttp's multipart reader or the JSON parser refuses: the client's 400
        return None, problem(400, f"a malformed multipart body, or a {MULTIPART_PART} part that is not JSON")
    return None, problem(422, f"a multipart submission needs a {MULTIPART_PART} part (the job request as JSON)")


async def submit_job(request: web.Request) -> web.Response:
    registry = _registry(request)
    if not _authorized(request) and not registry.fault("ws-jobs-no-auth"):
        return _unauthorized()
    ctype = request.content_type.lower()
    if ctype == "multipart/form-data":
        body, error = await _multipart_body(request)
    elif ctype in _JSON_TYPES or ctype.endswith("+json"):
        body, error = await _json_body(request)
    else:
        return problem(415, "the job request must be application/json (or a +json type), or "
                            f"multipart/form-data with a {MULTIPART_PART} part")
    if error:
        return error
    try:
        job_request = parse_job_request(body, registry.config)
    except ValueError as exc:
        return problem(422, str(exc))
    connection_id = request.headers.get("connection-id")
    owner = registry.tokens.client(bearer_token(request))
    if connection_id is not None and not registry.connection_accepted(connection_id, owner):
        return problem(422, "connection-id names no open socket of this client")
    if job_request.id in registry.jobs and not registry.fault("ws-duplicate-id-accepted"):
        return problem(409, f"a job with id {job_request.id!r} exists")
    job = registry.submit(job_request, connection_id, owner)
    if registry.fault("ws-results-url-foreign-origin"):
        host = "127.0.0.1" if request.url.host == "localhost" else "localhost"
        job.results_origin = f"{request.url.scheme}://{host}:{request.url.port}"
    status = registry.config.submit_status
    headers = {"Location": f"{JOBS_PATH}/{job.id}"} if status == 201 else None
    return web.json_response(job.view(), status=status, headers=headers)


async def get_job(request: web.Request) -> web.Response:
    registry = _registry(request)
    if not _authorized(request):
        return _unauthorized()
    job = _own_job(request)
    if job is None:
        return problem(404, "no such job")
    return web.json_response(job.view("QUEUED" if registry.fault("ws-get-status-stale") else None))


async def delete_job(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _unauthorized()
    job = _own_job(request)
    if job is None or not _registry(request).delete(job.id):
        return problem(404, "no such job")
    return web.Response(status=204)


async def get_results(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _unauthorized()
    registry = _registry(request)
    job = _own_job(request)
    if job is None:
        return problem(404, "no such job")
    if not job.terminal or job.result is None or registry.fault("ws-results-unavailable"):
        return problem(409, f"the job is {job.status}: results exist once it has finished")
    return web.json_response({"computeJobId": job.id, "status": job.status, "result": job.result})


async def get_run_log(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _unauthorized()
    job = _own_job(request)
    if job is None:
        return problem(404, "no such job")
    lines = job.lines[:-1] if _registry(request).fault("ws-runlog-url-short") else job.lines
    return web.Response(text="".join(line + "\n" for line in lines), content_type="text/plain")


async def socket(request: web.Request) -> web.StreamResponse:
    return await handle_socket(request, _registry(request))


def setup(app: web.Application, config: ServerConfig) -> None:
    registry = JobRegistry(config)
    app[REGISTRY_KEY] = registry
    app.router.add_post(TOKEN_PATH, issue_token)
    app.router.add_post(JOBS_PATH, submit_job)
    app.router.add_get(JOBS_PATH + "/{id}", get_job)
    app.router.add_delete(JOBS_PATH + "/{id}", delete_job)
    app.router.add_get(JOBS_PATH + "/{id}/results", get_results)
    app.router.add_get(JOBS_PATH + "/{id}/run-log", get_run_log)
    app.router.add_get(SOCKET_PATH, socket)

    async def on_shutdown(app: web.Application) -> None:
        registry.close_all(GOING_AWAY, "server shutting down")
        await registry.shutdown()

    async def on_cleanup(app: web.Application) -> None:
        await registry.shutdown()

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {str(code): problem_response("problem details (RFC 9457)") for code in codes}


def openapi_paths(config: ServerConfig | None = None) -> dict[str, Any]:
    job_json = {"application/json": {"schema": ref("ws-progress/job")}}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        TOKEN_PATH: {"post": {
            "summary": "Generate a bearer token", "security": [],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": ref("ws-progress/token-request")}}},
            "responses": {"200": {"description": "the bearer token",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_problem_responses(400, 401, 422)}}},
        JOBS_PATH: {"post": {
            "summary": "Submit a job; events go to the socket named by connection-id (see /asyncapi.json)",
            "parameters": [{"name": "connection-id", "in": "header", "required": False,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": job_request_schema()},
                "multipart/form-data": {
                    "schema": {"type": "object", "required": [MULTIPART_PART], "additionalProperties": False,
                               "properties": {MULTIPART_PART: job_request_schema()}},
                    "encoding": {MULTIPART_PART: {"contentType": "application/json"}}}}},
            "responses": {"200": {"description": "submitted", "content": job_json},
                          "201": {"description": "submitted (Location header)", "content": job_json},
                          **_problem_responses(400, 401, 409, 413, 415, 422)}}},
        JOBS_PATH + "/{id}": {
            "get": {"summary": "Job status", "parameters": id_param,
                    "responses": {"200": {"description": "the job", "content": job_json},
                                  **_problem_responses(401, 404)}},
            "delete": {"summary": "Cancel and delete a job", "parameters": id_param,
                       "responses": {"204": {"description": "deleted"},
                                     **_problem_responses(401, 404)}}},
        JOBS_PATH + "/{id}/results": {"get": {
            "summary": "Results of a finished job", "parameters": id_param,
            "responses": {"200": {"description": "{computeJobId, status, result}",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **_problem_responses(401, 404, 409)}}},
        JOBS_PATH + "/{id}/run-log": {"get": {
            "summary": "Run log lines so far", "parameters": id_param,
            "responses": {"200": {"description": "one line per line",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_problem_responses(401, 404)}}},
        SOCKET_PATH: {"get": {
            "summary": "Progress Events WebSocket (101 with a connection-id header); its messages: /asyncapi.json",
            "description": "An RFC 6455 upgrade; any other GET is 400.",
            "parameters": [
                {"name": "Upgrade", "in": "header", "required": True,
                 "schema": {"type": "string", "enum": ["websocket"]}},
                {"name": "Connection", "in": "header", "required": True,
                 "schema": {"type": "string", "enum": ["Upgrade"]}},
                {"name": "Sec-WebSocket-Version", "in": "header", "required": True,
                 "schema": {"type": "string", "enum": ["13"]}},
                {"name": "Sec-WebSocket-Key", "in": "header", "required": True,
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9+/]{21}[AQgw]==$"}}],
            "responses": {"101": {"description": "switching protocols",
                                  "headers": {"connection-id": {"schema": {"type": "string"}}}},
                          **_problem_responses(401)}}},
    }


def declared(config: ServerConfig) -> dict[str, Any]:
    t = config.timings
    return {
        "timings": {"ping_interval": t.ping_interval, "idle_timeout": t.idle_timeout,
                    "token_lifetime": t.token_lifetime, "app_message_timeout": t.app_message_timeout},
        "options": {"idle_close_code": config.idle_close_code,
                    "token_expiry_close_code": config.token_expiry_close_code,
                    "submit_status": [config.submit_status],
                    "unknown_connection_status": [422], "job_timeout": 5.0,
                    # issue 9: the reference server's choices where the sources are silent
                    "update_token_ack": config.update_token_ack, "submit_format": "multipart",
                    "not_owner_status": [404], "app_message_type": "SOLVER_CALLBACK", "token_member": None,
                    "refusal_wait_s": 0.5},
    }


PROTOCOL = ServerProtocol(PROFILE, tuple(FAULTS), setup, openapi_paths, declared)
