"""ws-progress job requests: the validated body of ``POST /api/compute-jobs``.

The contract is schemas/ws-progress/job-request.schema.json: a job names its own ``id``, and
``$defs/conformanceJob`` holds the reference server's extension with its bounds and defaults.
docs/ws-progress-jobs.md is the vendor-facing description. A body is checked against the contract,
then for the one thing this server adds: an id must not be only dots (``.`` and ``..`` would make
the job's URLs unreachable). Integers follow JSON Schema: 5 and 5.0 are the same integer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from reference_server.config import ServerConfig
from reference_server.contract import errors, ref, schema

SCHEMA = "ws-progress/job-request"
NOT_ONLY_DOTS = "[^.]"  # with the contract's [A-Za-z0-9_.-]{1,60}: one character at least not a dot
Json = dict[str, Any]


@dataclass(frozen=True)
class JobRequest:
    """A validated POST /api/compute-jobs body."""

    id: str
    run_log_messages: bool
    run_log_lines: int
    line_interval: float  # seconds
    outcome: Literal["COMPLETED", "FAILED"]
    app_messages: int
    start_delay: float  # seconds
    body: Json
    batch_lines: int = 0  # most lines per RUNLOG_UPDATED; 0: whatever accumulated


@lru_cache(maxsize=1)
def _defaults() -> Json:
    """The contract's defaults of the conformanceJob members (runLogLines 5, outcome COMPLETED ...)."""
    members = schema(SCHEMA)["$defs"]["conformanceJob"]["properties"]
    return {name: member["default"] for name, member in members.items() if "default" in member}


def parse_job_request(body: Any, config: ServerConfig) -> JobRequest:
    """The request, or ValueError saying what is invalid (the caller answers 422)."""
    found = errors(SCHEMA, body)
    if found:
        raise ValueError("; ".join(found))
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", body["id"]):  # the schema's ^...$ (Python's $ lets "id\n" by)
        raise ValueError("id must be 1 to 60 characters of [A-Za-z0-9_.-]")
    if not re.search(NOT_ONLY_DOTS, body["id"]):
        raise ValueError("id must not be only dots: . and .. would make the job's URLs unreachable")
    job = {**_defaults(), "lineIntervalMs": round(config.timings.runlog_line_interval * 1000),
           **body.get("conformanceJob", {})}
    return JobRequest(
        id=body["id"], run_log_messages=body.get("runLogMessages", True),
        run_log_lines=int(job["runLogLines"]),  # int(): 5.0 is the integer 5
        line_interval=int(job["lineIntervalMs"]) / 1000,
        outcome=job["outcome"],
        app_messages=int(job["appMessages"]),
        start_delay=int(job["startDelayMs"]) / 1000,
        body=body,
        batch_lines=int(job["runLogBatchLines"]),
    )


def job_request_schema() -> Json:
    """The body's schema in the OpenAPI document: the contract, and what this server adds to it."""
    return {"allOf": [ref(SCHEMA), {"properties": {"id": {
        "pattern": NOT_ONLY_DOTS,
        "description": "not only dots: . and .. would make the job's URLs unreachable"}}}]}
