"""report.html: one self-contained page rendered from report.json, for people to read and archive."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.PASS{background:#d9f2d9}.FAIL{background:#f8d0d0}.WARN{background:#fff0c0}.SKIP{background:#eee}.ERROR{background:#f0c8f0}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap}details{margin:4px 0}
"""


def _evidence_text(entry: dict[str, Any]) -> str:
    lines = []
    for e in entry["evidence"].get("exchanges", []):
        status = e.get("status", e.get("error", ""))
        lines.append(f"[{e['at']:.3f}s] {e['method']} {e['url']} -> {status}")
        if e.get("response_body") is not None:
            lines.append("    " + json.dumps(e["response_body"])[:600])
    for f in entry["evidence"].get("frames", []):
        data = json.dumps(f.get("data"))[:300] if f.get("data") is not None else ""
        lines.append(f"[{f['at']:.3f}s] ws {f['socket']} {f['direction']} {f['type']} {data}")
    for t in entry["evidence"].get("timings", []):
        lines.append(f"timing {t['name']}: observed {t['observed']} within [{t['lower']}, {t['upper']}] -> {t['verdict']}")
    for n in entry["evidence"].get("notes", []):
        lines.append("note: " + n)
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    s = report["summary"]
    head = " ".join(f"{k}: {s[k]}" for k in ("total", "PASS", "FAIL", "WARN", "SKIP", "ERROR"))
    rows = []
    for e in report["scenarios"]:
        detail = ""
        if e.get("failure"):
            f = e["failure"]
            detail = (f"<table><tr><th>expected</th><th>observed</th></tr><tr><td><pre>"
                      f"{escape(json.dumps(f['expected'], indent=1))}</pre></td><td><pre>"
                      f"{escape(json.dumps(f['observed'], indent=1))}</pre></td></tr></table>")
        rows.append(
            f"<tr class='{e['verdict']}'><td>{escape(e['id'])}</td><td>{e['verdict']}</td>"
            f"<td>{e['level']}</td><td>{escape(e['title'])}<details><summary>clause, checks, evidence</summary>"
            f"<blockquote>{escape(e['source']['clause'])}<br><small>{escape(e['source']['seed'])}</small></blockquote>"
            f"<p>{escape(e['reason'])}</p>{detail}<pre>{escape(_evidence_text(e))}</pre></details></td>"
            f"<td>{e['duration_s']:.2f}s</td></tr>")
    run = report["run"]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Conformance report {escape(run['id'])}</title>"
            f"<style>{_STYLE}</style></head><body><h1>Conformance report</h1>"
            f"<p>Run {escape(run['id'])}, {escape(run['started'])}, target {escape(str(report['target'].get('base_url')))}"
            f" (exit code {run['exit_code']})</p><p><b>{escape(head)}</b></p>"
            f"<table><tr><th>scenario</th><th>verdict</th><th>level</th><th>title</th><th>time</th></tr>"
            f"{''.join(rows)}</table></body></html>")


def write_html(report: dict[str, Any], path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")
