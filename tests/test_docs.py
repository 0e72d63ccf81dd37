"""The documents vendors and newcomers read stay true."""
from __future__ import annotations

import json
from pathlib import Path

from harness.profile import get_profile
from harness.target import build_target, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "```sh"
    assert lines[1].startswith("make run ") and lines[2].startswith("make test ")
    assert lines[3] == "```"


def test_example_config_is_valid() -> None:
    settings = load_config(ROOT / "docs" / "target-config.example.yaml")
    target = build_target(settings)
    assert target.timings.get("ws-progress", "idle_timeout") == 30
    assert target.option("ws-progress", "idle_close_code") == 4000
    assert set(target.option("ws-progress", "jobs")) == {"short", "failing", "app-message", "long"}
    assert len(target.all_clients) == 2 and target.option("ws-progress", "submit_format") == "json"


def test_ws_progress_doc_lists_every_option_the_harness_reads() -> None:
    text = (ROOT / "docs" / "ws-progress-jobs.md").read_text(encoding="utf-8")
    missing = [o.name for o in get_profile("ws-progress").options if f"\n| `{o.name}` |" not in text]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_ws_progress_doc_states_the_contracts_conformance_job_bounds() -> None:
    """docs/ws-progress-jobs.md's table of conformanceJob and the contract schema agree."""
    text = (ROOT / "docs" / "ws-progress-jobs.md").read_text(encoding="utf-8")
    contract = json.loads((ROOT / "schemas" / "ws-progress" / "job-request.schema.json").read_text(encoding="utf-8"))
    members = contract["$defs"]["conformanceJob"]["properties"]
    rows = {}
    for line in text.splitlines():
        if line.startswith("| `conformanceJob."):
            name, kind, default = (cell.strip() for cell in line.split("|")[1:4])
            rows[name.strip("`").split(".", 1)[1]] = (kind, default)
    assert set(rows) == set(members)
    for name, member in members.items():
        kind, default = rows[name]
        if member.get("type") == "integer":
            assert kind == f"integer {member['minimum']}..{member['maximum']}", name
        if "default" in member:
            written = json.dumps(member["default"])
            assert default == (f"`{written}`" if isinstance(member["default"], str) else written), name
    assert "id" in contract["required"] and "required" in text.split("\n| `id` |")[1].split("\n")[0]
