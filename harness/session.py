"""One conformance run: settings, the target (bundled or foreign), results, exit code, reports."""
from __future__ import annotations

import base64
import os
import threading
import secrets
import signal
import sys
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


from harness.catalog import Scenario
from harness.evidence import Evidence, Redactor
from harness.outcome import (EXIT_ERROR, EXIT_FAIL, EXIT_OK, EXIT_USAGE, Judgement, Requirement,  # noqa: F401
                             SIGNAL_EXIT, judge)
from harness.runner import Result, run_scenario
from harness.options import normalize_timings
from harness.reporting.report_json import scenario_entry, scenario_meta
from harness.target import Target, _no_password, build_target, load_config
from harness.transport.http import TOKEN_BYTES, HttpClient, issued_token
from harness.scheduling import NotRun, Scheduler, held_across_processes
from harness.transport.receiver import Receiver
from harness.verdicts import ConfigError, Level, TargetUnreachable, Verdict


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def merge_declared(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid over ``base`` one level deep (per-profile timings and options merge key by key)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def resolve_settings(config_file: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The config file's settings with command-line values laid over them (None means unset)."""
    settings = load_config(config_file) if config_file else {}
    if settings.get("timings"):
        settings["timings"], notes = normalize_timings(settings["timings"])
        if notes:
            settings["notes"] = notes
    for key, value in overrides.items():
        if value is None or value == [] or value == ():
            continue
        if key in ("options", "timings"):
            settings[key] = merge_declared(settings.get(key) or {}, value)
        else:
            settings[key] = value
    if settings.get("control") and not settings.get("target"):
        raise ConfigError("control: a --control URL needs a --target URL")
    return settings


DEFAULT_RUN_BUDGET = 3600.0  # seconds: a whole run's bound; the scenarios left then are ERROR


@dataclass
class RunSession:
    settings: dict[str, Any]
    faults: tuple[str, ...] = ()
    strict: bool = False
    level: Level = Level.MAY
    seed: int = 0
    run_id: str = field(default_factory=new_run_id)
    report_root: Path | None = None
    results: list[Result] = field(default_factory=list)
    target: Target | None = None
    unreachable: str | None = None
    started: float = field(default_factory=time.time)
    # the run as the controller sees it (the only process without xdist): what was selected, the
    # report.json entry of each scenario that ended (from this process or a worker), how it stopped
    require: list[Requirement] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)     # the baseline's verdicts
    selected: list[dict[str, Any]] = field(default_factory=list)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_described: dict[str, Any] | None = None
    signal: str | None = None                                   # SIGINT or SIGTERM once received
    stopped_early: bool = False
    other_failures: int = 0
    collection_errors: int = 0
    worker_pids: list[int] = field(default_factory=list)      # pytest-xdist workers, to pass a signal on
    scenario_nodes: set[str] = field(default_factory=set)      # pytest node ids of the selection
    baseline_path: str | None = None
    summary_path: str | None = None
    report: dict[str, Any] | None = None                        # report.json as written
    written: list[Path] = field(default_factory=list)
    finishing: bool = False                                     # judged; reports are being written
    _late_signal: bool = False
    _handlers: dict[int, Any] = field(default_factory=dict)
    _server: Any = None
    _receiver: Receiver | None = None
    _receiver_error: str | None = None
    jobs: int = 1
    _scheduler: Scheduler[Result] | None = None
    _futures: dict[str, "Future[Result]"] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _t0: float = field(default_factory=time.monotonic)

    def prefetch(self, scenarios: list[Scenario]) -> None:
        """Start the selected scenarios now, up to ``jobs`` at once, never two that share a
        resource of the target; ``run`` then hands each one its result in the usual order."""
        if self.jobs <= 1 or len(scenarios) < 2:
            return
        if self.target is None and self.unreachable is None:
            self.run_setup()
        by_id = {s.id: s for s in scenarios}
        self._scheduler = Scheduler(self.jobs, lambda key: self._execute(by_id[key]),
                                    may_start=lambda: self.budget_left() > 0)
        self._futures = self._scheduler.submit_all([(s.id, frozenset(s.resources)) for s in scenarios])

    def stop_scheduling(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()

    def receiver(self) -> Receiver | None:
        """The run's receiver, started the first time a scenario needs it (None if it cannot bind)."""
        with self._lock:
            return self._start_receiver()

    def _start_receiver(self) -> Receiver | None:
        if self._receiver is None and self._receiver_error is None and self.target is not None:
            receiver = Receiver(self.target.receiver_bind, self.target.receiver_url)
            try:
                receiver.start()
            except OSError as exc:
                self._receiver_error = f"the receiver cannot listen on {self.target.receiver_bind}: {exc}"
            else:
                self._receiver = receiver
        return self._receiver

    @property
    def bundled(self) -> bool:
        return not self.settings.get("target")

    def start(self) -> Target:
        if self.target is not None:
            return self.target
        settings = dict(self.settings)
        if self.bundled:
            from harness.bundled import start_bundled

            self._server, served = start_bundled(self.faults)
            for key, value in served.items():
                if key in ("timings", "options"):  # declared values override the served ones
                    settings[key] = merge_declared(value, settings.get(key) or {})
                else:
                    settings.setdefault(key, value)
            settings["target"], settings["control"] = served["target"], served["control"]
        elif self.faults:
            raise ConfigError("--reference-fault applies to the bundled server only, not to --target")
        target = build_target(settings)
        if self.bundled:
            from dataclasses import replace

            target = replace(target, bundled=True, faults=self.faults)
        self.unreachable = probe(target)
        if not self.unreachable and target.token_url and not target.token:
            from dataclasses import replace

            token, self.unreachable = client_credentials_token(target, Redactor(target.secrets))
            target = replace(target, token=token)
        self.target = target
        return target

    def run_setup(self) -> None:
        try:
            self.start()
        except ConfigError:
            raise
        except Exception as exc:  # e.g. the bundled server cannot start: ERROR, not FAIL
            self.unreachable = f"setup failed: {type(exc).__name__}: {exc}"

    def run(self, scenario: Scenario) -> Result:
        """One scenario's result, within its bound whatever happens inside it, and not started
        once the run's budget is spent (then an ERROR saying so)."""
        if self.target is None and self.unreachable is None:
            self.run_setup()
        future = self._futures.pop(scenario.id, None)
        if future is None and self.budget_left() > 0:
            future = Future()
            threading.Thread(target=self._execute_into, args=(scenario, future),
                             name=f"scenario-{scenario.id}", daemon=True).start()
        bound = self.scenario_bound()
        try:
            if future is None:
                raise NotRun(scenario.id)
            result = future.result(timeout=bound)  # a signal interrupts this wait in the main thread
        except NotRun:
            result = self._error(scenario, f"not run: the run budget of {self.run_budget():g}s is spent")
        except FutureTimeout:  # the scenario's thread is abandoned (a daemon); its socket timeouts end it
            result = self._error(scenario, f"the scenario did not end within its bound of {bound:g}s "
                                           "(max_wait + 10 x request_timeout + 10 s): abandoned")
        except Exception as exc:  # escaped the runner in a concurrent run: still a verdict
            result = self._error(scenario, f"harness error: {type(exc).__name__}")
        with self._lock:
            self.results.append(result)
        if self.budget_left() <= 0:
            self.stop_scheduling()
        return result

    def _execute_into(self, scenario: Scenario, future: "Future[Result]") -> None:
        """Whatever happens, the scenario gets a verdict: an error escaping the runner (even
        while it described another error) is an ERROR, not a scenario missing from the reports."""
        try:
            if os.environ.get("PYTEST_XDIST_WORKER") and self.target is not None:
                # workers share the target but no scheduler: its resources are held across processes
                with held_across_processes(self.target.base_url, frozenset(scenario.resources)):
                    result = self._execute(scenario)
            else:
                result = self._execute(scenario)
        except BaseException as exc:
            result = self._error(scenario, f"harness error: {type(exc).__name__}")
        future.set_result(result)

    def run_budget(self) -> float:
        return float(self.settings.get("run_budget") or DEFAULT_RUN_BUDGET)

    def budget_left(self) -> float:
        return self.run_budget() - (time.monotonic() - self._t0)

    def scenario_bound(self) -> float:
        t = self.target
        return (t.max_wait + 10 * t.request_timeout if t else 60.0) + 10.0

    def _error(self, scenario: Scenario, reason: str) -> Result:
        secrets = self.target.secrets if self.target else []
        return Result(scenario, Verdict.ERROR, reason, [], Evidence(Redactor(secrets)),
                      time.strftime("%Y-%m-%dT%H:%M:%SZ"), 0.0)

    def _execute(self, scenario: Scenario) -> Result:
        """One scenario (from any thread): its result, never an exception."""
        if self.target is None or self.unreachable:
            secrets = self.target.secrets if self.target else []
            result = Result(scenario, Verdict.ERROR, self.unreachable or "setup failed", [],
                            Evidence(Redactor(secrets)), time.strftime("%Y-%m-%dT%H:%M:%SZ"), 0.0)
        else:
            receiver = self.receiver() if "receiver" in scenario.needs else None
            if "receiver" in scenario.needs and receiver is None:
                result = Result(scenario, Verdict.ERROR, f"setup failed: {self._receiver_error}", [],
                                Evidence(Redactor(self.target.secrets)), time.strftime("%Y-%m-%dT%H:%M:%SZ"), 0.0)
            else:
                scheduler = self._scheduler
                release = (lambda resource: scheduler.release(scenario.id, resource)) if scheduler else None
                result = run_scenario(scenario, self.target, run_id=self.run_id, seed=self.seed,
                                      receiver=receiver, release=release)
        return result

    def record(self, result: Result) -> dict[str, Any]:
        """What the controller needs of a result: its report.json entry and the target as tested."""
        return {"entry": scenario_entry(result, self.target, self.run_id),
                "target": self.target.described() if self.target else None}

    def add_record(self, record: dict[str, Any]) -> None:
        entry = record["entry"]
        self.entries[entry["id"]] = entry
        if self.target_described is None and record.get("target"):
            self.target_described = record["target"]

    def judge(self) -> Judgement:
        """How the run ended. Without a recorded selection (a RunSession driven directly), the
        scenarios that ran in this process are the selection."""
        if not self.selected and not self.entries:
            for result in self.results:
                self.add_record(self.record(result))
            self.selected = [scenario_meta(r.scenario) for r in self.results]
        stopped = self.signal or ("stopped early" if self.stopped_early else None)
        return judge(self.selected, self.entries, strict=self.strict, require=self.require,
                     expected=self.expected, stopped=stopped, other_failures=self.other_failures)

    def faults_asked(self) -> frozenset[str]:
        """The fault names the bundled server has checked so far (tests/killmatrix.py)."""
        asked = getattr(self._server.config.faults, "asked", None) if self._server is not None else None
        return frozenset(asked()) if callable(asked) else frozenset()

    def stop(self) -> None:
        self.stop_scheduling()
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def exit_code(self) -> int:
        return self.judge().exit_code

    # -- interruption: SIGINT and SIGTERM end the run the same way, with reports -------------
    def catch_signals(self) -> None:
        """From now on SIGINT and SIGTERM stop the run: the scenario running is abandoned (its
        resources closed), every report is written with what did not run, and the process exits
        130 or 143. A second signal while that happens exits at once."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._handlers.setdefault(sig, signal.signal(sig, self._on_signal))

    def release_signals(self) -> None:
        for sig, handler in self._handlers.items():
            if handler is not None:  # None: installed outside Python, cannot be put back
                signal.signal(sig, handler)
        self._handlers.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.signal is None and not self.finishing:
            self.signal = name
            self.stop_scheduling()
            for pid in self.worker_pids:  # pytest-xdist workers: stop their scenarios too
                try:
                    os.kill(pid, signal.SIGINT)
                except OSError:
                    pass
            raise KeyboardInterrupt(name)
        if self.signal is None and not self._late_signal:  # the run is judged: let the reports be finished
            self._late_signal = True
            sys.stderr.write(f"\nconformance: {name}: finishing the reports (again to exit at once)\n")
            return
        sys.stderr.write(f"\nconformance: {name} again: exiting without finishing the reports\n")
        os._exit(SIGNAL_EXIT.get(name, 128 + signum))

    def report_dir(self) -> Path | None:
        if self.report_root is None:
            return None
        path = self.report_root / self.run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def link_latest(self) -> None:
        if self.report_root is None:
            return
        latest = self.report_root / "latest"
        tmp = self.report_root / f".latest-{os.getpid()}"
        try:
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            tmp.symlink_to(self.run_id, target_is_directory=True)
            os.replace(tmp, latest)
        except OSError:
            (self.report_root / "latest.txt").write_text(self.run_id + "\n")


def probe(target: Target) -> str | None:
    """None when the target answers HTTP at all; else why it cannot be reached (an ERROR)."""
    parts = urlsplit(target.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"target URL {target.base_url!r} is not an http(s) URL"
    client = HttpClient(Evidence(Redactor(target.secrets)), timeout=target.request_timeout)
    try:
        client.request("GET", target.base_url + "/", bearer=None)
    except TargetUnreachable as exc:
        return f"target unreachable: {exc}"
    finally:
        client.close()
    return None


def client_credentials_token(target: Target, redactor: Redactor) -> tuple[str | None, str | None]:
    """An OAuth2 client-credentials token from --token-url: (token, None) or (None, why not).
    Whatever the answer, the token in it is a secret from the moment it is read."""
    assert target.token_url
    client = HttpClient(Evidence(redactor), timeout=target.request_timeout)
    basic = base64.b64encode(f"{target.client_id or ''}:{target.client_secret or ''}".encode()).decode()
    try:
        r = client.request("POST", target.token_url, content="grant_type=client_credentials", bearer=None,
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Authorization": f"Basic {basic}"}, max_bytes=TOKEN_BYTES)
    except TargetUnreachable as exc:
        return None, f"setup failed: token URL {_no_password(target.token_url)}: {type(exc).__name__}"
    finally:
        client.close()
    token = issued_token(r, redactor, "access_token")
    if r.status_code != 200 or token is None:
        return None, (f"setup failed: token URL {_no_password(target.token_url)} answered {r.status_code} "
                      "without an access_token")
    return token, None
