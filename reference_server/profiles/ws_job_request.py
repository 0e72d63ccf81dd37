"""ws-progress job requests: the validated body of ``POST /api/compute-jobs``.

docs/ws-progress-jobs.md is the vendor-facing description. Integers follow JSON Schema: 5 and 5.0
are the same integer. A job id is 1 to 60 characters of [A-Za-z0-9_.-], and not only dots:
``.`` and ``..`` would make the job's URLs unreachable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from reference_server.config import ServerConfig
from reference_server.json_bodies import json_integer

JOB_ID_PATTERN = r"[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*"  # one character at least not a dot
JOB_ID_LENGTH = 60
Json = dict[str, Any]
# integer fields: (object, field) -> (lowest, highest); the parser and the OpenAPI schema share it
INTEGER_BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("execution", "threads"): (1, 256),
    ("execution", "priority"): (-100, 100),
    ("conformanceJob", "runLogLines"): (0, 10_000),
    ("conformanceJob", "lineIntervalMs"): (0, 60_000),
    ("conformanceJob", "appMessages"): (0, 100),
    ("conformanceJob", "startDelayMs"): (0, 600_000),
    ("conformanceJob", "runLogBatchLines"): (0, 10_000),
}


@dataclass(frozen=True)
class JobRequest:
    """A validated POST /api/compute-jobs body."""

    id: str | None
    run_log_messages: bool
    run_log_lines: int
    line_interval: float  # seconds
    outcome: Literal["COMPLETED", "FAILED"]
    app_messages: int
    start_delay: float  # seconds
    body: Json
    batch_lines: int = 0  # most lines per RUNLOG_UPDATED; 0: whatever accumulated


def _int(value: Any, name: str, low: int, high: int) -> int:
    number = json_integer(value)
    if number is None:
        raise ValueError(f"{name} must be an integer")
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return number


def _bounded(parent: Json, parent_name: str, name: str, default: int) -> int:
    low, high = INTEGER_BOUNDS[(parent_name, name)]
    return _int(parent.get(name, default), f"{parent_name}.{name}", low, high)


def _object(body: Json, name: str) -> Json:
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object")
    return value


def parse_job_request(body: Any, config: ServerConfig) -> JobRequest:
    """The request, or ValueError naming the first invalid field (the caller answers 422)."""
    if not isinstance(body, dict):
        raise ValueError("the job request must be a JSON object")
    job_id = body.get("id")
    if job_id is not None and (not isinstance(job_id, str) or len(job_id) > JOB_ID_LENGTH
                               or not re.fullmatch(JOB_ID_PATTERN, job_id)):
        raise ValueError("id must be 1 to 60 characters of [A-Za-z0-9_.-], not only dots")
    run_log_messages = body.get("runLogMessages", True)
    if not isinstance(run_log_messages, bool):
        raise ValueError("runLogMessages must be a boolean")
    execution = _object(body, "execution")
    for name in ("threads", "priority"):
        if name in execution:
            _bounded(execution, "execution", name, 0)
    solver = _object(body, "solver")
    if "action" in solver and not isinstance(solver["action"], str):
        raise ValueError("solver.action must be a string")
    callbacks = solver.get("callbacks", [])
    if not isinstance(callbacks, list) or not all(isinstance(c, str) for c in callbacks):
        raise ValueError("solver.callbacks must be an array of strings")
    job = _object(body, "conformanceJob")
    interval_ms = job.get("lineIntervalMs", round(config.timings.runlog_line_interval * 1000))
    outcome = job.get("outcome", "COMPLETED")
    if outcome not in ("COMPLETED", "FAILED"):
        raise ValueError("conformanceJob.outcome must be COMPLETED or FAILED")
    return JobRequest(
        id=job_id, run_log_messages=run_log_messages,
        run_log_lines=_bounded(job, "conformanceJob", "runLogLines", 5),
        line_interval=_bounded(job, "conformanceJob", "lineIntervalMs", interval_ms) / 1000,
        outcome=outcome,
        app_messages=_bounded(job, "conformanceJob", "appMessages", 0),
        start_delay=_bounded(job, "conformanceJob", "startDelayMs", 0) / 1000,
        body=body,
        batch_lines=_bounded(job, "conformanceJob", "runLogBatchLines", 0),
    )


def job_request_schema() -> Json:
    """The JSON Schema of the body parse_job_request accepts (unknown members are ignored)."""
    def integers(parent: str) -> Json:
        return {name: {"type": "integer", "minimum": low, "maximum": high}
                for (owner, name), (low, high) in INTEGER_BOUNDS.items() if owner == parent}

    return {"type": "object", "description": "see docs/ws-progress-jobs.md", "properties": {
        "id": {"type": ["string", "null"], "minLength": 1, "maxLength": JOB_ID_LENGTH,
               "pattern": f"^{JOB_ID_PATTERN}$"},
        "runLogMessages": {"type": "boolean"},
        "execution": {"type": "object", "properties": integers("execution")},
        "solver": {"type": "object", "properties": {
            "action": {"type": "string"},
            "callbacks": {"type": "array", "items": {"type": "string"}}}},
        "conformanceJob": {"type": "object", "properties": {
            **integers("conformanceJob"), "outcome": {"enum": ["COMPLETED", "FAILED"]}}},
    }}
