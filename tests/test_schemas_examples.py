"""The protocol schemas in schemas/{feed-polling,ws-progress,callbacks,webhooks}/.

Every schema is a valid draft 2020-12 schema with a path-derived $id, every embedded example
validates, the seed documents' own examples validate, and typical broken messages are rejected.
Validation runs like the harness does: one referencing.Registry of all schemas, format checking on.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
PROFILES = ("feed-polling", "ws-progress", "callbacks", "webhooks")
BASE_ID = "https://progress-conformance.dev/schemas"
SUFFIX = ".schema.json"


def _load() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for profile in PROFILES:
        for path in sorted((SCHEMAS / profile).glob(f"*{SUFFIX}")):
            found[f"{profile}/{path.name[: -len(SUFFIX)]}"] = json.loads(
                path.read_text(encoding="utf-8"))
    return found


ALL = _load()
REGISTRY: Registry[Any] = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
    for schema in ALL.values() if "$id" in schema
)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(ALL[name], registry=REGISTRY,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(name: str, document: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator(name).iter_errors(document)]


# -- (1) the schemas themselves ---------------------------------------------------------------

REQUIRED = {
    "feed-polling": {"batch", "event-notification", "problem", "control-events-request",
                     "control-events-response"},
    "ws-progress": {"envelope", "job-status-updated", "runlog-updated", "runlog-completed",
                    "app-message", "current-job-status", "update-token", "app-message-response",
                    "subscribe", "server-message", "client-message", "token-request",
                    "job-request", "job", "problem"},
    "callbacks": {"execution-request", "execution-response", "execution-status",
                  "callback-default-payload", "retry-settings"},
    "webhooks": {"pipeline-run-request", "progress", "result", "error"},
}


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_has_the_required_schemas(profile: str) -> None:
    present = {name.split("/", 1)[1] for name in ALL if name.startswith(profile + "/")}
    assert REQUIRED[profile] <= present, sorted(REQUIRED[profile] - present)


@pytest.mark.parametrize("name", sorted(ALL))
def test_schema_is_valid_and_identified(name: str) -> None:
    schema = ALL[name]
    Draft202012Validator.check_schema(schema)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("$id") == f"{BASE_ID}/{name}{SUFFIX}"
    assert isinstance(schema.get("title"), str) and schema["title"].strip()
    assert isinstance(schema.get("description"), str) and schema["description"].strip()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_ref_resolves(name: str) -> None:
    resolver = REGISTRY.resolver(base_uri=ALL[name]["$id"])
    for ref in _refs(ALL[name]):
        resolver.lookup(ref)  # raises referencing.exceptions.Unresolvable


# -- (2) embedded examples --------------------------------------------------------------------

EXAMPLES = [
    pytest.param(name, example, id=f"{name}[{index}]")
    for name, schema in sorted(ALL.items())
    for index, example in enumerate(schema.get("examples", []))
]


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= len(ALL)


@pytest.mark.parametrize(("name", "example"), EXAMPLES)
def test_embedded_example_is_valid(name: str, example: Any) -> None:
    assert errors(name, example) == []


# -- (3) the seeds' own examples --------------------------------------------------------------

# Seed 002 "HTTP RESPONSE", verbatim, minus the two "......... {Other Event in Batch}" entries.
SEED_002_BATCH = """
{
"batchId": "1642925639481",
"notifications": [
{
"id": "25faa70a-5b09-5ad8-a427-a034f31a5dd6",
"eventType": "journey:taskcompleted",
"when": "2022-01-23T08:13:56.8404437+00:00",
"tenantId": "bded51d4-598e-4079-9cf6-43e74144b415",
"causationId": "62fb805f-8386-40fb-8811-b104b08694c2",
"correlationId": "7995c851-45f6-45d7-bdfd-189d395cb929",
"relativeUrl": "journeyquery/api/journey-instance/165dcd7a-0912-4577-81d6-dbad57dd8d9a/task/91841917-de23-4d64-9dbc-2d0eaab2efbf",
"payload": {
"TaskId": "91841917-de23-4d64-9dbc-2d0eaab2efbf",
"TaskName": "Resolve Pre-Screening Matches",
"TaskType": "ScreeningMatchResolutionTask"
}
}
],
"moreAvailable": true
}
"""

# Seed 002 "HTTP 404 ERROR RESPONSE", verbatim.
SEED_002_404 = """
{
"type": "https://tools.ietf.org/html/rfc7231#section-6.5.4",
"title": "Not Found",
"status": 404,
"traceId": "|85de4cb9-4f927c81b52e03ff."
}
"""

# Seed 001 UPDATE_TOKEN message, verbatim.
SEED_001_UPDATE_TOKEN = """
{
    "messageType": "UPDATE_TOKEN", 
    "messagePayload": {
       "token": "<token_associated_with_the_socket>" 
    }
}
"""

SEED_CASES = [
    pytest.param("feed-polling/batch", SEED_002_BATCH, id="seed002-batch"),
    pytest.param("feed-polling/problem", SEED_002_404, id="seed002-404-problem"),
    pytest.param("ws-progress/problem", SEED_002_404, id="seed002-404-as-ws-problem"),
    pytest.param("ws-progress/update-token", SEED_001_UPDATE_TOKEN, id="seed001-update-token"),
    pytest.param("ws-progress/client-message", SEED_001_UPDATE_TOKEN, id="seed001-client-message"),
    pytest.param("ws-progress/envelope", SEED_001_UPDATE_TOKEN, id="seed001-envelope"),
]


@pytest.mark.parametrize(("name", "text"), SEED_CASES)
def test_seed_example_is_valid(name: str, text: str) -> None:
    assert errors(name, json.loads(text)) == []


def test_seed_batch_notification_is_valid_alone() -> None:
    batch = json.loads(SEED_002_BATCH)
    assert errors("feed-polling/event-notification", batch["notifications"][0]) == []


# -- (4) broken variants ----------------------------------------------------------------------

def _batch() -> dict[str, Any]:
    return json.loads(SEED_002_BATCH)


def _notification() -> dict[str, Any]:
    return copy.deepcopy(_batch()["notifications"][0])


def _with(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of document with the member at dotted path set to value (or removed for _DROP)."""
    result = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return result


