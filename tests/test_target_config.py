"""Target configuration: config files (YAML, TOML), flags over the file, named errors, Timings."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.options import build_timings, merge_options
from harness.profile import profiles
from harness.session import resolve_settings
from harness.target import Target, build_target, load_config
from harness.timing import Margin
from harness.verdicts import ConfigError

YAML_CONFIG = """\
target: https://vendor.example/api/
control: https://vendor.example/_control/
token: file-token
tenants: [t1, t2]
request_timeout: 2.5
max_wait: 12
level: SHOULD
strict: true
seed: 7
timings:
  ping_interval: 10
  scale: 0.5
options:
  feed-polling:
    stale_complete_status: 409
    feeds: [journey, document]
"""

TOML_CONFIG = """\
target = "https://vendor.example/api/"
control = "https://vendor.example/_control/"
token = "file-token"
tenants = ["t1", "t2"]
request_timeout = 2.5
max_wait = 12
level = "SHOULD"
strict = true
seed = 7

[timings]
ping_interval = 10
scale = 0.5

[options.feed-polling]
stale_complete_status = 409
feeds = ["journey", "document"]
"""


def _file(tmp_path: Path, text: str, name: str = "target.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- load_config ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text"), [("t.yaml", YAML_CONFIG), ("t.yml", YAML_CONFIG),
                                            ("t.toml", TOML_CONFIG)])
def test_yaml_and_toml_load_the_same_settings(tmp_path: Path, name: str, text: str) -> None:
    data = load_config(_file(tmp_path, text, name))
    assert data == {
        "target": "https://vendor.example/api/", "control": "https://vendor.example/_control/",
        "token": "file-token", "tenants": ["t1", "t2"], "request_timeout": 2.5, "max_wait": 12,
        "level": "SHOULD", "strict": True, "seed": 7, "timings": {"ping_interval": 10, "scale": 0.5},
        "options": {"feed-polling": {"stale_complete_status": 409, "feeds": ["journey", "document"]}},
    }


def test_config_file_builds_a_target(tmp_path: Path) -> None:
    target = build_target(load_config(_file(tmp_path, YAML_CONFIG)))
    assert target.base_url == "https://vendor.example/api"  # trailing slash dropped
    assert target.control_url == "https://vendor.example/_control"
    assert target.token == "file-token" and target.secrets == ["file-token"]
    assert target.tenants == ("t1", "t2")
    assert target.request_timeout == 2.5 and target.max_wait == 12.0
    assert target.option("feed-polling", "stale_complete_status") == 409
    assert target.option("feed-polling", "feeds") == ["journey", "document"]
    # undeclared options keep their defaults
    assert target.option("feed-polling", "tenant_header") == "X-TENANT-ID"
    assert target.timings.get("ws-progress", "ping_interval") == 5.0
    described = target.described()
    assert "file-token" not in repr(described)
    assert described["auth"] == "token"


def test_empty_file_is_no_settings(tmp_path: Path) -> None:
    assert load_config(_file(tmp_path, "")) == {}
    assert load_config(_file(tmp_path, "# only a comment\n")) == {}
    assert load_config(_file(tmp_path, "", "e.toml")) == {}


@pytest.mark.parametrize(("name", "text", "named"), [
    ("c.yaml", "target: http://x\ntargte: http://y\n", "targte"),
    ("c.toml", 'tokne = "abc"\n', "tokne"),
    ("c.yaml", "request_timeout: fast\n", "request_timeout"),
    ("c.yaml", "max_wait: 0\n", "max_wait"),
    ("c.yaml", "tenants: tenant-a\n", "tenants"),
    ("c.yaml", "tenants: [a, a]\n", "tenants"),
    ("c.yaml", "strict: maybe\n", "strict"),
    ("c.yaml", "seed: 1.5\n", "seed"),
    ("c.yaml", "level: SHALL\n", "level"),
    ("c.yaml", "target: ftp://vendor.example\n", "target"),
    ("c.yaml", "target: vendor.example\n", "target"),
    ("c.toml", 'control = "localhost:9/_control"\n', "control"),
    ("c.yaml", "token_url: /oauth/token\n", "token_url"),
    ("c.yaml", "token: ''\n", "token"),
    ("c.yaml", "timings: {ping_interval: -1}\n", "timings.ping_interval"),
    ("c.yaml", "timings: {scale: 0}\n", "timings.scale"),
    ("c.yaml", "timings: {pingInterval: 1}\n", "pingInterval"),
    ("c.yaml", "options: {feed-pollin: {}}\n", "feed-pollin"),
    ("c.yaml", "options: {feed-polling: [1]}\n", "options.feed-polling"),
    ("c.yaml", "profiles: [feed-polling, smoke-signals]\n", "profiles"),
])
def test_bad_setting_is_named(tmp_path: Path, name: str, text: str, named: str) -> None:
    path = _file(tmp_path, text, name)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"--config {path}:")
    assert named in message


def test_bad_syntax_is_named(tmp_path: Path) -> None:
    for name, text, kind in (("c.yaml", "target: [unclosed\n", "YAML"), ("c.toml", "target = \n", "TOML")):
        path = _file(tmp_path, text, name)
        with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: not valid {kind}"):
            load_config(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_file(tmp_path, "- target: http://x\n"))


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match=rf"--config {re.escape(str(path))}: cannot read"):
        load_config(path)


# -- build_target -----------------------------------------------------------------------------

def test_unknown_profile_option_is_named() -> None:
    settings = {"target": "http://127.0.0.1:9", "options": {"feed-polling": {"xxx": 1}}}
    with pytest.raises(ConfigError) as info:
        build_target(settings)
    message = str(info.value)
    assert message.startswith("options.feed-polling.xxx:")
    assert "stale_complete_status" in message  # the known ones are listed


def test_unknown_profile_option_from_a_config_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "target: http://x\noptions:\n  ws-progress:\n    idle_close: 4000\n")
    with pytest.raises(ConfigError, match=r"setting options\.ws-progress\.idle_close: unknown setting; known: "):
        load_config(path)  # refused as the file is read, before any scenario runs


def test_merge_options_unknown_profile() -> None:
    with pytest.raises(ConfigError, match="options: unknown profile 'nope'"):
        merge_options("nope", {})


def test_no_target_is_named() -> None:
    with pytest.raises(ConfigError, match="^target:"):
        build_target({})


@pytest.mark.parametrize("settings", [{"client_id": "me"}, {"client_secret": "s3cret-value"}])
def test_client_credentials_come_in_pairs(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="client_id/client_secret"):
        build_target({"target": "http://x", **settings})


def test_defaults_of_a_minimal_target() -> None:
    target = build_target({"target": "http://127.0.0.1:9"})
    assert target == Target(base_url="http://127.0.0.1:9", options=target.options, timings=target.timings)
    assert target.control_url is None and target.token is None and target.tenants == ()
    assert target.request_timeout == 5.0 and target.max_wait == 30.0
    assert target.timings == build_timings(None)
    for profile, desc in profiles().items():
        assert target.options[profile] == desc.defaults()
    assert target.described()["auth"] == "none"


def test_tenant_is_put_first_among_tenants() -> None:
    target = build_target({"target": "http://x", "tenant": "main", "tenants": ["other", "third"]})
    assert target.tenants == ("main", "other", "third")
    same = build_target({"target": "http://x", "tenant": "other", "tenants": ["other", "third"]})
    assert same.tenants == ("other", "third")


def test_client_credentials_are_secrets() -> None:
    target = build_target({"target": "http://x", "client_id": "me", "client_secret": "cl13nt-s3cret",
                           "token": "tok-1234"})
    assert set(target.secrets) == {"cl13nt-s3cret", "tok-1234"}
    assert "cl13nt-s3cret" not in repr(target.described())


# -- resolve_settings: flags over the file ----------------------------------------------------

def test_flags_override_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, YAML_CONFIG)
    settings = resolve_settings(str(path), {
        "target": "http://flag.example", "control": None, "token": "flag-token", "tenants": [],
        "max_wait": None, "client_id": None,
        "options": {"feed-polling": {"stale_complete_status": 410}, "ws-progress": {"job_timeout": 3}},
    })
    assert settings["target"] == "http://flag.example"
    assert settings["token"] == "flag-token"
    assert settings["control"] == "https://vendor.example/_control/"  # None leaves the file's value
    assert settings["tenants"] == ["t1", "t2"]  # an empty list leaves it too
    assert settings["max_wait"] == 12
    assert "client_id" not in settings
    assert settings["options"] == {
        "feed-polling": {"stale_complete_status": 410, "feeds": ["journey", "document"]},
        "ws-progress": {"job_timeout": 3},
    }


def test_flags_without_a_file() -> None:
    settings = resolve_settings(None, {"target": "http://x", "tenants": ["a", "b"], "token": None,
                                       "seed": 0})
    assert settings == {"target": "http://x", "tenants": ["a", "b"], "seed": 0}


def test_control_needs_a_target(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^control:"):
        resolve_settings(None, {"control": "http://x/_control"})
    path = _file(tmp_path, "control: http://x/_control\n")
    with pytest.raises(ConfigError, match="^control:"):
        resolve_settings(str(path), {})
    # a target from the flags completes a control from the file
    assert resolve_settings(str(path), {"target": "http://x"})["control"] == "http://x/_control"


def test_resolve_settings_reports_file_errors(tmp_path: Path) -> None:
    path = _file(tmp_path, "unknown_key: 1\n")
    with pytest.raises(ConfigError, match="unknown_key"):
        resolve_settings(str(path), {"target": "http://x"})


@pytest.mark.parametrize("url", ["ftp://vendor.example", "vendor.example"])
def test_bad_target_url_from_flags_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="target"):
        build_target(resolve_settings(None, {"target": url}))


# -- Timings ----------------------------------------------------------------------------------

def test_timings_are_scaled_by_one_multiplier() -> None:
    t = build_timings({"ws-progress": {"ping_interval": 2.0, "idle_timeout": 10.0, "token_lifetime": 60.0,
                                       "app_message_timeout": 4.0}, "scale": 0.25})
    get = lambda name: t.get("ws-progress", name)  # noqa: E731
    assert (get("ping_interval"), get("idle_timeout"), get("token_lifetime"), get("app_message_timeout")) == \
        (0.5, 2.5, 15.0, 1.0)
    assert t.declared["ws-progress"]["ping_interval"] == 2.0  # the declared values are kept as given


def test_spec_timings_by_default() -> None:
    t = build_timings(None)
    assert [t.get("ws-progress", n) for n in ("ping_interval", "idle_timeout", "token_lifetime",
                                              "app_message_timeout")] == [30.0, 300.0, 900.0, 60.0]


def test_scale_from_a_config_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "target: http://x\ntimings: {ws-progress: {idle_timeout: 4}, scale: 3, tolerance: 0.2, slack: 1}\n")
    target = build_target(load_config(path))
    assert target.timings.get("ws-progress", "idle_timeout") == 12.0
    assert target.timings.get("ws-progress", "ping_interval") == 90.0  # spec default, scaled too
    assert (target.timings.tolerance, target.timings.slack) == (Margin(0.2), Margin(1.0))
    assert target.described()["timings"]["scale"] == 3


def test_unknown_timing_name_is_an_error() -> None:
    with pytest.raises(KeyError):
        build_timings(None).get("ws-progress", "pingInterval")
