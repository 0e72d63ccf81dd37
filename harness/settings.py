"""The one table of run settings: argparse flags, pytest ``--conformance-*`` options, config keys,
environment variables for secrets and the config file's JSON Schema all come from ``SETTINGS``.

Profiles add their own declared options and timers (see harness/profile.py); the schema of
``options:`` and ``timings:`` is built from them, so a typo or a wrong type is caught at start
(exit 2, naming the setting and the allowed values).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from urllib.parse import urlsplit

from harness.redaction import redact_userinfo
from harness.verdicts import ConfigError

LEVELS = ["MUST", "SHOULD", "MAY"]
URL = {"type": "string", "pattern": "^https?://"}
CLIENT = {"type": "object", "additionalProperties": False, "required": ["client_id", "client_secret"],
          "properties": {"client_id": {"type": "string", "minLength": 1},
                         "client_secret": {"type": "string", "minLength": 1}}}
MARGIN = {"oneOf": [{"type": "number", "minimum": 0},
                    {"type": "object", "additionalProperties": False,
                     "properties": {"abs": {"type": "number", "minimum": 0},
                                    "rel": {"type": "number", "minimum": 0}}}]}


@dataclass(frozen=True)
class Setting:
    key: str                      # config key; flag --key-with-dashes; pytest --conformance-key
    schema: dict[str, Any]        # JSON Schema of the value (config file and flags alike)
    help: str
    secret: bool = False          # also read from CONFORMANCE_<KEY>; never printed
    repeat: bool = False          # a repeatable flag building a list
    flag: bool = True             # has a command-line flag
    metavar: str | None = None

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def pytest_option(self) -> str:
        return "--conformance-" + self.key.replace("_", "-")

    @property
    def dest(self) -> str:
        return "conformance_" + self.key

    @property
    def env(self) -> str:
        return "CONFORMANCE_" + self.key.upper()


def _profiles_schema() -> dict[str, Any]:
    from harness.profile import profile_names
    return {"type": "array", "items": {"enum": list(profile_names())}}


SETTINGS: tuple[Setting, ...] = (
    Setting("target", URL, "base URL of the implementation under test (none: the bundled reference server)"),
    Setting("control", URL, "URL of the target's control hook (docs/control-hook.md)"),
    Setting("token", {"type": "string", "minLength": 1}, "bearer token (or CONFORMANCE_TOKEN)", secret=True),
    Setting("client_id", {"type": "string", "minLength": 1}, "client id for the token endpoint"),
    Setting("client_secret", {"type": "string", "minLength": 1},
            "client secret (or CONFORMANCE_CLIENT_SECRET; use --client-secret=VALUE for one starting with -)",
            secret=True),
    Setting("token_url", URL, "OAuth2 client-credentials token URL"),
    Setting("tenant_tokens", {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
            "a bearer token per tenant that may use only that tenant (enables fp-tenant-token-bound)",
            secret=True, flag=False),
    Setting("clients", {"type": "array", "items": CLIENT},
            "more clients of the target, [{client_id, client_secret}] (or CONFORMANCE_CLIENTS as JSON); "
            "a second client enables the job-ownership scenarios", secret=True, flag=False),
    Setting("tenant", {"type": "string", "minLength": 1}, "the tenant to test", flag=False),
    Setting("tenants", {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
            "tenant id (repeatable; two enable tenant isolation)", repeat=True, metavar="TENANT"),
    Setting("profiles", {"$ref": "#/$defs/profiles"}, "profile to run (repeatable; default all implemented)",
            repeat=True, metavar="PROFILE"),
    Setting("select", {"type": "array", "items": {"type": "string"}},
            "scenario id, glob or tag:NAME (repeatable)", flag=False),
    Setting("level", {"enum": LEVELS}, "run scenarios of this level and stronger"),
    Setting("strict", {"type": "boolean"}, "a WARN (missed SHOULD) fails the run"),
    Setting("require", {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9-]+(:(MUST|SHOULD|MAY))?$"}},
            "PROFILE, LEVEL or PROFILE:LEVEL that must run in full: a scenario in scope not tested fails the run "
            "(exit 4; repeatable)", repeat=True, metavar="SCOPE"),
    Setting("baseline", {"type": "string", "minLength": 1},
            "YAML file of known failures (`conformance baseline` writes one): listed verdicts do not fail the run"),
    Setting("summary", {"type": "string", "minLength": 1},
            "also write the Markdown summary to this file (it goes to $GITHUB_STEP_SUMMARY when that is set)"),
    Setting("seed", {"type": "integer"}, "seed for Hypothesis and generated data"),
    Setting("report_dir", {"type": "string", "minLength": 1}, "where reports/<run-id>/ goes (default ./reports)"),
    Setting("max_wait", {"type": "number", "exclusiveMinimum": 0},
            "longest protocol wait a scenario may need, seconds; longer ones are SKIP"),
    Setting("jobs", {"type": "integer", "minimum": 1, "maximum": 32},
            "scenarios run at once (default 12); scenarios sharing a resource of the target never overlap"),
    Setting("run_budget", {"type": "number", "exclusiveMinimum": 0},
            "the whole run's bound in seconds (default 3600); scenarios not started by then are ERROR"),
    Setting("request_timeout", {"type": "number", "exclusiveMinimum": 0}, "every network step times out after this"),
    Setting("receiver_bind", {"type": "string", "pattern": "^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$"},
            "HOST:PORT the harness's receiver listens on (callbacks, webhooks; default 127.0.0.1:0)"),
    Setting("receiver_url", URL, "base URL the target must call to reach the receiver (behind a tunnel or a proxy)"),
    Setting("trusted_origins", {"type": "array", "items": URL},
            "other origins (scheme://host:port) the target's URLs may point to and credentials may go to",
            repeat=True, metavar="ORIGIN"),
    Setting("timings", {"$ref": "#/$defs/timings"}, "declared timers per profile", flag=False),
    Setting("options", {"$ref": "#/$defs/options"}, "declared options per profile", flag=False),
)
BY_KEY = {s.key: s for s in SETTINGS}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a --config file, built from SETTINGS and the profiles' descriptors."""
    from harness.profile import profiles
    descs = profiles()
    timings: dict[str, Any] = {
        "scale": {"type": "number", "exclusiveMinimum": 0,
                  "description": "one multiplier applied to every timer, tolerance and timeout"},
        "tolerance": {**MARGIN, "description": "how early a timer may fire: max(abs, rel x declared) seconds"},
        "slack": {**MARGIN, "description": "how late a timer may fire: max(abs, rel x declared) seconds"},
    }
    timings.update({name: d.timers_schema() for name, d in descs.items()})
    legacy = descs["ws-progress"].timers_schema()["properties"] if "ws-progress" in descs else {}
    for name, schema in legacy.items():  # flat ws-progress timers of older config files (deprecated)
        timings.setdefault(name, {**schema, "deprecated": True})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://progress-conformance.dev/schemas/harness/config.schema.json",
        "title": "Target configuration",
        "description": "The --config FILE (YAML or TOML). Command-line flags override it. Generated from "
                       "harness/settings.py and the profiles' descriptors: `python -m harness.settings`.",
        "type": "object", "additionalProperties": False,
        "$defs": {
            "profiles": _profiles_schema(),
            "timings": {"type": "object", "additionalProperties": False, "properties": timings},
            "options": {"type": "object", "additionalProperties": False,
                        "properties": {name: d.options_schema() for name, d in descs.items()}},
        },
        "properties": {s.key: {**s.schema, "description": s.help} for s in SETTINGS},
    }


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(config_schema())