_DROP = object()

JOB_STATUS = {"computeJobId": "job-1", "messageType": "JOB_STATUS_UPDATED",
              "messagePayload": {"status": "EXECUTING", "executionAttempts": 1}}
RUNLOG = {"computeJobId": "job-1", "messageType": "RUNLOG_UPDATED",
          "messagePayload": {"startLine": 1, "endLine": 1, "lines": ["hello"]}}
UPDATE_TOKEN = json.loads(SEED_001_UPDATE_TOKEN)
JOB_REQUEST = {"id": "job-1", "runLogMessages": True, "execution": {"threads": 4, "priority": 0},
               "solver": {"action": "OPTIMIZE", "callbacks": []}}
PROGRESS = {"jobId": "batch:1", "timestamp": "2018-01-16T14:47:04.142Z", "pipeline": "batch",
            "level": "info", "status": "active", "data": {"progress": 50, "details": "50%"}}
CALLBACK_REQUEST = {"object_name": "JOBP.MY_MITIGATION_WORKFLOW",
                    "callback": {"type": "http",
                                 "http": {"url": "https://myserver:8888/jobStatus"}}}
PROBLEM = json.loads(SEED_002_404)

BROKEN = [
    pytest.param("feed-polling/batch",
                 _with(_batch(), "notifications", [_notification() for _ in range(11)]),
                 "$.notifications", id="batch-11-notifications"),
    pytest.param("feed-polling/batch", _with(_batch(), "notifications", []),
                 "$.notifications", id="batch-empty-notifications"),
    pytest.param("feed-polling/batch", _with(_batch(), "notifications.0.extra", 1),
                 "$.notifications[0]", id="batch-notification-extra-field"),
    pytest.param("feed-polling/event-notification", _with(_notification(), "extra", "x"),
                 "$", id="notification-extra-field"),
    pytest.param("feed-polling/batch", _with(_batch(), "batchId", _DROP),
                 "$", id="batch-missing-batchId"),
    pytest.param("feed-polling/batch", _with(_batch(), "moreAvailable", "true"),
                 "$.moreAvailable", id="batch-moreAvailable-string"),
    pytest.param("feed-polling/batch", _with(_batch(), "batch", "extra"),
                 "$", id="batch-extra-field"),
    pytest.param("feed-polling/event-notification", _with(_notification(), "when", "yesterday"),
                 "$.when", id="notification-bad-when"),
    pytest.param("feed-polling/event-notification",
                 _with(_notification(), "when", "2022-01-23 08:13:56"),
                 "$.when", id="notification-when-without-offset"),
    pytest.param("feed-polling/event-notification", _with(_notification(), "when", None),
                 "$.when", id="notification-null-when"),
    pytest.param("feed-polling/event-notification",
                 _with(_notification(), "eventType", "taskcompleted"),
                 "$.eventType", id="notification-eventType-without-colon"),
    pytest.param("feed-polling/event-notification", _with(_notification(), "tenantId", _DROP),
                 "$", id="notification-missing-tenantId"),
    pytest.param("feed-polling/problem", _with(PROBLEM, "status", _DROP),
                 "$", id="problem-without-status"),
    pytest.param("feed-polling/problem", _with(PROBLEM, "status", "404"),
                 "$.status", id="problem-status-string"),
    pytest.param("ws-progress/job-status-updated", _with(JOB_STATUS, "messagePayload", _DROP),
                 "$", id="job-status-updated-without-payload"),
    pytest.param("ws-progress/server-message", _with(JOB_STATUS, "messagePayload", _DROP),
                 "$", id="server-message-job-status-without-payload"),
    pytest.param("ws-progress/job-status-updated",
                 _with(JOB_STATUS, "messagePayload.status", "RUNNING"),
                 "$.messagePayload.status", id="job-status-unknown-status"),
    pytest.param("ws-progress/job-status-updated",
                 _with(JOB_STATUS, "messagePayload.executionAttempts", -1),
                 "$.messagePayload.executionAttempts", id="job-status-negative-attempts"),
    pytest.param("ws-progress/job-status-updated", _with(JOB_STATUS, "messageType", "RUNLOG_UPDATED"),
                 "$.messageType", id="job-status-wrong-messageType"),
    pytest.param("ws-progress/runlog-updated", _with(RUNLOG, "messagePayload.startLine", "1"),
                 "$.messagePayload.startLine", id="runlog-updated-string-startLine"),
    pytest.param("ws-progress/server-message", _with(RUNLOG, "messagePayload.startLine", "1"),
                 "$.messagePayload.startLine", id="server-message-runlog-string-startLine"),
    pytest.param("ws-progress/runlog-updated", _with(RUNLOG, "messagePayload.endLine", 0),
                 "$.messagePayload.endLine", id="runlog-updated-endLine-0"),
    pytest.param("ws-progress/server-message", _with(RUNLOG, "messageType", "RUNLOG_ADDED"),
                 "$.messageType", id="server-message-unknown-type"),
    pytest.param("ws-progress/server-message", UPDATE_TOKEN,
                 "$.messageType", id="server-message-client-type"),
    pytest.param("ws-progress/update-token", _with(UPDATE_TOKEN, "messagePayload.token", ""),
                 "$.messagePayload.token", id="update-token-empty-token"),
    pytest.param("ws-progress/client-message", _with(UPDATE_TOKEN, "messagePayload.token", ""),
                 "$.messagePayload.token", id="client-message-empty-token"),
    pytest.param("ws-progress/envelope", {"messagePayload": {}},
                 "$", id="envelope-without-messageType"),
    pytest.param("ws-progress/job-request", _with(JOB_REQUEST, "id", "j" * 61),
                 "$.id", id="job-request-id-61-chars"),
    pytest.param("ws-progress/job-request", _with(JOB_REQUEST, "id", "job 1"),
                 "$.id", id="job-request-id-with-space"),
    pytest.param("ws-progress/job-request", _with(JOB_REQUEST, "execution.threads", 0),
                 "$.execution.threads", id="job-request-threads-0"),
    pytest.param("ws-progress/job-request", _with(JOB_REQUEST, "execution.threads", 257),
                 "$.execution.threads", id="job-request-threads-257"),
    pytest.param("ws-progress/job-request", _with(JOB_REQUEST, "execution.priority", 101),
                 "$.execution.priority", id="job-request-priority-101"),
    pytest.param("webhooks/progress", _with(PROGRESS, "status", "running"),
                 "$.status", id="webhook-progress-unknown-status"),
    pytest.param("webhooks/progress", _with(PROGRESS, "data.progress", "half"),
                 "$.data.progress", id="webhook-progress-non-numeric-progress"),
    pytest.param("webhooks/progress", _with(PROGRESS, "timestamp", "16/01/2018"),
                 "$.timestamp", id="webhook-progress-bad-timestamp"),
    pytest.param("webhooks/pipeline-run-request",
                 {"name": "batch", "options": {"progressVerbosityLevel": "verbose"}},
                 "$.options.progressVerbosityLevel", id="pipeline-run-unknown-verbosity"),
    pytest.param("callbacks/execution-request", _with(CALLBACK_REQUEST, "object_name", _DROP),
                 "$", id="callback-request-without-object_name"),
    pytest.param("callbacks/execution-request", _with(CALLBACK_REQUEST, "callback.type", "smtp"),
                 "$.callback.type", id="callback-request-type-not-http"),
    pytest.param("callbacks/execution-request", {**CALLBACK_REQUEST, "inputs": {"VAR1": {"nested": 1}}},
                 "$.inputs.VAR1", id="callback-request-input-not-a-scalar"),
    pytest.param("callbacks/callback-default-payload", {"run_id": "2303535", "status": 1900},
                 "$", id="callback-payload-run_id-string"),
    pytest.param("callbacks/retry-settings", {"attempts": 3, "interval": 30, "mode": 3},
                 "$.mode", id="retry-settings-mode-3"),
]


