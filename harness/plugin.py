"""The pytest plugin (pytest11 entry point): options, collection of scenarios/, verdicts, reports.

Each scenario file is a pytest item. Its setup phase runs the scenario: an ERROR verdict is a
setup error and a SKIP a skip; the call phase raises for a FAIL (or a WARN under --strict); a
verdict the baseline expects is an xfail. The setup report carries the scenario's report.json
entry in its ``user_properties``, so the controller of a pytest-xdist run (or the one process
without it) builds every report and the exit code from the reports of all workers, once, as
pytest's junitxml does; a scenario selected but never reported did not run.
"""
from __future__ import annotations

import os
import sys

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.baseline import check_ids, load_baseline
from harness import progress
from harness.catalog import CatalogError, Scenario, catalog, load_file, select
from harness.outcome import Requirement
from harness.profile import profile_names
from harness.reporting.allure_labels import decorate
from harness.reporting.report_json import build_report, scenario_meta, write_report, write_reports
from harness.reporting.summary import terminal_summary
from harness.runner import Result
from harness.session import RunSession, resolve_settings
from harness.settings import add_pytest_options, from_namespace, validate_settings
from harness.target import build_target
from harness.verdicts import ConfigError, Level, Verdict

RUN_KEY = pytest.StashKey[RunSession]()
DEFAULT_JOBS = 12
SELECT_KEY = pytest.StashKey[dict[str, Any]]()
RECORD = "conformance"  # the user_properties key of a scenario's report.json entry


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("conformance", "progress-conformance (see `conformance run --help`)")
    add_pytest_options(g)
    g.addoption("--conformance-config", help="YAML or TOML config file")
    g.addoption("--conformance-run-id")
    g.addoption("--conformance-reference-fault", action="append", default=[],
                help="switch on a fault in the bundled reference server (repeatable)")


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    opt = config.getoption
    overrides = from_namespace(vars(config.option), pytest=True)
    try:
        validate_settings(overrides, "command line")
        settings = resolve_settings(opt("conformance_config"), overrides)
        require = [Requirement.parse(r, list(profile_names())) for r in settings.pop("require", None) or []]
        baseline = settings.pop("baseline", None)
        expected = load_baseline(baseline) if baseline else {}
        if expected:
            check_ids(expected, {s.id for s in catalog()}, baseline)
    except (ConfigError, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from exc
    level = Level(settings.pop("level", "MAY"))
    selection = {"profiles": settings.pop("profiles", None) or list(profile_names()),
                 "patterns": settings.pop("select", None) or [], "level": level}
    summary = settings.pop("summary", None)
    jobs = int(settings.pop("jobs", DEFAULT_JOBS))
    run = RunSession(settings=settings, faults=tuple(opt("conformance_reference_fault")),
                     strict=bool(settings.pop("strict", False)), level=level,
                     seed=int(settings.pop("seed", 0)),
                     report_root=Path(settings.pop("report_dir")) if settings.get("report_dir") else None,
                     require=require, expected=expected)
    run.baseline_path, run.summary_path = baseline, summary
    # pytest-xdist hands items out one by one: there, its workers are the concurrency
    run.jobs = 1 if is_worker(config) or getattr(config.option, "numprocesses", None) else jobs
    worker_run_id = getattr(config, "workerinput", {}).get("conformance_run_id")
    if worker_run_id or opt("conformance_run_id"):
        run.run_id = worker_run_id or opt("conformance_run_id")
    config.stash[RUN_KEY] = run
    config.stash[SELECT_KEY] = selection
    if not is_worker(config):
        config.pluginmanager.register(Controller(config), "conformance-controller")
        progress.install(progress.reporter_for(sys.stdout))


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


class ScenarioFailed(AssertionError):
    """A FAIL verdict (or a WARN under --strict): an assertion about the target that did not hold."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result: Result | None = None
        self.record: dict[str, Any] | None = None
        self.user_properties.append(("level", str(scenario.level)))

    def setup(self) -> None:
        run = self.config.stash[RUN_KEY]
        try:
            self.result = result = run.run(self.scenario)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from exc
        self.record = run.record(result)
        self.user_properties.append(("verdict", str(result.verdict)))
        decorate(result, run.run_id)
        expected = run.expected.get(self.scenario.id)
        if result.verdict is Verdict.ERROR and expected != "ERROR":
            raise ScenarioError(result.reason)
        if result.verdict is Verdict.SKIP:
            pytest.skip(f"{self.record['entry']['skip']['kind']}: {result.reason}")

    def runtest(self) -> None:
        assert self.result is not None
        run = self.config.stash[RUN_KEY]
        verdict = self.result.verdict
        if str(verdict) == run.expected.get(self.scenario.id):
            pytest.xfail(f"{verdict} expected by the baseline: {self.result.reason}")
        if verdict is Verdict.FAIL or (verdict is Verdict.WARN and run.strict):
            raise ScenarioFailed(self.result.reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioError)) and self.result is not None:
            return failure_text(self.result)
        return str(super().repr_failure(excinfo))

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """A setup-phase ERROR is reported by its verdict, never by formatting a Python traceback:
        pytest would parse source files for it (ast.parse) while other scenarios run in threads,
        and on CPython 3.11 concurrent ast.parse calls can fail with SystemError (an INTERNALERROR)."""
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioError)) and self.result is not None:
            return failure_text(self.result)
        return super()._repr_failure_py(excinfo, style)

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
    if not isinstance(item, ScenarioItem) or item.result is None:
        return report
    if call.when == "setup" and item.record is not None:
        # on this one report only: it travels to the xdist controller with the report
        report.user_properties.append((RECORD, json.dumps(item.record, default=str)))
    if call.excinfo is not None and isinstance(call.excinfo.value, ScenarioError):
        report.longrepr = failure_text(item.result)  # the verdict, not the harness's traceback
    run = item.config.stash[RUN_KEY]
    expected = run.expected.get(item.scenario.id)
    if call.when == "call" and expected and report.passed and str(item.result.verdict) != expected:
        # a stale baseline entry, told as pytest tells an XPASS (strict: a failure)
        report.wasxfail = f"stale baseline entry: expected {expected}, got {item.result.verdict}"
        if run.strict:
            report.outcome, report.longrepr = "failed", f"[XPASS(strict)] {report.wasxfail}"
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


def pytest_collection_finish(session: pytest.Session) -> None:
    if not is_worker(session.config):
        _selected(session.config.stash[RUN_KEY],
                  [(i.nodeid, i.scenario) for i in session.items if isinstance(i, ScenarioItem)])


def _selected(run: RunSession, found: list[tuple[str, Scenario]]) -> None:
    run.selected = [scenario_meta(s) for _, s in found]
    run.scenario_nodes = {nodeid for nodeid, _ in found}
    if run.selected:
        run.catch_signals()


class Controller:
    """The hooks that need the config but are not given it: the controller's view of the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.run = config.stash[RUN_KEY]

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: every worker runs under the controller's run id (one run, one folder)."""
        node.workerinput["conformance_run_id"] = self.run.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_newgateway(self, gateway: Any) -> None:
        """pytest-xdist: learn each worker's pid, so a signal to the run reaches the scenario a
        worker is running (the controller alone would wait for it to end)."""
        try:
            self.run.worker_pids.append(int(gateway.remote_exec("import os; channel.send(os.getpid())").receive(10)))
        except Exception:  # a remote or exotic gateway: it finishes its scenario first
            pass

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """pytest-xdist: the controller learns the selection from the first worker's collection."""
        if self.run.selected:
            return
        found = []
        for nodeid in ids:
            path = self.config.rootpath / nodeid.split("::")[0]
            if _is_scenario_file(path):
                try:
                    found.append((nodeid, load_file(path)))
                except CatalogError:
                    continue
        _selected(self.run, found)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.run.collection_errors += 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RECORD:
                self.run.add_record(json.loads(str(value)))
                write_progress(self.run)
        if report.failed and report.nodeid not in self.run.scenario_nodes:
            self.run.other_failures += 1

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if self.run.signal is None:
            if type(excinfo.value).__name__ == "Interrupted":  # pytest's or xdist's: stopped, not signalled
                self.run.stopped_early = True
            else:
                self.run.signal = "SIGINT"  # a Ctrl-C that reached pytest's own handler


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    run.finishing = True
    run.stop()
    if is_worker(config) or not (run.selected or run.entries) or run.collection_errors:
        return
    if exitstatus not in (0, 1, 2) or (exitstatus == 2 and not (run.signal or run.stopped_early)):
        return  # pytest's own usage or internal error: leave its code alone
    if len(run.entries) < len(run.selected) and run.signal is None:
        run.stopped_early = True
    judgement = run.judge()
    target = run.target_described or _target_from_settings(run)
    report = build_report(judgement, target, run_id=run.run_id, started=run.started, strict=run.strict,
                          level=str(run.level), seed=run.seed, signal=run.signal,
                          require=[r.text for r in run.require], baseline=run.baseline_path,
                          profiles=sorted({m["profile"] for m in run.selected}))
    out = run.report_dir()
    junit = config.getoption("xmlpath", None)
    allure = config.getoption("allure_report_dir", None)
    run.written = write_reports(report, out, pytest_junit=Path(junit) if junit else None,
                                allure_dir=Path(allure) if allure else None,
                                summary=Path(run.summary_path) if run.summary_path else None)
    if out is not None:
        run.link_latest()
    run.report = report
    session.exitstatus = judgement.exit_code


def write_progress(run: RunSession) -> None:
    """report.json as it stands after each scenario (``run.in_progress``), so a run killed from
    outside still leaves a report of what it did; the end of the run overwrites it."""
    out = run.report_dir()
    if out is None or run.finishing:
        return
    report = build_report(run.judge(), run.target_described or _target_from_settings(run), run_id=run.run_id,
                          started=run.started, strict=run.strict, level=str(run.level), seed=run.seed,
                          require=[r.text for r in run.require], baseline=run.baseline_path,
                          profiles=sorted({m["profile"] for m in run.selected}), in_progress=True)
    tmp = out / "report.json.part"
    write_report(report, tmp, provisional=True)
    os.replace(tmp, out / "report.json")


def _target_from_settings(run: RunSession) -> dict[str, Any] | None:
    if run.bundled:
        return {"base_url": "", "bundled": True, "faults": list(run.faults)}
    try:
        return build_target(run.settings).described()
    except ConfigError:
        return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None and run.report is not None:
        terminal_summary(terminalreporter, run.report, run.report_dir(), run.written)


def pytest_unconfigure(config: pytest.Config) -> None:
    progress.install(None)
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.release_signals()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Start the selected scenarios concurrently (``--jobs``); each item then takes its result."""
    run = session.config.stash.get(RUN_KEY, None)
    if run is None or session.config.option.collectonly:
        return
    try:
        run.prefetch([i.scenario for i in session.items if isinstance(i, ScenarioItem)])
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
