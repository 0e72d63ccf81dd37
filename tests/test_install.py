"""A non-editable install into a clean virtualenv works from any directory (schemas and scenarios
ship inside the wheel). Needs the package index for the dependencies: skipped when it is out of reach."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# pip's words when the index (not the package) is the problem
OFFLINE = re.compile(r"(?i)could not find a version|no matching distribution|network is unreachable|"
                     r"temporary failure in name resolution|connection (refused|reset|aborted)|"
                     r"max retries exceeded|read timed out|name or service not known|"
                     r"failed to establish a new connection")


def _env() -> dict[str, str]:
    """The environment without anything that would point Python at the source tree or our venv."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _pip_or_skip(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    if OFFLINE.search(output):
        pytest.skip(f"{what}: the package index is out of reach: {output.strip().splitlines()[-1][:300]}")
    pytest.fail(f"{what} failed (exit {proc.returncode}):\n{output[-4000:]}")


@pytest.mark.slow
def test_wheel_installs_and_runs_from_another_directory(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                  "-w", str(wheels), str(REPO)], cwd=tmp_path, timeout=120)
    _pip_or_skip(build, "building the wheel")
    [wheel] = list(wheels.glob("progress_conformance-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("harness/_data/schemas/feed-polling/") for n in names)
    assert any(n.startswith("harness/_data/scenarios/feed-polling/") for n in names)
    assert any(n.startswith("reference_server/") for n in names)
    assert {"harness/reporting/templates/report.html.j2", "harness/reporting/templates/report.js",
            "harness/reporting/templates/report.css",
            "harness/_data/schemas/asyncapi/progress.asyncapi.json"} <= set(names)
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, timeout=60)
    assert made.returncode == 0, made.stderr
    bindir = venv / "bin"
    install = _run([str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(wheel)], cwd=tmp_path, timeout=240)
    _pip_or_skip(install, "installing the wheel with its dependencies")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(bindir / "python"), "-c",
                  "import harness, harness.resources as r; print(harness.__file__); print(r.scenarios_dir())"],
                 cwd=elsewhere, timeout=60)
    assert where.returncode == 0, where.stderr
    package, scenarios = where.stdout.split()
    assert Path(package).is_relative_to(venv) and not Path(package).is_relative_to(REPO)
    assert Path(scenarios).is_relative_to(venv) and scenarios.endswith("_data/scenarios")

    listed = _run([str(bindir / "conformance"), "list"], cwd=elsewhere, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "fp-discard-all" in listed.stdout and "scenarios" in listed.stdout.splitlines()[-1]
    listed = _run([str(bindir / "conformance"), "list", "--format", "json"], cwd=elsewhere, timeout=60)
    assert any(item["id"] == "fp-discard-all" for item in json.loads(listed.stdout))

    reports = tmp_path / "reports"
    run = _run([str(bindir / "conformance"), "run", "-q", "--profile", "feed-polling", "--report-dir",
                str(reports)], cwd=elsewhere, timeout=180)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    report = json.loads((reports / "latest" / "report.json").read_text())
    assert report["summary"]["total"] == report["summary"]["PASS"] > 0
    assert (reports / "latest" / "junit.xml").is_file()
    assert not (elsewhere / "reports").exists()

    # `python -m harness` and the pytest plugin (pytest11 entry point) come with the install
    module = _run([str(bindir / "python"), "-m", "harness", "--help"], cwd=elsewhere, timeout=60)
    assert module.returncode == 0 and "exit codes" in module.stdout
    plugin = _run([str(bindir / "python"), "-m", "pytest", "--help"], cwd=elsewhere, timeout=60)
    assert plugin.returncode == 0 and "--conformance-target" in plugin.stdout
