"""ws-progress scenarios against the bundled reference server: the declared options of issue 9
(UPDATE_TOKEN acknowledgement, token body, submission format), the credential rule, the two-client
SKIP and the cleanup of every job a scenario starts."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from harness.catalog import Scenario, catalog
from harness.runner import Result, run_scenario
from harness.session import RunSession
from harness.settings import from_namespace
from harness.target import Target
from harness.verdicts import Verdict
from reference_server.profiles import ws_progress


def scenario(sid: str) -> Scenario:
    return next(s for s in catalog() if s.id == sid)


def run(sid: str, *faults: str, options: dict[str, Any] | None = None, **settings: Any) -> Result:
    if options:
        settings["options"] = {"ws-progress": options}
    session = RunSession(settings=settings, faults=faults)
    try:
        return session.run(scenario(sid))
    finally:
        session.stop()


@pytest.fixture
def bundled() -> Iterator[RunSession]:
    session = RunSession(settings={})
    session.start()
    yield session
    session.stop()


def unfinished_jobs(session: RunSession) -> list[str]:
    registry = session._server._runner.app[ws_progress.REGISTRY_KEY]
    return [job.id for job in list(registry.jobs.values()) if not job.terminal]


def test_a_declared_acknowledgement_passes_and_an_undeclared_one_fails() -> None:
    assert run("ws-message-schema").verdict is Verdict.PASS  # the bundled server acks, declared
    undeclared = run("ws-message-schema", options={"update_token_ack": None})
    assert undeclared.verdict is Verdict.FAIL and undeclared.failure is not None
    assert "TOKEN_UPDATED" in json.dumps(undeclared.failure.observed)
    missing = run("ws-message-schema", "ws-update-token-no-ack")
    assert missing.verdict is Verdict.FAIL and missing.failure is not None
    assert missing.failure.name == "update-token-acknowledged"


def test_credentials_never_go_to_another_origin() -> None:
    result = run("ws-rest-get-delete", "ws-results-url-foreign-origin")
    assert result.verdict is Verdict.WARN and result.failure is not None
    assert result.failure.name == "credentials-stay-at-origin"
    assert str(result.failure.observed).startswith("http://localhost:")
    assert not [e for e in result.evidence.exchanges if e["url"].startswith("http://localhost")]


def test_a_declared_trusted_origin_gets_the_request(bundled: RunSession) -> None:
    assert bundled.target is not None
    foreign = bundled.target.base_url.replace("127.0.0.1", "localhost")
    assert not bundled.target.trusts(foreign + "/x")
    assert replace(bundled.target, trusted_origins=(foreign,)).trusts(foreign + "/api/compute-jobs/x/results")


def test_ownership_scenarios_skip_with_one_client(bundled: RunSession) -> None:
    assert bundled.target is not None
    one: Target = replace(bundled.target, clients=())
    for sid in ("rest", "subscribe", "app-message", "connection-id"):
        result = run_scenario(scenario("ws-job-owner-" + sid), one)
        assert result.verdict is Verdict.SKIP and "two declared clients" in result.reason


def test_every_job_a_scenario_starts_is_finished_or_deleted(bundled: RunSession) -> None:
    for sid in ("ws-subscribe-replay", "ws-delete-running", "ws-job-owner-subscribe", "ws-job-submit-errors"):
        assert bundled.run(scenario(sid)).verdict is Verdict.PASS, sid
        assert unfinished_jobs(bundled) == [], sid


def test_a_scenario_that_does_not_pass_deletes_its_job_too() -> None:
    session = RunSession(settings={}, faults=("ws-subscribe-any-client",))
    try:
        result = session.run(scenario("ws-job-owner-subscribe"))  # its long job runs on when it ends
        assert result.verdict is Verdict.WARN and unfinished_jobs(session) == []
        assert any("cleanup: DELETE of unfinished job" in n for n in result.evidence.notes)
    finally:
        session.stop()


def test_json_and_multipart_submissions() -> None:
    multipart = run("ws-status-lifecycle")
    assert multipart.verdict is Verdict.PASS
    posted = [e for e in multipart.evidence.exchanges if e["method"] == "POST" and e["url"].endswith("/compute-jobs")]
    assert posted and all(e["request_headers"]["Content-Type"].startswith("multipart/form-data") for e in posted)
    as_json = run("ws-status-lifecycle", options={"submit_format": "json"})
    assert as_json.verdict is Verdict.PASS
    assert run("ws-status-lifecycle", "ws-multipart-part-ignored").verdict is Verdict.FAIL


def test_a_token_in_a_json_object_needs_its_member_declared() -> None:
    assert run("ws-token-issue", "ws-token-json-object").verdict is Verdict.FAIL
    assert run("ws-event-routing", "ws-token-json-object").verdict is Verdict.FAIL  # not ERROR
    assert run("ws-token-issue", "ws-token-json-object", options={"token_member": "token"}).verdict is Verdict.PASS


def test_second_clients_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFORMANCE_CLIENTS", json.dumps([{"client_id": "b", "client_secret": "sb-secret"}]))
    assert from_namespace({})["clients"] == [{"client_id": "b", "client_secret": "sb-secret"}]
