"""Executors for the token endpoint, the handshake and its connection-id, compression, reconnects.

Seed 001: "You must supply the bearer token for the authorization header when opening the socket.
... The response will include the header connection-id to indicate the id of the socket."
"""
from __future__ import annotations


from harness.profiles.ws_progress.client import WsClient, body_shape, token_from
from harness.runner import Context, executor
from harness.transport.websocket import HandshakeRefused, ProgressSocket


@executor("ws-progress.token")
async def token(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        r = await ws.request_token()
        ctx.equal("token-200", 200, r.status_code, "valid credentials get 200")
        member = ctx.option("token_member")
        text = token_from(r, member, ctx.evidence.redactor)
        ctx.check("token-body", text is not None,
                  "the body is the bearer token as a plain string" if member is None
                  else f"the body is a JSON object with the bearer token in {member!r} (declared)",
                  expected="a token as text" if member is None else f"{{{member!r}: token}}", observed=body_shape(r))
        ctx.evidence.redactor.add(text)
        for label, cid, secret in (("wrong secret", None, "wrong-" + ctx.run_id),
                                   ("unknown client", "no-such-client-" + ctx.run_id, "x" * 12)):
            bad = await ws.request_token(client_id=cid, secret=secret)
            ctx.equal("bad-credentials-401", 401, bad.status_code, f"{label}: 401 Unauthorized")


async def _refused(ctx: Context, ws: WsClient, name: str, tok: str | None, what: str) -> None:
    sock = ProgressSocket(name, ctx.evidence, timeout=ctx.target.request_timeout)
    ws.sockets.append(sock)
    try:
        await sock.open(ws.ws_url, tok)
    except HandshakeRefused as exc:
        ctx.equal("handshake-401", 401, exc.status, f"{what}: the handshake is refused with 401")
        return
    ctx.check("handshake-401", False, f"{what}: the handshake is refused with 401, without upgrading",
              expected=401, observed=f"101 Switching Protocols (connection-id {sock.connection_id})")


@executor("ws-progress.handshake")
async def handshake(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        a = await ws.open("a")
        b = await ws.open("b")
        for sock in (a, b):
            ctx.check("connection-id-present", bool(sock.connection_id),
                      f"socket {sock.name}: the 101 carries a non-empty connection-id header",
                      expected="connection-id: <id>", observed=sock.response_headers)
        ctx.check("connection-id-unique", a.connection_id != b.connection_id,
                  "every socket gets its own connection-id", expected="two different ids",
                  observed=[a.connection_id, b.connection_id])
        # a reconnecting client opens its new socket with the token it still holds
        token = await ws.token()
        c, d = await ws.open("c", token=token), await ws.open("d", token=token)
        ids = [c.connection_id, d.connection_id]
        ctx.check("connection-id-unique-same-token", all(ids) and c.connection_id != d.connection_id,
                  "two sockets opened with the same valid token get different connection-ids",
                  expected="two different ids", observed=ids)


@executor("ws-progress.handshake-auth")
async def handshake_auth(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        await _refused(ctx, ws, "no-token", None, "no Authorization header")
        await _refused(ctx, ws, "wrong-token", "wrong-" + ctx.run_id, "a wrong bearer token")


@executor("ws-progress.handshake-expired")
async def handshake_expired(ctx: Context) -> None:
    lifetime = ctx.timing("token_lifetime")
    wait = ctx.latest(lifetime)
    ctx.require_wait(wait, "an expired token")
    async with WsClient(ctx) as ws:
        tok = await ws.token()
        ctx.evidence.note(f"waiting {wait:.2f}s for the token to expire (declared lifetime {lifetime:g}s)")
        await ctx.sleep(wait, "the token to expire")
        await _refused(ctx, ws, "expired-token", tok, "an expired bearer token")


@executor("ws-progress.permessage-deflate")
async def permessage_deflate(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("deflate", compression="deflate")
        ext = sock.response_headers.get("sec-websocket-extensions", "")
        ctx.check("deflate-accepted", "permessage-deflate" in ext,
                  "the server accepts permessage-deflate when the client offers it",
                  expected="Sec-WebSocket-Extensions: permessage-deflate", observed=ext or "(none)")
        job_id, messages = await ws.job(sock, "short")
        ctx.check("compressed-messages", bool(messages), "messages arrive on the compressed socket",
                  expected="the job's messages", observed=len(messages))


@executor("ws-progress.no-reconnect")
async def no_reconnect(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        old = await ws.open("old")
        await old.close()
        await old.wait_closed(ctx.target.request_timeout)
        new = await ws.open("new")
        ctx.check("new-connection-id", new.connection_id != old.connection_id,
                  "a new socket gets a new connection-id", expected=f"not {old.connection_id}",
                  observed=new.connection_id)
        r = await ws.submit_raw(ws.job_body("short"), old.connection_id)
        refused = [int(s) for s in ctx.option("unknown_connection_status")]
        ctx.check("old-id-refused", r.status_code in refused,
                  "a submission naming the closed socket's connection-id is refused",
                  expected=refused, observed=f"{r.status_code} {ctx.evidence.redactor.text_bounded(r.text, 200)}")


@executor("ws-progress.unknown-connection")
async def unknown_connection(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        refused = [int(s) for s in ctx.option("unknown_connection_status")]
        r = await ws.submit_raw(ws.job_body("short"), "no-such-connection-" + ctx.run_id)
        ctx.check("unknown-id-refused", r.status_code in refused,
                  "a submission naming an unknown connection-id is refused",
                  expected=refused, observed=f"{r.status_code} {ctx.evidence.redactor.text_bounded(r.text, 200)}")
