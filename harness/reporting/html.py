"""report.html: one self-contained page rendered from report.json only, for people to read and archive.

Failures and errors come first with their reason, clause and expected beside observed; every timing
item gets a chart; the transcript reads as request/response pairs, frames and deliveries.

Nothing from the target can run in the page: Jinja2 autoescapes every value, target text never
lands in a script, a style, a URL attribute or an event handler, bidirectional and control
characters are shown as visible ``<U+202E>`` markers, and a Content-Security-Policy allows only the
page's own inline style and script (by hash) and no loads at all. Fields added to report.json
later (``run.interrupted``, ``coverage``, ``checks[].clause``, ``evidence.deliveries``, per-profile
``target.timings``) are shown when present and skipped when absent.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from harness.reporting.timing_chart import chart, number, seconds

TEMPLATES = Path(__file__).resolve().parent / "templates"
VERDICTS = ("FAIL", "ERROR", "WARN", "SKIP", "PASS")
PROMINENT = {"FAIL", "ERROR", "WARN"}
LEVELS = ("MUST", "SHOULD", "MAY")
# C0/C1 controls (but tab and newline), bidi embeddings/overrides/isolates, zero-width marks
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def visible(value: Any) -> Any:
    """``value`` with every invisible or reordering character shown as ``<U+XXXX>``."""
    if isinstance(value, str):
        return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", value)
    if isinstance(value, dict):
        return {visible(str(k)): visible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [visible(v) for v in value]
    return value


def as_text(value: Any) -> str:
    """A value as a reader wants it: strings as they are, everything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _json(value: Any) -> str:
    """JSON on one line when it is short (a status, a list of gaps), indented otherwise."""
    flat = json.dumps(value, ensure_ascii=False, default=str)
    return flat if len(flat) <= 80 else json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _pairs(headers: Any) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in _dict(headers).items()]


def _body(value: Any) -> str | None:
    return None if value is None else as_text(value)


def _at(entry: dict[str, Any]) -> float:
    return number(entry.get("at")) or 0.0


