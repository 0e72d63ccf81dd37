"""Executors for the callback itself: one per ended execution, its payload, headers and template.

Seed 003: "the system sends you -the subscriber - a REST request to inform you that the execution
has ended (successfully or not)"; "Subscribing to callbacks for recurring executions ... the
callback does not take effect"; "The values stated here are then taken over in the callback
header"; the template placeholders &$EXECUTION_STATUS# ... &$LAST_ERROR_INSERT#.
"""
from __future__ import annotations

import re
import secrets
from typing import Any

from harness.profiles.callbacks.executions import ENDED_OK, Executions, Settings, terminal
from harness.runner import Context, executor
from harness.schemas import registry
from harness.transport.http import json_body
from harness.transport.receiver import Delivery

PLACEHOLDER = re.compile(r"&\$?[A-Z0-9_]+#")
TEMPLATE = {"runid": "&$RUNID#", "execution_status": "&$EXECUTION_STATUS#",
            "execution_status_text": "&$EXECUTION_STATUS_TEXT#", "ae_system": "&$SYSTEM#",
            "client_number": "&$CLIENT#", "last_error_message": "&$LAST_ERROR_MESSAGE#",
            "last_error_code": "&$LAST_ERROR_CODE#", "last_error_insert": "&$LAST_ERROR_INSERT#",
            "object_variable1": "&VAR1#", "object_variable2": "&VAR2#"}


def payload_status(body: Any, shape: str) -> Any:
    """(run id, status) of a default payload of the declared shape, as ints where they can be."""
    key_id, key_status = ("run_id", "status") if shape == "run_id" else ("runid", "execution_status")
    if not isinstance(body, dict):
        return None, None
    return _as_int(body.get(key_id)), _as_int(body.get(key_status))


def leftover_placeholders(value: Any) -> list[str]:
    """Every placeholder still present anywhere in a filled template."""
    if isinstance(value, str):
        return PLACEHOLDER.findall(value)
    if isinstance(value, dict):
        return [p for v in value.values() for p in leftover_placeholders(v)]
    if isinstance(value, list):
        return [p for v in value for p in leftover_placeholders(v)]
    return []


async def ended_callback(ctx: Context, role: str, **submit: Any) -> tuple[Delivery | None, dict[str, Any] | None, Any]:
    """Submit ``role`` with a callback; wait for the callback; poll the status when it arrives.
    (the delivery, the status polled at its arrival, the run id)."""
    ex = Executions(ctx)
    inbox = ctx.inbox(role)
    run = await ex.submit(role, inbox, **submit)
    within = ctx.latest(ctx.timing("execution_time")) + ctx.latest(ctx.timing("delivery_timeout"))
    got = await inbox.expect(1, within)
    status_at_arrival = None
    if got:
        r = await ex.status(run.run_id)
        status_at_arrival = json_body(r) if r.status_code == 200 else {"http_status": r.status_code}
    ctx.require("callback-arrives", bool(got), "one callback arrives when the execution has ended",
                expected=f"a callback within {within:.2f}s", observed="none")
    await inbox.quiet(ctx.latest(ctx.timing("retry_interval")))
    ctx.equal("exactly-one-callback", 1, len(inbox.deliveries()),  # all of them, however close together
              "exactly one callback per execution (no duplicate after a 2xx answer)")
    return got[0], status_at_arrival, run.run_id


@executor("callbacks.submit-and-poll")
async def submit_and_poll(ctx: Context) -> None:
    ex = Executions(ctx)
    for role, ok in (("ok", True), ("not_ok", False)):
        run = await ex.submit(role, None)
        final = await ex.poll_until_ended(run, ctx.latest(ctx.timing("execution_time")))
        issues = [str(i) for i in registry().issues("callbacks/execution-status", final)] if final else ["no status"]
        ctx.check(f"{role}-status-schema", not issues, "the polled status is valid by its schema",
                  expected="no violations", observed=issues)
        status = final.get("status") if final else None
        ctx.check(f"{role}-ends", terminal(status) and (status == ENDED_OK) is ok,
                  f"the {role.replace('_', '-')} object ends {'1900 ENDED_OK' if ok else 'ENDED_NOT_OK (1800-1899)'}",
                  expected="1900" if ok else "1800..1899", observed=status)