def _allowed(error: Any) -> str:
    """The allowed values or type named by a schema error, for the message."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "enum" in schema:
        return "; allowed: " + ", ".join(json.dumps(v) for v in schema["enum"])
    if error.validator == "additionalProperties" and "properties" in schema:
        return "; known: " + ", ".join(sorted(schema["properties"]))
    return ""


def _not_finite(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinite number (JSON Schema's bounds let NaN through)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := _not_finite(v, f"{path}.{k}" if path else str(k)))), None)
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := _not_finite(v, f"{path}.{i}"))), None)
    return None


def _check_values(data: dict[str, Any], origin: str) -> None:
    bad = _not_finite(data, "")
    if bad:
        raise ConfigError(f"{origin}: setting {bad}: must be a finite number")
    for key in ("target", "control", "token_url", "receiver_url", "trusted_origins"):
        value = data.get(key)
        for url in value if isinstance(value, list) else [value]:
            if not isinstance(url, str):
                continue
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018  (raises on a port that is not a number in range)
            except ValueError:
                raise ConfigError(f"{origin}: setting {key}: {redact_userinfo(url)!r} is not a valid URL") from None
            if parts.password is not None and key != "receiver_url":
                raise ConfigError(f"{origin}: setting {key}: a user:password in the URL is not supported "
                                  "(it would replace the bearer token); give credentials with --token or the client settings")
    bind = data.get("receiver_bind")
    if isinstance(bind, str) and bind.rpartition(":")[2].isdigit() and not 0 <= int(bind.rpartition(":")[2]) <= 65535:
        raise ConfigError(f"{origin}: setting receiver_bind: port must be 0..65535")


def validate_settings(data: dict[str, Any], origin: str) -> None:
    """Raise ConfigError naming the first bad setting and what is allowed; never echo a secret."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        _check_values(data, origin)
        return
    e = errors[0]
    path = ".".join(str(p) for p in e.absolute_path) or "(top level)"
    top = str(e.absolute_path[0]) if e.absolute_path else ""
    if top in BY_KEY and BY_KEY[top].secret:
        message = "is not a valid value"  # the message would repeat the secret
    elif e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        path, message = (f"{path}.{extra[0]}" if path != "(top level)" else extra[0]), "unknown setting"
    else:
        message = redact_userinfo(e.message if len(e.message) <= 200 else e.message[:200] + "...")
    raise ConfigError(f"{origin}: setting {path}: {message}{_allowed(e)}")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a YAML or TOML config file; errors name the file and the setting."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config {p}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"--config {p}: not UTF-8 text") from None
    kind = "TOML" if p.suffix == ".toml" else "YAML"
    try:
        data = tomllib.loads(text) if kind == "TOML" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {p}: not valid TOML ({str(exc).split('(')[-1].rstrip(')')})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(f"--config {p}: not valid YAML at {where}") from None  # no line echo: secrets
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {p}: expected a mapping of settings at the top level")
    validate_settings(data, f"--config {p}")
    return data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `conformance run` flags, one per setting that has a flag."""
    for s in SETTINGS:
        if not s.flag:
            continue
        kwargs: dict[str, Any] = {"dest": s.key, "help": s.help, "default": None}
        if s.repeat:
            kwargs.update(action="append", metavar=s.metavar)
        elif s.schema.get("type") == "boolean":
            kwargs.update(action="store_true")
        elif "enum" in s.schema:
            kwargs.update(choices=s.schema["enum"])
        elif s.schema.get("type") == "integer":
            kwargs.update(type=int)
        elif s.schema.get("type") == "number":
            kwargs.update(type=float)
        names = [s.option]
        if s.key == "profiles":
            names = ["--profile"]
        elif s.key == "tenants":
            names = ["--tenant"]
        elif s.key == "trusted_origins":
            names = ["--trusted-origin"]
        elif s.key == "jobs":
            names = ["-j", "--jobs"]
        parser.add_argument(*names, **kwargs)


def add_pytest_options(group: Any) -> None:
    """The same settings as pytest options (--conformance-KEY); lists are repeatable."""
    for s in SETTINGS:
        if s.key in ("timings", "options", "clients"):  # config file (or environment) only
            continue
        kwargs: dict[str, Any] = {"dest": s.dest, "help": s.help, "default": None}
        if s.repeat or s.schema.get("type") == "array":
            kwargs.update(action="append")
        elif s.schema.get("type") == "boolean":
            kwargs.update(action="store_true")
        elif s.schema.get("type") == "integer":
            kwargs.update(type=int)
        elif s.schema.get("type") == "number":
            kwargs.update(type=float)
        group.addoption(s.pytest_option, **kwargs)


def _from_env(s: Setting) -> Any:
    """A secret from CONFORMANCE_<KEY>: a string, or JSON for a list (never echoed on error)."""
    value = os.environ.get(s.env) or None
    if value is None or s.schema.get("type") not in ("array", "object"):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ConfigError(f"{s.env}: not JSON") from None


def from_namespace(values: dict[str, Any], *, pytest: bool = False) -> dict[str, Any]:
    """Settings given on a command line (argparse dests, or pytest's ``conformance_*`` dests),
    plus secrets from the environment (CONFORMANCE_TOKEN, CONFORMANCE_CLIENT_SECRET)."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        value = values.get(s.dest if pytest else s.key)
        if value is None and s.secret:
            value = _from_env(s)
        if value is None or value == []:
            continue
        out[s.key] = value
    return out


def to_pytest_args(values: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Command-line settings as pytest arguments (always ``--opt=value``, so values may start
    with '-') and secrets as environment variables, never on a command line."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for key, value in values.items():
        s = BY_KEY[key]
        if s.secret:
            env[s.env] = value if isinstance(value, str) else json.dumps(value)
        elif isinstance(value, bool):
            if value:
                argv.append(s.pytest_option)
        elif isinstance(value, list):
            argv += [f"{s.pytest_option}={v}" for v in value]
        else:
            argv.append(f"{s.pytest_option}={value}")
    return argv, env


if __name__ == "__main__":  # regenerate schemas/harness/config.schema.json
    print(json.dumps(config_schema(), indent=2))
