"""feed-polling (seed 002): REST feeds of immutable FIFO batches; importing registers its kinds."""
from typing import Any

from harness.profile import Option, Profile

FEEDS = ["journey", "entitydata", "document", "screening", "digitalidv", "association"]
_STATUS = {"type": "integer", "minimum": 100, "maximum": 599}
_COUNT = {"type": "integer", "minimum": 1, "maximum": 500}


def _resources(params: dict[str, Any]) -> tuple[str, ...]:
    feeds = params.get("feeds") or [params.get("feed", "journey")]
    return tuple(f"feed:{f}" for f in feeds)


PROFILE = Profile(
    name="feed-polling",
    title="Polling feeds of immutable FIFO batches",
    seeds=("002_e3bd9b87737f08a2.txt",),
    options=(
        Option("base_path", "/eventnotifications/v2", {"type": "string", "pattern": "^/"},
               "path of the feeds below the target URL"),
        Option("feeds", FEEDS, {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
               "the feed ids the target serves (seed 002 lists six)"),
        Option("tenant_header", "X-TENANT-ID", {"type": "string", "minLength": 1},
               "header naming the tenant (notes: the real API wants X-TENANT-ID)"),
        Option("stale_complete_status", 404, _STATUS,
               "status of completing an unknown or already completed batch (the seed's sentence is cut off)"),
        Option("problem_media_type", "application/problem+json",
               {"enum": ["application/problem+json", "application/json"]},
               "media type of 404 problem bodies (a SHOULD)"),
        Option("drain_limit", 200, {"type": "integer", "minimum": 1, "maximum": 100000},
               "most batches read while emptying a feed before a scenario"),
        Option("stateful_examples", 50, {"type": "integer", "minimum": 1, "maximum": 10000},
               "Hypothesis examples of the stateful feed test"),
        Option("stateful_steps", 20, {"type": "integer", "minimum": 1, "maximum": 1000},
               "most steps per Hypothesis example"),
        Option("stateful_seconds", 60.0, {"type": "number", "exclusiveMinimum": 0},
               "wall-clock bound of the stateful feed test"),
        Option("stateful_shrink", True, {"type": "boolean"},
               "shrink a failing sequence to the shortest counterexample (false: report the first one found, faster)"),
    ),
    parameters={
        "feed": {"type": "string", "minLength": 1},
        "feeds": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "events": _COUNT, "later_events": _COUNT,
        "miscased": {"type": "string", "minLength": 1},
        "totals": {"type": "array", "items": _COUNT, "minItems": 1},
        "unknown_batch_id": {"type": "string", "minLength": 1},
    },
    default_resources=_resources,
)

from harness.profiles.feed_polling import batches, errors, isolation, stateful  # noqa: E402,F401
