"""webhooks (seed 004): pipeline runs that post progress and result webhooks filtered by a
verbosity level; importing this package registers its kinds."""
from harness.profile import Option, Profile, Timer

LEVELS = ["trace", "debug", "info", "warn", "error", "critical"]
_PIPELINE = {"type": "object", "required": ["name", "nodes"],
             "properties": {"name": {"type": "string", "minLength": 1}, "nodes": {"type": "array", "minItems": 1}}}


def _seed_pipeline(name: str, algorithm: str) -> dict[str, object]:
    return {"name": name, "nodes": [{"nodeName": "green", "algorithmName": algorithm, "input": ["#[1,2,3]"]}]}


PROFILE = Profile(
    name="webhooks",
    title="Pipeline runs posting progress and result webhooks",
    seeds=("004_a38387c435235360.txt",),
    options=(
        Option("base_path", "/api/v1", {"type": "string", "pattern": "^/"}, "path of the exec API below the target URL"),
        Option("verbosity_compare", "at-least", {"enum": ["at-least", "at-most"]},
               "a progress event is sent when it is at least as severe as the requested level (the "
               "current system); older versions compared the other way round"),
        Option("progress_type", "either", {"enum": ["number", "string", "either"]},
               "data.progress as a number (current source) or a string such as \"33.33\" (the seed)"),
        Option("attempts", 3, {"type": "integer", "minimum": 1, "maximum": 10},
               "delivery attempts in total (notes: 3, with a fixed delay)"),
        Option("result_repeats", False, {"type": "boolean"},
               "the result webhook may be sent more than once (identical each time)"),
        Option("throttled", True, {"type": "boolean"}, "progress webhooks are throttled (notes: about one a second)"),
        Option("pipelines", {"batch": _seed_pipeline("batch", "green-alg"),
                             "failing": _seed_pipeline("failing", "fail-alg"),
                             "slow": _seed_pipeline("slow", "slow-alg")},
               {"type": "object", "additionalProperties": False, "required": ["batch", "failing", "slow"],
                "properties": {k: _PIPELINE for k in ("batch", "failing", "slow")}},
               "pipeline descriptors (without webhooks) that complete, fail, and run long enough to stop"),
        Option("batch_results", [10, 20, 30], {"type": "array"},
               "the results of the batch pipeline, in batch order (seed 004: green-alg over #[1,2,3])"),
        Option("event_levels", {}, {"type": "object", "additionalProperties": {"enum": LEVELS}},
               "informative: the level of each kind of progress event of the target"),
    ),
    timers=(
        Timer("retry_delay", 5.0, "fixed delay between delivery attempts (notes: 5 s)"),
        Timer("delivery_timeout", 10.0, "how long the target waits for a webhook's answer"),
        Timer("throttle_window", 1.0, "progress throttle window (notes: about one a second)"),
        Timer("run_time", 60.0, "the longest the batch and failing pipelines take to end"),
    ),
    parameters={
        "level": {"enum": [*LEVELS, None]},
        "pipeline": {"enum": ["batch", "failing", "slow"]},
        "answer": {"enum": ["503", "500", "408", "close", "timeout", "404", "400"]},
    },
)

from harness.profiles.webhooks import delivery, progress, results  # noqa: E402,F401