@pytest.mark.parametrize(("name", "document", "where"), BROKEN)
def test_broken_variant_is_rejected(name: str, document: Any, where: str) -> None:
    found = errors(name, document)
    assert found, f"{name} accepted a broken document: {document!r}"
    # ...and for the intended reason: an error is reported at the broken member.
    assert any(error.startswith(where + ": ") for error in found), found


# -- the disagreements the notes record are accepted both ways --------------------------------

BOTH_WAYS = [
    pytest.param("feed-polling/event-notification",
                 {**_notification(), "id": None, "eventType": None, "tenantId": None,
                  "causationId": None, "correlationId": None, "relativeUrl": None,
                  "payload": None},
                 id="notification-nulls"),
    pytest.param("webhooks/progress", _with(PROGRESS, "data.progress", "33.33"),
                 id="progress-as-string"),
    pytest.param("webhooks/progress", _with(PROGRESS, "data.progress", 33.33),
                 id="progress-as-number"),
    pytest.param("ws-progress/job-status-updated",
                 _with(JOB_STATUS, "messagePayload.resultsUrl", "/results"), id="resultsUrl"),
    pytest.param("ws-progress/job-status-updated",
                 _with(JOB_STATUS, "messagePayload.resultUrl", "/results"), id="resultUrl"),
    pytest.param("callbacks/callback-default-payload",
                 {"runid": "0001005016", "object_type": "SCRI", "execution_status": "1900"},
                 id="runid-string"),
    pytest.param("callbacks/callback-default-payload", {"run_id": 2303535, "status": 1900},
                 id="run_id-integer"),
    pytest.param("callbacks/execution-response", {"run_id": 2303535}, id="response-int"),
    pytest.param("callbacks/execution-response", {"run_id": "0001005016"}, id="response-str"),
]


@pytest.mark.parametrize(("name", "document"), BOTH_WAYS)
def test_declared_alternatives_are_accepted(name: str, document: Any) -> None:
    assert errors(name, document) == []


def test_every_format_the_schemas_use_is_checked() -> None:
    """Only the needed format checkers are loaded (import time); each one still rejects bad values."""
    import re

    from harness.schemas import FORMATS, registry
    used = set()
    for path in (Path(__file__).resolve().parents[1] / "schemas").rglob("*.json"):
        used |= set(re.findall(r'"format":\s*"([a-z-]+)"', path.read_text(encoding="utf-8")))
    assert used <= set(FORMATS)
    from jsonschema import FormatChecker
    checker = FormatChecker(formats=FORMATS)
    for fmt, good, wrong in (("date-time", "2018-01-16T14:47:04.142Z", "2018-13-45T99:00:00Z"),
                             ("uri", "https://x.test/a", "no scheme here"),
                             ("uri-reference", "/relative/path", "http://bad host/")):
        assert checker.conforms(good, fmt) and not checker.conforms(wrong, fmt), fmt
    assert registry() is not None
