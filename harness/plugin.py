"""The pytest plugin (pytest11 entry point): options, collection of scenarios/, verdicts, reports.

Each scenario file is a pytest item. Its setup phase runs the scenario: an ERROR verdict is a
setup error and a SKIP a skip; the call phase raises for a FAIL (or a WARN under --strict).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.catalog import CatalogError, Scenario, load_file, select
from harness.profile import profile_names
from harness.reporting.allure_labels import decorate
from harness.reporting.html import write_html
from harness.reporting.report_json import build_report, write_report
from harness.runner import Result
from harness.session import RunSession, resolve_settings
from harness.settings import add_pytest_options, from_namespace, validate_settings
from harness.verdicts import ConfigError, Level, Verdict

RUN_KEY = pytest.StashKey[RunSession]()
SELECT_KEY = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("conformance", "progress-conformance (see `conformance run --help`)")
    add_pytest_options(g)
    g.addoption("--conformance-config", help="YAML or TOML config file")
    g.addoption("--conformance-run-id")
    g.addoption("--conformance-reference-fault", action="append", default=[],
                help="switch on a fault in the bundled reference server (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    opt = config.getoption
    overrides = from_namespace(vars(config.option), pytest=True)
    try:
        validate_settings(overrides, "command line")
        settings = resolve_settings(opt("conformance_config"), overrides)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
    level = Level(settings.pop("level", "MAY"))
    selection = {"profiles": settings.pop("profiles", None) or list(profile_names()),
                 "patterns": settings.pop("select", None) or [], "level": level}
    run = RunSession(settings=settings, faults=tuple(opt("conformance_reference_fault")),
                     strict=bool(settings.pop("strict", False)), level=level,
                     seed=int(settings.pop("seed", 0)),
                     report_root=Path(settings.pop("report_dir")) if settings.get("report_dir") else None)
    if opt("conformance_run_id"):
        run.run_id = opt("conformance_run_id")
    config.stash[RUN_KEY] = run
    config.stash[SELECT_KEY] = selection


def _is_scenario_file(path: Path) -> bool:
    return (path.suffix == ".yaml" and path.parent.name in profile_names()
            and path.parent.parent.name == "scenarios")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = load_file(self.path)
        except CatalogError as exc:
            raise self.CollectError(str(exc)) from exc
        yield ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)


class ScenarioError(Exception):
    """An ERROR verdict, raised in the setup phase so reports count it as an error."""


class ScenarioFailed(Exception):
    """A FAIL verdict (or a WARN under --strict)."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result: Result | None = None
        self.user_properties.append(("level", str(scenario.level)))

    def setup(self) -> None:
        run = self.config.stash[RUN_KEY]
        try:
            self.result = result = run.run(self.scenario)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from exc
        self.user_properties.append(("verdict", str(result.verdict)))
        decorate(result)
        if result.verdict is Verdict.ERROR:
            raise ScenarioError(result.reason)
        if result.verdict is Verdict.SKIP:
            pytest.skip(result.reason)

    def runtest(self) -> None:
        assert self.result is not None
        run = self.config.stash[RUN_KEY]
        if self.result.verdict is Verdict.FAIL or (self.result.verdict is Verdict.WARN and run.strict):
            raise ScenarioFailed(self.result.reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioError)) and self.result is not None:
            return failure_text(self.result)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.scenario.id} [{self.scenario.level}] {self.scenario.title}"


def failure_text(result: Result) -> str:
    s = result.scenario
    lines = [f"{result.verdict}: {s.id} ({s.level}) {s.title}",
             f"clause ({s.source.seed}): {s.source.clause.strip()}", f"reason: {result.reason}"]
    if result.failure is not None:
        lines += [f"expected: {result.failure.expected!r}", f"observed: {result.failure.observed!r}"]
    return result.evidence.redactor.text("\n".join(lines))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if (isinstance(item, ScenarioItem) and item.result is not None and call.excinfo is not None
            and isinstance(call.excinfo.value, ScenarioError)):
        report.longrepr = failure_text(item.result)  # the verdict, not the harness's traceback
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    sel = config.stash[SELECT_KEY]
    scenarios = [i.scenario for i in items if isinstance(i, ScenarioItem)]
    chosen = {s.id for s in select(scenarios, profiles=sel["profiles"], patterns=sel["patterns"],
                                   level=sel["level"])}
    keep = [i for i in items if not isinstance(i, ScenarioItem) or i.scenario.id in chosen]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    verdict = dict(getattr(report, "user_properties", ())).get("verdict")
    if report.when == "call" and verdict == "WARN" and report.passed:
        return "warned", "W", "WARN"
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None or not run.results:
        return
    tr = terminalreporter
    tr.section("conformance summary")
    width = max(len(r.scenario.id) for r in run.results)
    for r in run.results:
        tr.write_line(f"{r.scenario.id:<{width}}  {r.verdict:<5}  {r.scenario.level:<6}  "
                      f"{r.duration:6.2f}s  {r.evidence.redactor.text(r.reason)[:100] if r.verdict is not Verdict.PASS else ''}")
    counts = {v: sum(1 for r in run.results if r.verdict is v) for v in Verdict}
    tr.write_line("  ".join(f"{v}: {n}" for v, n in counts.items()) + f"  exit code: {run.exit_code()}")
    out = run.report_dir()
    if out is not None:
        tr.write_line(f"reports: {out}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(RUN_KEY, None)
    if run is None:
        return
    run.stop()
    if not run.results:
        return
    out = run.report_dir()
    if out is not None:
        report = build_report(run.results, run.target, run_id=run.run_id, started=run.started,
                              exit_code=run.exit_code(), strict=run.strict, level=run.level, seed=run.seed)
        write_report(report, out / "report.json")
        write_html(report, out / "report.html")
        run.link_latest()
    if exitstatus in (0, 1):  # leave pytest's own usage/internal errors alone
        session.exitstatus = run.exit_code()