async def _on_end(ctx: Context, role: str) -> None:
    delivery, polled, run_id = await ended_callback(ctx, role)
    assert delivery is not None
    ctx.check("callback-after-end", polled is not None and terminal(polled.get("status")),
              "the callback comes when the execution has ended: the status polled at its arrival is terminal",
              expected="status 1800..1999", observed=polled)
    ctx.equal("callback-method", "POST", delivery.method, "the callback is a POST")
    try:
        body = delivery.json()
    except ValueError as exc:
        body = None
        ctx.check("payload-json", False, "the callback body is JSON", expected="JSON", observed=str(exc))
    issues = [str(i) for i in registry().issues("callbacks/callback-default-payload", body)]
    ctx.check("payload-schema", not issues, "the default payload is valid by its schema", observed=issues)
    shape = ctx.option("default_payload")
    got_id, got_status = payload_status(body, shape)
    ctx.check("payload-shape", got_id is not None and got_status is not None,
              f"the default payload has the declared {shape!r} shape", expected=shape, observed=body)
    ctx.equal("payload-run-id", _as_int(run_id), got_id, "the payload names the execution's run id")
    ctx.equal("payload-status", polled.get("status") if polled else None, got_status,
              "the payload's status agrees with the polled status")


def _as_int(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


@executor("callbacks.on-end")
async def on_end(ctx: Context) -> None:
    await _on_end(ctx, str(ctx.params.get("object", "ok")))


@executor("callbacks.not-while-running")
async def not_while_running(ctx: Context) -> None:
    ex = Executions(ctx)
    inbox = ctx.inbox("long")
    run = await ex.submit("long", inbox)
    await inbox.quiet(min(ctx.timing("quiet_window"), ctx.timing("execution_time")))
    early = inbox.deliveries()  # every one since the submission, however early
    r = await ex.status(run.run_id)
    running = json_body(r) if r.status_code == 200 else None
    ctx.require("still-running", isinstance(running, dict) and not terminal(running.get("status")),
                "the long object is still running after the quiet window", observed=running)
    ctx.check("no-callback-while-running", not early, "no callback is sent while the execution runs",
              expected="no callback", observed=[d.answer for d in early])


@executor("callbacks.headers-copied")
async def headers_copied(ctx: Context) -> None:
    bearer = "Bearer cb" + secrets.token_hex(12)
    custom = "MiXeD-Case-" + secrets.token_hex(4)
    ctx.evidence.redactor.add(bearer.split()[1])
    headers = {"Authorization": bearer, "X-Conformance-Trace": custom}
    delivery, _, _ = await ended_callback(ctx, "ok", headers=headers)
    assert delivery is not None
    for name, value in headers.items():
        ctx.equal(f"header-{name.lower()}", value, delivery.header(name),
                  f"the request header {name} is copied onto the callback with its exact value")


@executor("callbacks.template")
async def template(ctx: Context) -> None:
    if not ctx.option("template"):
        ctx.skip("the target declares no template payloads (options.callbacks.template: false)")
    await Settings(ctx).apply(template=TEMPLATE)
    inputs = {"VAR1": "17842312", "VAR2": "a text value " + secrets.token_hex(3)}
    for role in ("ok", "not_ok"):
        delivery, polled, run_id = await ended_callback(ctx, role, inputs=inputs)
        assert delivery is not None
        try:
            body = delivery.json()
        except ValueError:
            body = None
        ctx.require(f"{role}-template-object", isinstance(body, dict), "the template payload is a JSON object",
                    observed=delivery.body[:300].decode("utf-8", "replace"))
        assert isinstance(body, dict)
        ctx.equal(f"{role}-no-placeholder-left", [], leftover_placeholders(body),
                  "every placeholder of the template is filled")
        status = polled.get("status") if polled else None
        ctx.equal(f"{role}-runid", _as_int(run_id), _as_int(body.get("runid")), "&$RUNID# is the run id")
        ctx.equal(f"{role}-status", str(status), body.get("execution_status"), "&$EXECUTION_STATUS# is the status")
        text = str(body.get("execution_status_text", ""))
        ctx.check(f"{role}-status-text", text.startswith("ENDED_OK" if role == "ok" else "ENDED_"),
                  "&$EXECUTION_STATUS_TEXT# names the end", expected="ENDED_...", observed=text)
        ctx.equal(f"{role}-client", int(ctx.option("client")), _as_int(body.get("client_number")),
                  "&$CLIENT# is the client of the execution")
        ctx.check(f"{role}-system", bool(body.get("ae_system")), "&$SYSTEM# names the system",
                  observed=body.get("ae_system"))
        ctx.equal(f"{role}-variables", [inputs["VAR1"], inputs["VAR2"]],
                  [body.get("object_variable1"), body.get("object_variable2")], "&NAME# object variables are filled")
        errors = [body.get("last_error_message"), body.get("last_error_code")]
        if role == "not_ok":
            ctx.check("error-filled", all(errors), "&$LAST_ERROR_MESSAGE# and &$LAST_ERROR_CODE# describe the failure",
                      observed=errors)
        else:
            ctx.check("no-error", not errors[0], "an ok execution has no last error message", observed=errors)


@executor("callbacks.recurring")
async def recurring(ctx: Context) -> None:
    ex = Executions(ctx)
    inbox = ctx.inbox("recurring")
    run = await ex.submit("ok", inbox, recurring=True)
    quiet = ctx.timing("quiet_window")
    ctx.require_wait(quiet, "the recurring quiet window")
    await inbox.quiet(max(quiet, ctx.latest(ctx.timing("execution_time"))))
    arrived = inbox.deliveries()
    r = await ex.status(run.run_id)
    ctx.check("recurring-runs", r.status_code == 200, "the recurring execution is carried out (its status is there)",
              expected=200, observed=r.status_code)
    ctx.check("no-recurring-callback", not arrived, "a recurring execution sends no callback",
              expected="no callback", observed=[d.answer for d in arrived])


@executor("callbacks.client-isolation")
async def client_isolation(ctx: Context) -> None:
    ex = Executions(ctx)
    run = await ex.submit("ok", None)
    other = str(ctx.option("other_client"))
    r = await ex.status(run.run_id, client=other)
    ctx.check("other-client-404", r.status_code in (403, 404),
              f"a run of client {ctx.option('client')} is not visible under client {other}",
              expected="403 or 404", observed=r.status_code)


@executor("callbacks.https-only")
async def https_only(ctx: Context) -> None:
    if not ctx.option("https_only_setting"):
        ctx.skip("the target declares no HTTPS-only setting")
    settings = Settings(ctx)
    await settings.apply(https_only=True)
    inbox = ctx.inbox("https-only")
    plain = "http" + inbox.url[5:] if inbox.url.startswith("https:") else inbox.url  # an http:// URL, whatever the receiver's
    r = await Executions(ctx).submit_raw(Executions(ctx).body("ok", None, url=plain))
    ctx.check("http-url-refused", 400 <= r.status_code < 500,
              "with HTTPS enforced, an http:// callback URL is refused", expected="4xx", observed=r.status_code)
    # The rule has judged the submission: put it back, and let the scenarios waiting for it start.
    # An execution made in spite of the refusal now calls back unhindered, so listening with the
    # rule off is the stricter test.
    await settings.restore()
    ctx.release("callbacks.https")
    await inbox.quiet(ctx.latest(ctx.timing("execution_time")))
    late = inbox.deliveries()
    ctx.check("no-http-callback", not late, "no callback goes to the http:// URL", observed=len(late))


@executor("callbacks.hostile-submission")
async def hostile_submission(ctx: Context) -> None:
    ex = Executions(ctx)
    inbox = ctx.inbox("hostile")
    injected = "X-Injected-" + secrets.token_hex(3)
    cases = {
        "crlf-header-value": ex.body("ok", inbox, headers={"X-Conformance": f"a\r\n{injected}: 1"}),
        "non-http-url": ex.body("ok", None, url="ftp://127.0.0.1/callback"),
        "javascript-url": ex.body("ok", None, url="javascript:alert(1)"),
        "huge-headers": ex.body("ok", inbox, headers={f"X-H{i}": "v" * 4000 for i in range(64)}),
    }
    for name, body in cases.items():
        r = await ex.submit_raw(body)
        ctx.check(f"{name}-refused", 400 <= r.status_code < 500, f"{name}: refused with 4xx at submission",
                  expected="4xx", observed=r.status_code)
    await inbox.quiet(ctx.latest(ctx.timing("execution_time")))
    arrived = inbox.deliveries()
    leaked = [d.answer for d in arrived if d.header(injected) is not None]
    ctx.check("nothing-injected", not leaked, "a CR/LF in a header value never becomes a header of the callback",
              expected="no injected header", observed=leaked, level="MUST")
