"""ws-progress (seeds 000, 001): a REST job API beside a progress-events WebSocket; importing
this package registers its kinds."""
from harness.profile import Option, Profile, Timer

_CODE = {"type": ["integer", "null"], "minimum": 1000, "maximum": 4999}
_STATUSES = {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}, "minItems": 1}

PROFILE = Profile(
    name="ws-progress",
    title="WebSocket progress events beside a REST job API",
    seeds=("000_6924f2c736d1a1ec.txt", "001_83363d7a8c6633b5.txt"),
    options=(
        Option("token_path", "/api/authentication/token", {"type": "string", "pattern": "^/"},
               "token endpoint (JSON {clientId, secret, maxAge?})"),
        Option("token_member", None, {"type": ["string", "null"], "minLength": 1},
               "null: the token endpoint answers the bearer token as a plain string body (the notes); "
               "a name: it answers a JSON object holding the token in that member"),
        Option("jobs_path", "/api/compute-jobs", {"type": "string", "pattern": "^/"}, "job submission endpoint"),
        Option("socket_path", "/api/compute-job-messages", {"type": "string", "pattern": "^/"}, "WebSocket endpoint"),
        Option("submit_format", "json", {"enum": ["json", "multipart"]},
               "job submission body: the job request as JSON, or multipart/form-data with the request "
               "in the part named by multipart_part (the real service)"),
        Option("multipart_part", "computeJobRequest", {"type": "string", "minLength": 1},
               "name of the multipart part carrying the job request (submit_format: multipart)"),
        Option("submit_status", [200, 201], _STATUSES, "accepted statuses of a job submission (documented both ways)"),
        Option("unknown_connection_status", [404, 422], _STATUSES,
               "statuses refusing a submission with an unknown or closed connection-id"),
        Option("not_owner_status", [403, 404], _STATUSES,
               "statuses refusing a client access to another client's job (REST, or naming its socket)"),
        Option("update_token_ack", None, {"type": ["string", "null"], "minLength": 1},
               "messageType of the server's acknowledgement of UPDATE_TOKEN (checked against the envelope "
               "only, and it must arrive), or null: UPDATE_TOKEN is not acknowledged"),
        Option("app_message_type", "SOLVER_CALLBACK", {"type": ["string", "null"], "minLength": 1},
               "appMessageType of the app-message job's APP_MESSAGE (null: any)"),
        Option("idle_close_code", None, _CODE, "close code of the idle disconnect (null: any code)"),
        Option("token_expiry_close_code", None, _CODE, "close code of the token-expiry disconnect (null: any code)"),
        Option("idle_counts_from", "last-pong", {"enum": ["last-pong", "ping"]},
               "idle time counts from 'last-pong' or from the unanswered 'ping'"),
        Option("settle_s", 0.25, {"type": "number", "minimum": 0, "maximum": 60},
               "seconds to keep listening after a job's terminal status (duplicates, late messages)"),
        Option("job_timeout", 20.0, {"type": "number", "exclusiveMinimum": 0},
               "seconds a declared job may take to reach its terminal status"),
        Option("refusal_wait_s", 1.0, {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
               "seconds to wait for what may not come: a close after a malformed frame, events of "
               "another client's job"),
        Option("jobs", {}, {"type": "object", "additionalProperties": False,
                            "properties": {k: {"type": "object"} for k in ("short", "failing", "app-message", "long")}},
               "job request bodies by name (short, failing, app-message, long); defaults are the reference server's"),
    ),
    timers=(
        Timer("ping_interval", 30.0, "seconds between the server's pings"),
        Timer("idle_timeout", 300.0, "no pong for this long: the socket is idle and closed (seed 001: five minutes)"),
        Timer("token_lifetime", 900.0, "bearer token lifetime (seed 001: default 15 minutes)"),
        Timer("app_message_timeout", 60.0, "an APP_MESSAGE unanswered this long fails the job (notes: 60 s)"),
    ),
    parameters={
        "jobs": {"type": "array", "items": {"enum": ["short", "failing", "app-message", "long"]}},
        "job": {"enum": ["short", "failing", "app-message", "long"]},
        "read_lines": {"type": "integer", "minimum": 1, "maximum": 1000},
        "ahead_lines": {"type": "integer", "minimum": 1, "maximum": 1000},
        "pause_s": {"type": "number", "minimum": 0, "maximum": 60},
    },
)

from harness.profiles.ws_progress import app_messages, handshake, jobs, ownership, subscribe, timers  # noqa: E402,F401
