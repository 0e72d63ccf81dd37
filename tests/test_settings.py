"""One table of run settings (harness/settings.py) and the profile descriptors behind it: flags,
pytest options, config keys, secrets from the environment, errors that name the setting, and the
SHOULD-level bug of issue 6 (a check followed by code that assumed it passed)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import web

from harness.catalog import CatalogError, catalog, load_file
from harness.profile import profile_names, profiles
from harness.runner import run_scenario
from harness.settings import (SETTINGS, add_arguments, config_schema, from_namespace, load_config,
                              to_pytest_args)
from harness.target import build_target
from harness.verdicts import ConfigError, Level, Verdict
from reference_server.app import start_app_in_thread
from reference_server.protocols import protocols

ROOT = Path(__file__).resolve().parents[1]


def test_every_profile_package_has_a_descriptor_the_server_and_the_scenarios_agree_with() -> None:
    assert set(profiles()) == set(profile_names())
    assert {p.name for p in protocols()} == set(profile_names())
    assert {p.name for p in (ROOT / "scenarios").iterdir() if p.is_dir()} == set(profile_names())


def test_the_checked_in_config_schema_is_the_generated_one() -> None:
    on_disk = json.loads((ROOT / "schemas" / "harness" / "config.schema.json").read_text())
    assert on_disk == config_schema(), "run: python -m harness.settings > schemas/harness/config.schema.json"


def test_one_table_gives_flags_pytest_options_and_config_keys() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = {a.dest for a in parser._actions}
    keys = set(config_schema()["properties"])
    for s in SETTINGS:
        assert s.key in keys
        if s.flag:
            assert s.key in flags


def test_a_secret_starting_with_a_dash_goes_through_as_flag_equals_value() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--client-secret=-abc-secret", "--client-id", "c"])
    given = from_namespace(vars(args))
    assert given["client_secret"] == "-abc-secret"
    argv, env = to_pytest_args(given)
    assert env == {"CONFORMANCE_CLIENT_SECRET": "-abc-secret"}  # never on a command line
    assert "--conformance-client-id=c" in argv and not any("abc-secret" in a for a in argv)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFORMANCE_TOKEN", "env-token-123")
    monkeypatch.setenv("CONFORMANCE_CLIENT_SECRET", "env-secret-456")
    given = from_namespace({})
    assert given == {"token": "env-token-123", "client_secret": "env-secret-456"}


@pytest.mark.parametrize(("text", "named", "allowed"), [
    ("options: {feed-polling: {stale_complete_status: four-oh-four}}", "options.feed-polling.stale_complete_status", "integer"),
    ("options: {ws-progress: {idle_counts_from: sometimes}}", "options.ws-progress.idle_counts_from", '"last-pong", "ping"'),
    ("options: {feed-polling: {no_such_option: 1}}", "options.feed-polling.no_such_option", "stale_complete_status"),
    ("timings: {callbacks: {retry_intervall: 1}}", "timings.callbacks.retry_intervall", "retry_interval"),
    ("profiles: [feed-polling, smoke-signals]", "profiles.1", "callbacks"),
])
def test_option_errors_name_the_setting_and_the_allowed_values(tmp_path: Path, text: str, named: str,
                                                               allowed: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"setting {named}:" in str(info.value) and allowed in str(info.value)


@pytest.mark.parametrize("text", ["token: 12345678\n", "client_secret: [s3cr3t-value]\n",
                                  "token: 'abc\n  x: [\n"])
def test_config_errors_never_echo_a_secret(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "12345678" not in str(info.value) and "s3cr3t" not in str(info.value) and "abc" not in str(info.value)


def test_cli_exits_2_naming_the_setting_for_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("options: {feed-polling: {no_such_option: 1}}\n")
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--config", str(path),
                           "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "options.feed-polling.no_such_option" in proc.stderr and "Traceback" not in proc.stderr


def test_scenario_parameters_are_validated(tmp_path: Path) -> None:
    source = (ROOT / "scenarios" / "feed-polling" / "fp-batch-shape.yaml").read_text()
    folder = tmp_path / "scenarios" / "feed-polling"
    folder.mkdir(parents=True)
    for bad, named in (("events: 3", "evnets: 3"), ("events: 3", "events: three")):
        path = folder / "fp-batch-shape.yaml"
        path.write_text(source.replace(bad, named))
        with pytest.raises(CatalogError, match=r"parameters"):
            load_file(path)


def test_every_scenario_declares_the_resources_it_shares() -> None:
    for s in catalog():
        if s.profile == "feed-polling":
            assert s.resources and all(r.startswith("feed:") for r in s.resources), s.id
        if s.profile == "callbacks":  # a scenario that changes a part of the settings writes it
            writes = {"callbacks.template": "callbacks.template", "callbacks.https-only": "callbacks.https",
                      "callbacks.retry-schedule": "callbacks.retry", "callbacks.retry-on-failure": "callbacks.retry",
                      "callbacks.attempts-exact": "callbacks.retry"}.get(s.kind)
            written = {r.split("=")[0] for r in s.resources if not r.startswith("read:")}  # NAME or NAME=VALUE
            assert written == ({writes} if writes else set()), s.id
            if s.kind != "callbacks.https-only":  # every callback URL of the suite is http
                assert "read:callbacks.https" in s.resources, s.id


# -- issue 6's bug: at SHOULD, a failed check followed by an assert gave ERROR ----------------------

@pytest.fixture
def next_answers_500_once_events_exist() -> Iterator[str]:
    """A feed target whose next answers 204 when empty and 500 as soon as it holds events."""
    state = {"events": 0}

    async def next_(request: web.Request) -> web.Response:
        return web.Response(status=204) if not state["events"] else web.Response(status=500, text="boom")

    async def discard(request: web.Request) -> web.Response:
        state["events"] = 0
        return web.json_response({})

    async def emit(request: web.Request) -> web.Response:
        body: Any = await request.json()
        state["events"] += len(body["events"])
        return web.json_response({"ids": [str(i) for i in range(len(body["events"]))]}, status=201)

    app = web.Application()
    app.router.add_get("/eventnotifications/v2/{feed}/next", next_)
    app.router.add_put("/eventnotifications/v2/{feed}/discardAll", discard)
    app.router.add_post("/_control/feeds/{feed}/events", emit)
    served = start_app_in_thread(app)
    yield served.base_url
    served.stop()


@pytest.mark.parametrize(("level", "verdict"), [(Level.MUST, Verdict.FAIL), (Level.SHOULD, Verdict.WARN)])
def test_a_failed_precondition_stops_with_the_scenarios_level(next_answers_500_once_events_exist: str,
                                                              level: Level, verdict: Verdict) -> None:
    base = next_answers_500_once_events_exist
    target = build_target({"target": base, "control": base + "/_control", "token": "t0k3n-for-test"})
    scenario = replace(next(s for s in catalog() if s.id == "fp-batch-shape"), level=level)
    result = run_scenario(scenario, target)
    assert result.verdict is verdict, result.reason
    assert "AssertionError" not in result.reason


def test_serve_prints_the_config_that_declares_it(tmp_path: Path) -> None:
    """`conformance serve --print-config` is a valid --config declaring the server's own timings
    and options, so a vendor testing it through --target need not read the source."""
    proc = subprocess.run([sys.executable, "-m", "harness", "serve", "--timings", "fast", "--print-config",
                           "--token", "tok-123456", "--client", "c:s3cr3t", "--client", "d:s3cr3t-2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "served.yaml"
    path.write_text(proc.stdout)
    target = build_target(load_config(path))
    assert target.timings.get("ws-progress", "idle_timeout") == 1.2
    assert target.timings.get("callbacks", "retry_interval") == 0.5
    assert target.option("feed-polling", "stale_complete_status") == 404
    assert target.all_clients == (("c", "s3cr3t"), ("d", "s3cr3t-2"))  # both clients: ownership is tested
    refused = subprocess.run([sys.executable, "-m", "harness", "serve", "--print-config"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "--token" in refused.stderr


def test_every_missing_setting_skip_is_classified_not_tested() -> None:
    """A SKIP because a setting was not given is "not tested" (it fails --strict and --require),
    never "not applicable": one reason per need, each known to harness/outcome.py."""
    from harness.outcome import NOT_TESTED, classify_skip
    from harness.profile import NEEDS
    from harness.runner import _needs_reason
    bare = build_target({"target": "http://127.0.0.1:9"})
    for need in NEEDS:
        if need == "receiver":
            continue  # the harness's own receiver: started, never a setting to give
        scenario = replace(catalog()[0], needs=(need,))
        reason = _needs_reason(scenario, bare)
        assert reason is not None and classify_skip(reason)["kind"] == NOT_TESTED, need


def test_an_ipv6_receiver_bind_in_brackets_is_accepted_and_a_bare_one_is_not() -> None:
    from harness.settings import validate_settings

    validate_settings({"receiver_bind": "[::1]:0"}, "test")
    validate_settings({"receiver_bind": "0.0.0.0:8080"}, "test")
    for bad in ("::1:8080", "[::1]", "host", "[::1]:99999999"):
        with pytest.raises(ConfigError):
            validate_settings({"receiver_bind": bad}, "test")


def test_a_flat_timer_shadowed_by_the_ws_progress_section_is_said_not_dropped_in_silence() -> None:
    from harness.options import normalize_timings

    out, notes = normalize_timings({"ping_interval": 5, "ws-progress": {"ping_interval": 7}})
    assert out["ws-progress"]["ping_interval"] == 7
    assert any("ping_interval were ignored" in n for n in notes)
    _, same = normalize_timings({"ping_interval": 7, "ws-progress": {"ping_interval": 7}})
    assert not any("ignored" in n for n in same)
