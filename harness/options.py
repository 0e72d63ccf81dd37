"""Declared profile options and timers: the profiles' defaults with the target's declarations laid
over them. The values were validated against the descriptors' schemas when the settings were read
(harness/settings.py); unknown names are refused there too.
"""
from __future__ import annotations

from typing import Any, Mapping

from harness.profile import profiles
from harness.timing import DEFAULT_SLACK, DEFAULT_TOLERANCE, Margin, Timings
from harness.verdicts import ConfigError


def merge_options(profile: str, declared: Mapping[str, Any] | None) -> dict[str, Any]:
    """The profile's defaults overridden by the declared values; unknown names are an error."""
    desc = profiles().get(profile)
    if desc is None:
        raise ConfigError(f"options: unknown profile {profile!r}")
    merged = desc.defaults()
    for name, value in (declared or {}).items():
        if name not in merged:
            raise ConfigError(f"options.{profile}.{name}: unknown option; known: {', '.join(sorted(merged))}")
        merged[name] = value
    return merged


def all_options(declared: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    declared = declared or {}
    return {name: merge_options(name, declared.get(name)) for name in profiles()}


def normalize_timings(declared: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """Move the flat ws-progress timers of older config files under ``ws-progress`` (a key given
    there explicitly wins), with a deprecation note for the report and the terminal."""
    out = dict(declared or {})
    desc = profiles().get("ws-progress")
    legacy = {k: out.pop(k) for k in list(out) if desc and k in desc.timer_defaults()}
    if not legacy:
        return out, []
    section = dict(out.get("ws-progress") or {})
    out["ws-progress"] = {**legacy, **section}
    notes = ["timings: the flat keys " + ", ".join(sorted(legacy)) + " are deprecated; "
             "write them under timings.ws-progress (they were read as such)"]
    shadowed = sorted(k for k in legacy if k in section and section[k] != legacy[k])
    if shadowed:  # said, not dropped in silence
        notes.append("timings: the flat " + ", ".join(shadowed) + " were ignored: timings.ws-progress "
                     "gives " + ("it" if len(shadowed) == 1 else "them") + " too, and wins")
    return out, notes


def build_timings(declared: Mapping[str, Any] | None) -> Timings:
    """Timings from the (normalized) ``timings:`` setting: per-profile timers over the spec values,
    one scale, one tolerance and slack."""
    declared = declared or {}
    per_profile = {name: {**desc.timer_defaults(), **(declared.get(name) or {})}
                   for name, desc in profiles().items()}
    return Timings(per_profile, scale=float(declared.get("scale", 1.0)),
                   tolerance=Margin.parse(declared.get("tolerance"), DEFAULT_TOLERANCE),
                   slack=Margin.parse(declared.get("slack"), DEFAULT_SLACK))
