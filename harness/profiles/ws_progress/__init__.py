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
        Option("jobs_path", "/api/compute-jobs", {"type": "string", "pattern": "^/"}, "job submission endpoint"),
        Option("socket_path", "/api/compute-job-messages", {"type": "string", "pattern": "^/"}, "WebSocket endpoint"),
        Option("submit_status", [200, 201], _STATUSES, "accepted statuses of a job submission (documented both ways)"),
        Option("unknown_connection_status", [404, 422], _STATUSES,
               "statuses refusing a submission with an unknown or closed connection-id"),
        Option("idle_close_code", None, _CODE, "close code of the idle disconnect (null: any code)"),
        Option("token_expiry_close_code", None, _CODE, "close code of the token-expiry disconnect (null: any code)"),
        Option("idle_counts_from", "last-pong", {"enum": ["last-pong", "ping"]},
               "idle time counts from 'last-pong' or from the unanswered 'ping'"),
        Option("settle_s", 0.25, {"type": "number", "minimum": 0, "maximum": 60},
               "seconds to keep listening after a job's terminal status (duplicates, late messages)"),
        Option("job_timeout", 20.0, {"type": "number", "exclusiveMinimum": 0},
               "seconds a declared job may take to reach its terminal status"),
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
        "pause_s": {"type": "number", "minimum": 0, "maximum": 60},
    },
)

from harness.profiles.ws_progress import handshake, jobs, timers  # noqa: E402,F401
