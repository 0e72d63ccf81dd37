"""callbacks (seed 003): executions that call a URL back when they end, retrying on a constant,
linear or squared schedule; importing this package registers its kinds."""
from typing import Any

from harness.profile import Option, Profile, Timer

_OBJECTS = {"type": "object", "additionalProperties": False, "required": ["ok", "not_ok", "long"],
            "properties": {k: {"type": "string", "minLength": 1} for k in ("ok", "not_ok", "long")}}
_RETRY = {"type": "object", "additionalProperties": False,
          "properties": {"attempts": {"type": "integer", "minimum": 0, "maximum": 20},
                         "interval": {"type": "number", "minimum": 0},
                         "mode": {"enum": [0, 1, 2]}}}


def _resources(params: dict[str, Any]) -> tuple[str, ...]:
    # UC_CALLBACK_SETTINGS, one resource per part a scenario changes through the hook: the
    # HTTPS rule (every callback URL here is http), the template (the payload), the retries.
    # A scenario that changes a part writes it (resources: [callbacks.retry, ...] in its file);
    # the others read the parts they depend on.
    return ("read:callbacks.https",)


PROFILE = Profile(
    name="callbacks",
    title="Executions that call a URL back when they end",
    seeds=("003_dc6cb97d90348bbc.txt",),
    options=(
        Option("base_path", "/ae/api/v1", {"type": "string", "pattern": "^/"},
               "path of the executions API below the target URL (the client number follows it)"),
        Option("client", "100", {"type": "string", "pattern": "^[0-9]{1,4}$"}, "the client (tenant) number in the path"),
        Option("other_client", "200", {"type": "string", "pattern": "^[0-9]{1,4}$"},
               "a client number that must not see the first client's runs"),
        Option("default_payload", "run_id", {"enum": ["run_id", "runid"]},
               "default payload shape: seed 003 shows {run_id: int, name, status: int} and "
               "{runid: string, object_type, execution_status: string}"),
        Option("attempts_include_first", False, {"type": "boolean"},
               "whether 'attempts' counts the first try (the docs disagree); false: 1 + attempts requests"),
        Option("failed_answers", "non-2xx", {"enum": ["non-2xx", "5xx"]},
               "which answers count as a failed delivery (besides timeouts and connection errors)"),
        Option("objects", {"ok": "SCRI.CONFORMANCE.OK", "not_ok": "SCRI.CONFORMANCE.FAIL",
                           "long": "SCRI.CONFORMANCE.LONG"}, _OBJECTS,
               "objects of the target that end ENDED_OK quickly, end ENDED_NOT_OK with an error, run long"),
        Option("retry", {"attempts": 3, "interval": 30, "mode": 0}, _RETRY,
               "the target's retry settings, tested as declared when there is no settings hook"),
        Option("settings_control", True, {"type": "boolean"},
               "the control hook has PUT {control}/callbacks/settings (docs/callbacks-control.md)"),
        Option("https_only_setting", True, {"type": "boolean"}, "the target has the HTTPS-only setting"),
        Option("template", True, {"type": "boolean"}, "the target supports template payloads"),
        Option("attempts", 2, {"type": "integer", "minimum": 1, "maximum": 10},
               "retries the harness sets through the hook for the schedule scenarios (two gaps tell "
               "constant, linear, squared and doubling apart)"),
    ),
    timers=(
        Timer("retry_interval", 30.0, "CALLBACK_INTERVAL the harness sets through the hook (notes: default 30 s)"),
        Timer("delivery_timeout", 10.0, "how long the target waits for the callback's answer"),
        Timer("execution_time", 30.0, "the longest an ok or not-ok object takes to end"),
        Timer("quiet_window", 30.0, "how long the harness listens for callbacks that must not come"),
    ),
    parameters={
        "object": {"enum": ["ok", "not_ok", "long"]},
        "mode": {"enum": [0, 1, 2]},
        "answer": {"enum": ["503", "500", "408", "404", "timeout", "close", "redirect"]},
    },
    default_resources=_resources,
)

from harness.profiles.callbacks import callback, retries  # noqa: E402,F401
