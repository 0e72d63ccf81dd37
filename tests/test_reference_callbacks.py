"""The reference server's callbacks profile over real loopback HTTP: executions, the callback and
its retry schedule, the settings hook, restarts, and faults that change what a receiver sees."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_server.app import build_app, start_in_thread
from reference_server.config import ServerConfig, Timings
from reference_server.profiles.callback_delivery import retry_delay
from reference_server.profiles.callbacks import PROTOCOL, contract_errors
from tests.callback_loopback import (BASELINE, FAIL, LONG, OK, TOKEN, Api, Receiver, config,
                                     gaps, receiving, serving, within)


@pytest.fixture(scope="module")
def rx() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def shared() -> Iterator[Api]:
    with serving(config()) as api:
        yield api


@pytest.fixture
def api(shared: Api) -> Api:
    shared.settings(**BASELINE)
    return shared


# -- the schedule, pure ------------------------------------------------------------------------

def test_retry_delay_follows_the_seed() -> None:
    assert [retry_delay(2, 30, n) for n in (1, 2, 3)] == [30, 120, 270]  # seed 003's numbers
    assert [retry_delay(1, 30, n) for n in (1, 2, 3)] == [30, 60, 90]
    assert [retry_delay(0, 0.5, n) for n in (1, 2, 3)] == [0.5, 0.5, 0.5]
    with pytest.raises(ValueError):
        retry_delay(0, 30, 0)
    with pytest.raises(ValueError):
        retry_delay(3, 30, 1)


# -- submission, status, auth, isolation -------------------------------------------------------

def test_execution_runs_and_reports_status(api: Api) -> None:
    long_run = api.run(LONG)
    running = api.status(long_run).json()
    assert running["status"] == 1550 or 1600 <= running["status"] <= 1799, running
    assert running["end_time"] is None
    run_id = api.run(OK)
    ended = api.wait_ended(run_id)
    assert ended["status"] == 1900 and ended["status_text"] == "ENDED_OK - ended normally"
    assert ended["run_id"] == run_id and ended["name"] == OK and ended["end_time"]
    failed = api.wait_ended(api.run(FAIL))
    assert failed["status"] == 1800 and failed["status_text"].startswith("ENDED_NOT_OK")
    for view in (running, ended, failed):
        assert contract_errors("execution-status", view) == []
    assert api.run(OK) > run_id


def test_auth_and_client_isolation(api: Api) -> None:
    run_id = api.run(OK)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        r = httpx.post(f"{api.http.base_url}/ae/api/v1/100/executions", json={"object_name": OK},
                       headers=headers)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        assert httpx.get(f"{api.http.base_url}/ae/api/v1/100/executions/{run_id}",
                         headers=headers).status_code == 401
    assert api.status(run_id, client="200").status_code == 404
    assert api.status(run_id + 1000).status_code == 404
    assert api.status(run_id, client="abc").status_code == 404
    assert api.status(run_id).status_code == 200


@pytest.mark.parametrize(("body", "status"), [
    ({"alias": "X"}, 400),
    ({"object_name": OK, "callback": {"type": "smtp", "http": {"url": "http://a/"}}}, 400),
    ({"object_name": OK, "callback": {"type": "http", "http": {"url": "ftp://a/x"}}}, 400),
    ({"object_name": OK, "callback": {"type": "http", "http": {"url": "http://a/",
                                                               "headers": {"X": "a\r\nB: c"}}}}, 400),
    ({"object_name": OK, "callback": {"type": "http", "http": {"url": "http://a/",
                                                               "headers": {"X": "a\x01"}}}}, 400),
    ({"object_name": OK, "callback": {"type": "http", "http": {"url": "http://a/", "headers": {
        f"X-{i}": "v" for i in range(33)}}}}, 400),
    ({"object_name": OK, "callback": {"type": "http", "http": {"url": "http://a/",
                                                               "headers": {"X": "v" * 4097}}}}, 400),
    ({"object_name": OK, "callback": {"type": "http", "http": {"url": "http://a/",
                                                               "headers": {"Bad Name": "v"}}}}, 400),
    ({"object_name": OK, "execution_option": "twice"}, 400),
    ({"object_name": OK, "inputs": {"VAR1": {"nested": 1}}}, 400),
    ({"object_name": "SCRI.NO.SUCH.OBJECT"}, 404),
], ids=["no-object_name", "type-smtp", "url-ftp", "header-crlf", "header-control-char",
        "33-headers", "header-value-4097", "header-name-space", "execution_option", "inputs-nested",
        "unknown-object"])
def test_invalid_submissions_are_problems(api: Api, body: dict[str, Any], status: int) -> None:
    r = api.http.post("/ae/api/v1/100/executions", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == status


def test_non_json_bodies(api: Api) -> None:
    r = api.http.post("/ae/api/v1/100/executions", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert api.http.post("/ae/api/v1/100/executions", content=b"x").status_code == 415


# -- the callback ------------------------------------------------------------------------------

def test_one_callback_when_ok_and_when_not_ok(api: Api, rx: Receiver) -> None:
    ok_url, fail_url, recurring_url = rx.url(), rx.url(), rx.url()
    ok, fail = api.run(OK, ok_url), api.run(FAIL, fail_url)
    recurring = api.run(OK, recurring_url, execution_option="recurring")
    for url, run_id, obj, status in ((ok_url, ok, OK, 1900), (fail_url, fail, FAIL, 1800)):
        got = rx.settle(url, quiet=0.6)
        assert [a.body for a in got] == [{"run_id": run_id, "name": obj, "status": status}]
        assert ("Content-Type", "application/json") in got[0].headers
        assert api.status(run_id).json()["status"] == status  # the callback came after the end
        assert contract_errors("callback-default-payload", got[0].body) == []
    assert api.wait_ended(recurring)["status"] == 1900
    assert rx.settle(recurring_url, at_least=0, quiet=0.6) == []


def test_headers_are_copied_exactly(api: Api, rx: Receiver) -> None:
    headers = {"Authorization": "Bearer 435345f1232a34543b34fff", "X-Mixed-Case": "Value With CAPS",
               "x-lower": "a;b=c, d"}
    url = rx.url()
    api.run(OK, url, headers=headers)
    got = rx.settle(url, quiet=0.2)[0].headers
    for pair in headers.items():
        assert pair in got, got


SEED_TEMPLATE = {
    "runid": "&$RUNID#", "object_type": "&$OBJECT_TYPE#", "execution_status": "&$EXECUTION_STATUS#",
    "execution_status_text": "&$EXECUTION_STATUS_TEXT#", "ae_system": "&$SYSTEM#",
    "client_number": "&$CLIENT#", "client_description": "&$CLIENT_DESC#",
    "user_department": "&$USER#/&$DEPARTMENT#", "archive_key1": "&$ARCHIVE_KEY1#",
    "last_error_message": "&$LAST_ERROR_MESSAGE#", "last_error_code": "&$LAST_ERROR_CODE#",
    "last_error_insert": "&$LAST_ERROR_INSERT#", "object_variable1": "&VAR1#",
    "object_variable2": "&VAR2#", "unknown": ["&$NO_SUCH#", "x&UNSET#y"], "n": 7,
}


def test_template_is_filled(api: Api, rx: Receiver) -> None:
    api.settings(template=SEED_TEMPLATE)
    url = rx.url()
    run_id = api.run(FAIL, url, inputs={"VAR1": 17842312, "VAR2": "a text value"})
    body = rx.settle(url, quiet=0.2)[0].body
    assert body == {
        "runid": f"{run_id:010d}", "object_type": "SCRI", "execution_status": "1800",
        "execution_status_text": "ENDED_NOT_OK - aborted", "ae_system": "AUTOMIC",
        "client_number": "0100", "client_description": "Test client",
        "user_department": "CONFORMANCE/QA", "archive_key1": "Conformance",
        "last_error_message": "U00011409 job failed", "last_error_code": "00011409",
        "last_error_insert": "exit code 3", "object_variable1": "17842312",
        "object_variable2": "a text value", "unknown": ["", "xy"], "n": 7}


def test_runid_default_payload(api: Api, rx: Receiver) -> None:
    api.settings(default_payload="runid")
    url = rx.url()
    run_id = api.run(OK, url)
    body = rx.settle(url, quiet=0.2)[0].body
    assert body == {"runid": f"{run_id:010d}", "object_type": "SCRI", "execution_status": "1900"}
    assert contract_errors("callback-default-payload", body) == []


# -- retries -----------------------------------------------------------------------------------

GAP_ERRORS: list[float] = []


def test_retry_modes_gaps_and_attempts(api: Api, rx: Receiver) -> None:
    urls = {}
    for mode in (0, 1, 2):
        api.settings(mode=mode, interval=0.2, attempts=3)
        urls[mode] = rx.url(["500"] * 10)
        api.run(OK, urls[mode])
    for mode, url in urls.items():
        got = rx.settle(url, at_least=4, quiet=1.0)
        assert len(got) == 4, f"mode {mode}: 1 try + 3 retries, got {len(got)}"
        expected = [retry_delay(mode, 0.2, n) for n in (1, 2, 3)]
        for gap, want in zip(gaps(got), expected):
            GAP_ERRORS.append(gap - want)
            assert within(gap, want), (mode, gaps(got), expected)
    errors = sorted(abs(e) for e in GAP_ERRORS)
    print(f"retry gap error vs schedule: p50 {statistics.median(errors) * 1000:.1f} ms, "
          f"max {errors[-1] * 1000:.1f} ms over {len(errors)} gaps")


@pytest.mark.parametrize(("attempts", "plan", "count"), [
    (0, ["500"] * 5, 1), (2, ["500"] * 5, 3), (3, ["500"], 2)])
def test_attempts_are_exact(api: Api, rx: Receiver, attempts: int, plan: list[str], count: int) -> None:
    api.settings(attempts=attempts, interval=0.1)
    url = rx.url(plan)
    api.run(FAIL, url)
    assert len(rx.settle(url, at_least=count, quiet=0.5)) == count


@pytest.mark.parametrize("failure", ["500", "404", "slow", "close", "redirect"])
def test_each_failure_kind_is_retried(api: Api, rx: Receiver, failure: str) -> None:
    api.settings(attempts=2, interval=0.2, timeout=0.3)
    url = rx.url([failure])
    api.run(OK, url)
    got = rx.settle(url, at_least=2, quiet=0.6)
    assert len(got) == 2 and got[0].body == got[1].body
    # the delay counts from the failure: after the timeout for a slow receiver
    assert within(gaps(got)[0], 0.2 + (0.3 if failure == "slow" else 0.0)), gaps(got)


def test_hanging_receiver_delays_no_one(api: Api, rx: Receiver) -> None:
    assert _prompt_beside_a_hanging_receiver(api, rx)


def _prompt_beside_a_hanging_receiver(api: Api, rx: Receiver) -> bool:
    api.settings(attempts=0, timeout=1.0)
    api.run(OK, rx.url(["slow"]))
    time.sleep(0.05)
    start, url = time.monotonic(), rx.url()
    api.run(OK, url)
    got = rx.settle(url, quiet=0.1)
    return got[0].at - start < 0.7


def test_https_only(api: Api, rx: Receiver) -> None:
    api.settings(https_only=True, attempts=0)
    r = api.submit(OK, rx.url())
    assert r.status_code == 400 and "https" in r.json()["detail"]
    assert api.submit(OK, "https://127.0.0.1:1/cb").status_code == 200


def test_settings_control_hook(api: Api) -> None:
    url = api.control + "/callbacks/settings"
    assert api.http.get(url).json() == BASELINE
    changed = api.settings(mode=2, template={"a": "&$RUNID#"})
    assert changed == {**BASELINE, "mode": 2, "template": {"a": "&$RUNID#"}}
    assert contract_errors("callback-settings", changed) == []
    for bad in ({"mode": 3}, {"attempts": -1}, {"interval": "30"}, {"timeout": 0}, {"retries": 1}, [1]):
        assert api.http.put(url, json=bad).status_code == 400, bad
    assert httpx.put(url, json={"mode": 0}).status_code == 401
    assert api.http.get(url).json()["mode"] == 2


def test_pending_delivery_survives_a_restart(tmp_path: Path, rx: Receiver) -> None:
    restartable = config(db_path=str(tmp_path / "cb.db"), options={"callbacks": {"interval": 1.0}})
    url = rx.url(["500"])
    first = start_in_thread(restartable)
    try:
        run_id = Api(first.base_url, first.control_url).run(OK, url)
        assert len(rx.settle(url, quiet=0.2)) == 1
    finally:
        first.stop()
    second = start_in_thread(restartable)
    try:
        api = Api(second.base_url, second.control_url)
        got = rx.settle(url, at_least=2, quiet=0.3, timeout=5.0)
        assert [a.body["run_id"] for a in got] == [run_id, run_id]
        assert within(gaps(got)[0], 1.0)
        assert api.status(run_id).json()["status"] == 1900
        assert api.run(OK) > run_id
    finally:
        second.stop()


def test_declared_settings_and_bad_options() -> None:
    fast, spec = PROTOCOL.declared(config()), PROTOCOL.declared(config(timings=Timings.named("spec")))
    assert fast["timings"] == {"retry_interval": 0.5, "delivery_timeout": 1.0, "execution_time": 2.0,
                               "quiet_window": 1.5}
    assert spec["timings"]["retry_interval"] == 30 and spec["timings"]["delivery_timeout"] == 10
    assert fast["options"]["retry"] == {"attempts": 3, "interval": 0.5, "mode": 0}
    assert fast["options"]["objects"]["not_ok"] == FAIL
    with pytest.raises(ValueError):
        build_app(config(options={"callbacks": {"mode": 5}}))


# -- faults: the same scenario on a clean and on a faulty server -------------------------------

def _gap_check(mode: int, interval: float, failures: int, check: Callable[[list[float]], bool]
               ) -> Callable[[Api, Receiver], bool]:
    def observe(api: Api, rx: Receiver) -> bool:
        api.settings(mode=mode, interval=interval, attempts=failures)
        url = rx.url(["500"] * failures)
        api.run(OK, url)
        return check(gaps(rx.settle(url, at_least=failures + 1, quiet=1.0)))
    return observe


def _count(plan: list[str], attempts: int = 2, obj: str = OK, quiet: float = 0.5,
           **settings: Any) -> Callable[[Api, Receiver], int]:
    def observe(api: Api, rx: Receiver) -> int:
        api.settings(attempts=attempts, interval=0.1, **settings)
        url = rx.url(plan)
        api.run(obj, url)
        return len(rx.settle(url, at_least=1, quiet=quiet))
    return observe


def _body(obj: str = OK, headers: dict[str, str] | None = None, **settings: Any
          ) -> Callable[[Api, Receiver], Any]:
    def observe(api: Api, rx: Receiver) -> Any:
        api.settings(**settings)
        url = rx.url()
        api.run(obj, url, headers=headers)
        got = rx.settle(url, quiet=0.2)[0]
        return {k: v for k, v in got.headers if k.startswith("X-")} if headers else got.body["status"]
    return observe


def _recurring(api: Api, rx: Receiver) -> int:
    url = rx.url()
    api.wait_ended(api.run(OK, url, execution_option="recurring"))
    return len(rx.settle(url, at_least=0, quiet=0.4))


def _redirect_retried(api: Api, rx: Receiver) -> int:
    api.settings(attempts=1, interval=0.1)
    url = rx.url(["redirect"])
    api.run(OK, url)
    return len(rx.settle(url, at_least=1, quiet=0.4))


def _accepted(https_only: bool, header: str) -> Callable[[Api, Receiver], int]:
    def observe(api: Api, rx: Receiver) -> int:
        api.settings(https_only=https_only, attempts=0)
        return api.submit(OK, rx.url(), headers={"X-H": header}).status_code
    return observe


def _leak(api: Api, rx: Receiver) -> int:
    return api.status(api.run(OK), client="200").status_code


def _polled_after_end(api: Api, rx: Receiver) -> Any:
    run_id = api.run(OK)
    time.sleep(1.0)  # the OK object ends after 0.2 s (fast)
    return api.status(run_id).json()["status"]


FAULT_CASES: dict[str, tuple[Callable[[Api, Receiver], Any], Any, Any]] = {
    "cb-status-stuck-running": (_polled_after_end, 1900, 1550),
    # fault: (observation, on a clean server, with the fault)
    "cb-constant-always": (_gap_check(1, 0.3, 2, lambda g: g[1] > 0.45), True, False),
    "cb-doubling": (_gap_check(2, 0.3, 1, lambda g: g[0] < 0.45), True, False),
    "cb-interval-ignores-failures": (_gap_check(2, 0.2, 2, lambda g: g[1] > 0.5), True, False),
    "cb-attempts-off-by-one": (_count(["500"] * 5, attempts=1), 2, 3),
    "cb-no-retry-on-timeout": (_count(["slow"], timeout=0.3, quiet=0.7), 2, 1),
    "cb-retry-after-2xx": (_count([], quiet=0.6), 1, 2),
    "cb-4xx-not-retried": (_count(["404"]), 2, 1),
    "cb-double-callback": (_count([]), 1, 2),
    "cb-recurring-callback": (_recurring, 0, 2),
    "cb-callback-before-end": (_body(), 1900, 1550),
    "cb-wrong-status": (_body(FAIL), 1800, 1900),
    "cb-placeholders-unfilled": (_body(template={"status": "&$EXECUTION_STATUS#"}), "1900",
                                 "&$EXECUTION_STATUS#"),
    "cb-headers-dropped": (_body(headers={"X-Key": "Ab"}), {"X-Key": "Ab"}, {}),
    "cb-header-values-lowercased": (_body(headers={"X-Key": "Ab"}), {"X-Key": "Ab"}, {"X-Key": "ab"}),
    "cb-blocking-delivery": (_prompt_beside_a_hanging_receiver, True, False),
    "cb-crlf-header-accepted": (_accepted(False, "a\r\nX-Injected: 1"), 400, 200),
    "cb-https-only-ignored": (_accepted(True, "v"), 400, 200),
    "cb-client-leak": (_leak, 404, 200),
    "cb-redirect-followed": (_redirect_retried, 2, 1),
}


def test_every_fault_has_a_case() -> None:
    assert set(FAULT_CASES) == {f.name for f in PROTOCOL.faults}


@pytest.mark.parametrize("fault", sorted(FAULT_CASES))
def test_fault_changes_what_is_observed(fault: str, rx: Receiver) -> None:
    observe, clean, faulty = FAULT_CASES[fault]

    def on(server_config: ServerConfig) -> Any:
        with serving(server_config) as api:
            api.settings(**BASELINE)
            return observe(api, rx)

    with ThreadPoolExecutor(2) as pool:
        seen_clean, seen_faulty = pool.map(on, [config(), config(fault)])
    assert (seen_clean, seen_faulty) == (clean, faulty)
