"""`conformance run`: check the settings, then hand the run to pytest with the harness plugin."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import check_ids, load_baseline
from harness.catalog import catalog
from harness.outcome import EXIT_CODES, EXIT_ERROR, EXIT_USAGE, SIGNAL_EXIT, Requirement
from harness.profile import profile_names
from harness.resources import scenarios_dir
from harness.settings import from_namespace, to_pytest_args, validate_settings
from harness.session import new_run_id, resolve_settings
from harness.target import build_target
from harness.verdicts import ConfigError

# pytest's own exit codes, mapped onto ours (the others come from the plugin's judgement)
_PYTEST_TO_OURS = {2: EXIT_USAGE, 4: EXIT_USAGE, 5: EXIT_USAGE}


def _check_settings(args: argparse.Namespace) -> dict[str, object]:
    given = from_namespace(vars(args))
    validate_settings(given, "command line")
    settings = resolve_settings(args.config, given)
    if settings.get("target"):
        build_target(settings)  # raises ConfigError naming the setting
        if args.reference_fault:
            raise ConfigError("--reference-fault: applies to the bundled server only, not with --target")
    else:
        from reference_server.faults import check_names
        try:
            check_names(args.reference_fault)
        except ValueError as exc:
            raise ConfigError(f"--reference-fault: {exc}") from exc
    try:
        for scope in settings.get("require") or []:
            Requirement.parse(scope, list(profile_names()))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if settings.get("baseline"):
        check_ids(load_baseline(settings["baseline"]), {s.id for s in catalog()}, settings["baseline"])
    return settings


def pytest_args(args: argparse.Namespace, out: Path, run_id: str) -> tuple[list[str], dict[str, str]]:
    """pytest's arguments and the environment (secrets travel there, never on a command line)."""
    ini = Path(__file__).resolve().parent.parent / "conformance.ini"
    argv = [str(scenarios_dir()), "-c", str(ini), "--rootdir", str(scenarios_dir().parent),
            # pytest plugins a run has no use for cost a second of every start (schemathesis's
            # alone ~0.3 s; assertion rewriting compiles the harness anew: verdicts are not asserts)
            "-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:anyio", "--assert=plain",
            "--alluredir", str(out / "allure-results"), f"--conformance-run-id={run_id}",
            f"--conformance-report-dir={out.parent}", "-rfE",
            "-q" if args.quiet else "-v", "--no-header", "--tb=short",
            "--capture=no"]  # scenarios print nothing; live progress of long waits goes to the terminal
    from harness.cli import plugin_registered
    if not plugin_registered():
        argv += ["-p", "harness.plugin"]
    given, env = to_pytest_args({k: v for k, v in from_namespace(vars(args)).items() if k != "report_dir"})
    argv += given
    if args.config:
        argv.append(f"--conformance-config={args.config}")
    argv += [f"--conformance-reference-fault={f}" for f in args.reference_fault]
    return argv + list(getattr(args, "pytest_args", None) or []), env


class _Judged:
    """Reads the exit code the plugin judged (None when pytest stopped before any judgement)."""

    code: int | None = None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        from harness.plugin import RUN_KEY
        run = config.stash.get(RUN_KEY, None)
        if run is not None and run.report is not None:
            self.code = int(run.report["run"]["exit_code"])


def run_command(args: argparse.Namespace) -> int:
    try:
        settings = _check_settings(args)
    except ConfigError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    root = Path(str(args.report_dir or settings.get("report_dir") or "reports"))
    run_id = new_run_id()
    out = root / run_id
    try:
        (out / "allure-results").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"conformance: --report-dir {root}: cannot create: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    argv, env = pytest_args(args, out, run_id)
    # Hypothesis keeps its files (with absolute source paths) in the run's report folder, not in
    # the user's current folder
    env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
                   or str((out / ".hypothesis").resolve()))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    received: list[str] = []

    def early(signum: int, frame: Any) -> None:  # until the plugin takes over (scenarios selected)
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt(received[-1])

    previous = {sig: signal.signal(sig, early) for sig in (signal.SIGINT, signal.SIGTERM)}
    judged = _Judged()
    try:
        code = int(pytest.main(argv, plugins=[judged]))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if judged.code is not None and code == judged.code:
        return code  # the plugin's judgement (its 4 is not pytest's usage error)
    if code == 2 and received:
        return SIGNAL_EXIT[received[0]]
    if code in _PYTEST_TO_OURS:
        print(f"conformance: pytest stopped with code {code} (usage, collection error or no scenario "
              f"selected); see the messages above", file=sys.stderr)
        _forget_empty(out)  # a usage error writes no report: leave no empty run folder behind
        return _PYTEST_TO_OURS[code]
    return code if code in EXIT_CODES else EXIT_ERROR


def _forget_empty(out: Path) -> None:
    """Remove the run folder when nothing but empty folders was written in it."""
    try:
        if all(p.is_dir() for p in out.rglob("*")) and not any(p.is_file() for p in out.rglob("*")):
            shutil.rmtree(out)
    except OSError:
        pass