def _transcript(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """Exchanges, frames and deliveries in the order they happened."""
    events: list[dict[str, Any]] = []
    for e in _list(evidence.get("exchanges")):
        e = _dict(e)
        status = e.get("status")
        events.append({
            "kind": "http", "at": _at(e), "method": str(e.get("method", "")), "url": str(e.get("url", "")),
            "request_headers": _pairs(e.get("request_headers")), "request_body": _body(e.get("request_body")),
            "status": status, "status_class": _status_class(status), "error": e.get("error"),
            "elapsed_ms": number(e.get("elapsed_ms")),
            "response_headers": _pairs(e.get("response_headers")),
            "response_body": _body(e.get("response_body"))})
    for f in _list(evidence.get("frames")):
        f = _dict(f)
        events.append({
            "kind": "ws", "at": _at(f), "socket": str(f.get("socket", "")),
            "direction": str(f.get("direction", "")), "type": str(f.get("type", "")),
            "code": f.get("code"), "reason": f.get("reason"), "data": _body(f.get("data"))})
    for d in _list(evidence.get("deliveries")):
        d = _dict(d)
        answer = d.get("answer")
        events.append({
            "kind": "delivery", "at": _at(d), "method": str(d.get("method", "")),
            "path": str(d.get("path", "")), "headers": _pairs(d.get("headers")),
            "body": _body(d.get("body")), "answer": None if answer is None else as_text(answer)})
    events.sort(key=lambda ev: ev["at"])
    return events


def _status_class(status: Any) -> str:
    if not isinstance(status, int):
        return "bad"
    return "ok" if status < 400 else "bad"


def _check(check: dict[str, Any]) -> dict[str, Any]:
    return {"name": str(check.get("name", "")), "passed": bool(check.get("passed")),
            "level": str(check.get("level", "")), "message": str(check.get("message", "")),
            "clause": check.get("clause"), "has_values": "expected" in check or "observed" in check,
            "expected": _json(check.get("expected")), "observed": _json(check.get("observed"))}


def _scenario(index: int, entry: dict[str, Any]) -> dict[str, Any]:
    evidence = _dict(entry.get("evidence"))
    checks = [_check(_dict(c)) for c in _list(entry.get("checks"))]
    failure = _dict(entry.get("failure")) or None
    failed_checks = [c for c in checks if not c["passed"]]
    if failure is not None:
        named = next((c for c in failed_checks if c["name"] == failure.get("check")), None)
        failure = {"check": str(failure.get("check", "")), "message": str(failure.get("message", "")),
                   "expected": _json(failure.get("expected")), "observed": _json(failure.get("observed")),
                   "clause": named["clause"] if named else None}
        failed_checks = [c for c in failed_checks if c is not named]
    source = _dict(entry.get("source"))
    transcript = _transcript(evidence)
    verdict = str(entry.get("verdict", "ERROR"))
    return {
        "index": index, "id": str(entry.get("id", "")), "title": str(entry.get("title", "")),
        "profile": str(entry.get("profile", "")), "level": str(entry.get("level", "")),
        "requirement": str(entry.get("requirement", "")), "kind": str(entry.get("kind", "")),
        "tags": [str(t) for t in _list(entry.get("tags"))], "verdict": verdict,
        "prominent": verdict in PROMINENT, "reason": str(entry.get("reason", "")),
        "clause": str(source.get("clause", "")), "seed": str(source.get("seed", "")),
        "duration": seconds(number(entry.get("duration_s")), "?"),
        "failure": failure, "failed_checks": failed_checks, "checks": checks,
        "timings": [chart(_dict(t)) for t in _list(evidence.get("timings"))],
        "transcript": transcript,
        "contents": _contents(verdict in PROMINENT, len(checks), transcript),
        "notes": [str(n) for n in _list(evidence.get("notes"))],
        "attachments": [(str(k), as_text(v)) for k, v in _dict(evidence.get("attachments")).items()],
        "skip_kind": str(_dict(entry.get("skip")).get("kind", "")), "outcome": str(entry.get("outcome", "")),
        "baseline": _dict(entry.get("baseline")) or None, "fails_run": bool(entry.get("fails_run")),
    }


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _contents(prominent: bool, checks: int, transcript: list[dict[str, Any]]) -> str:
    """What the collapsed part holds: "clause, 2 checks, transcript: 3 HTTP exchanges, 1 delivery"."""
    kinds = [(k, one, many) for k, one, many in (("http", "HTTP exchange", "HTTP exchanges"),
                                                 ("ws", "frame", "frames"), ("delivery", "delivery", "deliveries"))]
    parts = [_plural(sum(1 for e in transcript if e["kind"] == k), one, many) for k, one, many in kinds
             if any(e["kind"] == k for e in transcript)]
    head = ("" if prominent else "clause, ") + _plural(checks, "check", "checks")
    return head + (", transcript: " + ", ".join(parts) if parts else ", no transcript")


def _declared(section: Any) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """Per-profile rows ``(profile, name, value)`` and shared rows ``(name, value)``."""
    per_profile: list[tuple[str, str, str]] = []
    shared: list[tuple[str, str]] = []
    for key, value in _dict(section).items():
        if isinstance(value, dict):
            per_profile += [(key, str(n), _setting(v)) for n, v in value.items()]
        else:
            shared.append((key, _setting(value)))
    return per_profile, shared


def _setting(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


COVERAGE_COLUMNS = ("selected", "executed", "not tested", "not applicable", "error", "not run")


def _coverage(value: Any) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Coverage as a table: columns, then one row per level (a report.json from before
    ``coverage.levels`` had rows of its own keys)."""
    rows = _dict(value)
    if isinstance(rows.get("levels"), dict):
        levels = _dict(rows["levels"])
        return list(COVERAGE_COLUMNS), [(lv, [_setting(_dict(levels[lv]).get(c, 0)) for c in COVERAGE_COLUMNS])
                                        for lv in LEVELS if lv in levels]
    columns: list[str] = []
    for cells in rows.values():
        columns += [str(k) for k in _dict(cells) if str(k) not in columns]
    table = [(str(key), [_setting(_dict(cells).get(c, "")) for c in columns] if isinstance(cells, dict)
              else [_setting(cells)]) for key, cells in rows.items()]
    return columns or ["value"], table


def _not_executed(coverage: Any) -> list[dict[str, str]]:
    return [{k: str(_dict(n).get(k, "")) for k in ("id", "level", "why", "reason", "setting")}
            for n in _list(_dict(coverage).get("not_executed"))]


def _order(scenario: dict[str, Any]) -> tuple[int, int]:
    v = scenario["verdict"]
    return (VERDICTS.index(v) if v in VERDICTS else 0, scenario["index"])


def view(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, with defaults for what an older report.json lacks."""
    report = visible(report)
    run, target, summary = _dict(report.get("run")), _dict(report.get("target")), _dict(report.get("summary"))
    scenarios = sorted((_scenario(i, _dict(e)) for i, e in enumerate(_list(report.get("scenarios")), 1)),
                       key=_order)
    timings, timing_shared = _declared(target.get("timings"))
    options, option_shared = _declared(target.get("options"))
    coverage_columns, coverage = _coverage(report.get("coverage"))
    present = {s["verdict"] for s in scenarios}
    return {
        "tool": _dict(report.get("tool")), "run": {
            "id": str(run.get("id", "")), "started": str(run.get("started", "")),
            "finished": str(run.get("finished", "")),
            "duration": seconds(number(run.get("duration_s")), "?"),
            "exit_code": run.get("exit_code"), "strict": bool(run.get("strict")),
            "level": str(run.get("level", "")), "seed": run.get("seed"),
            "interrupted": bool(run.get("interrupted")), "signal": run.get("signal"),
            "exit_meaning": str(run.get("exit_meaning", "")),
            "exit_reasons": [str(r) for r in _list(run.get("exit_reasons"))],
            "require": [str(r) for r in _list(run.get("require"))]},
        "target": {"base_url": str(target.get("base_url", "")),
                   "control_url": target.get("control_url"), "bundled": bool(target.get("bundled")),
                   "auth": target.get("auth"), "faults": [str(f) for f in _list(target.get("faults"))],
                   "tenants": [str(t) for t in _list(target.get("tenants"))],
                   "request_timeout": target.get("request_timeout"), "max_wait": target.get("max_wait")},
        "total": summary.get("total", len(scenarios)),
        "counts": [(v, int(summary.get(v, 0) or 0)) for v in VERDICTS],
        "scenarios": scenarios,
        "attention": sum(1 for s in scenarios if s["prominent"]),
        "verdicts": [v for v in VERDICTS if v in present] or list(VERDICTS),
        "profiles": sorted({s["profile"] for s in scenarios}),
        "levels": [lv for lv in LEVELS if any(s["level"] == lv for s in scenarios)],
        "tags": sorted({t for s in scenarios for t in s["tags"]}),
        "timings": timings, "timing_shared": timing_shared,
        "options": options, "option_shared": option_shared,
        "coverage_columns": coverage_columns, "coverage": coverage,
        "not_executed": _not_executed(report.get("coverage")),
        "requirements": [_dict(r) for r in _list(_dict(report.get("coverage")).get("requirements"))],
        "not_run": int(summary.get("not_run", 0) or 0),
        "baseline": _dict(report.get("baseline")) or None,
    }


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@lru_cache(maxsize=1)
def _template() -> tuple[Template, str, str]:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["seconds"] = seconds
    style = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    return env.get_template("report.html.j2"), style, script


def render(report: dict[str, Any]) -> str:
    template, style, script = _template()
    csp = (f"default-src 'none'; style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
           "img-src 'none'; base-uri 'none'; form-action 'none'")
    # style and script are this package's own files, never target data: they go in unescaped
    return template.render(**view(report), csp=csp, style=Markup(style), script=Markup(script))


def write_html(report: dict[str, Any], path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")
