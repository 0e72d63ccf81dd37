"""The `conformance` command: run | serve | list | validate | baseline | diff.

`run` builds pytest arguments and calls pytest.main with the harness plugin: pytest collects,
selects and reports; this module only translates flags and exit codes. Arguments after ``--``
go to pytest as they are (``conformance run -- -n 2 -x``).
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness.outcome import EXIT_CODES as _CODES
from harness.settings import add_arguments

EXIT_CODES = "exit codes:\n" + "".join(f"{code:>5}  {text}\n" for code, text in _CODES.items())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="conformance", description="Conformance test kit for job-progress protocols.",
                                epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"conformance (progress-conformance) {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the scenarios against a target (default: the bundled reference server)",
                         usage="conformance run [options] [select ...] [-- pytest arguments]",
                         epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("select", nargs="*", help="scenario ids, globs (fp-*) or tag:NAME; default all")
    run.add_argument("--config", help="YAML or TOML file with the same settings plus timings and profile options")
    add_arguments(run)
    run.add_argument("--reference-fault", action="append", default=[], metavar="FAULT",
                     help="bundled server only: switch on a named fault (see `conformance serve --list-faults`)")
    run.add_argument("-q", "--quiet", action="store_true", help="less output")

    serve = sub.add_parser("serve", help="run the reference server on its own")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--db", default=":memory:", help="SQLite file; feed state survives a restart")
    serve.add_argument("--timings", choices=["fast", "spec"], default="spec")
    serve.add_argument("--fault", action="append", default=[], help="switch on a named fault (repeatable)")
    serve.add_argument("--list-faults", action="store_true")
    serve.add_argument("--print-config", action="store_true",
                       help="print the `conformance run --config` file that declares this server's timings and options, and exit")
    serve.add_argument("--token", action="append", default=[], help="accepted bearer token (repeatable; default: printed)")
    serve.add_argument("--client", action="append", default=[], metavar="ID:SECRET",
                       help="ws-progress client credentials (repeatable; default: printed)")

    lst = sub.add_parser("list", help="the scenario catalog: id, profile, level, tags, title, clause")
    lst.add_argument("select", nargs="*", help="scenario ids, globs or tag:NAME (default: all)")
    lst.add_argument("--format", choices=["table", "json"], default="table",
                     help="table (wrapped to the terminal) or json (every field, for tools)")

    val = sub.add_parser("validate", help="validate a JSON document against a named message schema")
    val.add_argument("message", help="schema name, e.g. feed-polling/batch (an unknown name lists them all)")
    val.add_argument("file", help="JSON file, or - for standard input")

    base = sub.add_parser("baseline", help="write a baseline of known failures (every FAIL, WARN, ERROR) from a report.json")
    base.add_argument("report", help="a report.json (e.g. reports/latest/report.json)")
    base.add_argument("-o", "--output", help="the baseline file to write (default: standard output)")

    diff = sub.add_parser("diff", help="what changed between two report.json files (exit 0: no change, 1: changes)")
    diff.add_argument("a", help="the earlier report.json")
    diff.add_argument("b", help="the later report.json")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `conformance list | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if argv[:1] == ["run"] and "--" in argv:  # `run ... -- <pytest args>`
        cut = argv.index("--")
        argv, passed = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    args.pytest_args = passed
    if args.command == "baseline":
        from harness.commands.compare import baseline_command
        return baseline_command(args.report, args.output)
    if args.command == "diff":
        from harness.commands.compare import diff_command
        return diff_command(args.a, args.b, as_json=args.json)
    if args.command == "run":
        from harness.commands.run import run_command
        return run_command(args)
    if args.command == "serve":
        from harness.commands.serve import serve_command
        return serve_command(args)
    if args.command == "list":
        return list_command(args.select, args.format)
    return validate_command(args.message, args.file)


def list_command(patterns: list[str] | None = None, fmt: str = "table") -> int:
    from harness.catalog import catalog, select
    from harness.verdicts import ConfigError
    try:
        scenarios = select(catalog(), patterns=patterns or None)
    except ConfigError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    if fmt == "json":
        print(json.dumps([{"id": s.id, "profile": s.profile, "level": str(s.level), "title": s.title,
                           "requirement": s.requirement, "kind": s.kind, "tags": list(s.tags),
                           "needs": list(s.needs), "resources": list(s.resources),
                           "source": {"seed": s.source.seed, "clause": " ".join(s.source.clause.split())}}
                          for s in scenarios], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table
    table = Table(show_lines=False, expand=True)
    for name, ratio in (("id", 3), ("profile", 2), ("level", 1), ("tags", 2), ("title", 5), ("clause", 6)):
        table.add_column(name, ratio=ratio, overflow="fold")
    for s in scenarios:
        clause = f"{s.source.seed}: " + " ".join(s.source.clause.split())
        table.add_row(s.id, s.profile, str(s.level), ", ".join(s.tags), s.title, clause)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    print(f"{len(scenarios)} scenarios")
    return 0


def validate_command(message: str, file: str) -> int:
    from harness.schemas import registry
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"conformance validate: cannot read {file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        document: Any = json.loads(text)
    except ValueError as exc:
        print(f"conformance validate: {file} is not JSON: {exc}", file=sys.stderr)
        return 1
    try:
        issues = registry().issues(message, document)
    except KeyError as exc:
        print(f"conformance validate: {exc.args[0]}", file=sys.stderr)
        return 2
    if not issues:
        print(f"valid: {file} is a valid {message}")
        return 0
    for issue in issues:
        print(f"invalid at {issue.path}: {issue.message}")
    return 1


def plugin_registered() -> bool:
    return any(ep.value == "harness.plugin" for ep in metadata.entry_points(group="pytest11"))
