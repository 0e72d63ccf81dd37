"""`conformance run`: check the settings, then hand the run to pytest with the harness plugin."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from harness.resources import scenarios_dir
from harness.session import EXIT_ERROR, EXIT_USAGE, new_run_id, resolve_settings
from harness.target import build_target
from harness.verdicts import ConfigError

# pytest's own exit codes, mapped onto ours (0, 1 and 3 come from the plugin's verdicts)
_PYTEST_TO_OURS = {2: EXIT_USAGE, 4: EXIT_USAGE, 5: EXIT_USAGE}


def _check_settings(args: argparse.Namespace) -> dict[str, object]:
    settings = resolve_settings(args.config, {
        "target": args.target, "control": args.control, "token": args.token,
        "client_id": args.client_id, "client_secret": args.client_secret, "token_url": args.token_url,
        "tenants": args.tenant, "max_wait": args.max_wait,
    })
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
    return settings


def pytest_args(args: argparse.Namespace, out: Path, run_id: str) -> list[str]:
    ini = Path(__file__).resolve().parent.parent / "conformance.ini"
    argv = [str(scenarios_dir()), "-c", str(ini), "--rootdir", str(scenarios_dir().parent),
            "-p", "no:cacheprovider", "--junitxml", str(out / "junit.xml"),
            "--alluredir", str(out / "allure-results"), "--conformance-run-id", run_id,
            "--conformance-report-dir", str(out.parent), "-rfE",
            "-q" if args.quiet else "-v", "--no-header", "--tb=short"]
    from harness.cli import plugin_registered
    if not plugin_registered():
        argv += ["-p", "harness.plugin"]
    pairs = [("--conformance-target", args.target), ("--conformance-control", args.control),
             ("--conformance-token", args.token), ("--conformance-client-id", args.client_id),
             ("--conformance-client-secret", args.client_secret),
             ("--conformance-token-url", args.token_url), ("--conformance-config", args.config),
             ("--conformance-level", args.level), ("--conformance-seed", args.seed),
             ("--conformance-max-wait", args.max_wait)]
    for flag, value in pairs:
        if value is not None:
            argv += [flag, str(value)]
    for flag, values in (("--conformance-tenant", args.tenant), ("--conformance-profile", args.profile),
                         ("--conformance-select", args.select),
                         ("--conformance-reference-fault", args.reference_fault)):
        for value in values:
            argv += [flag, value]
    if args.strict:
        argv.append("--conformance-strict")
    return argv


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
    code = int(pytest.main(pytest_args(args, out, run_id)))
    if code in _PYTEST_TO_OURS:
        print(f"conformance: pytest stopped with code {code} (usage, collection error or no scenario "
              f"selected); see the messages above", file=sys.stderr)
        return _PYTEST_TO_OURS[code]
    return code if code in (0, 1, 3) else EXIT_ERROR
