"""Build the aiohttp application and run it, blocking or in a background thread."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from reference_server.config import Limits, ServerConfig
from reference_server.contract import asyncapi_document, with_components
from reference_server.problems import COMMON_RESPONSES, problem_errors, with_common_errors
from reference_server.protocols import protocols
from reference_server.serving import quiet_accept_storms, raise_open_file_limit, runner_for

CONFIG_KEY: web.AppKey[ServerConfig] = web.AppKey("config", ServerConfig)


def build_app(config: ServerConfig) -> web.Application:
    app = web.Application(client_max_size=256 * 1024, middlewares=[problem_errors])
    app[CONFIG_KEY] = config
    for protocol in protocols():
        protocol.setup(app, config)
    app.router.add_get("/openapi.json", _openapi)
    app.router.add_get("/asyncapi.json", _asyncapi)
    return app


def openapi_document(config: ServerConfig | None = None) -> dict[str, Any]:
    config = config or ServerConfig()
    paths: dict[str, Any] = {}
    for protocol in protocols():
        paths.update(protocol.openapi_paths(config))
    return with_components({
        "openapi": "3.1.0",
        "info": {"title": "progress-conformance reference server", "version": "0.1.0"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "responses": COMMON_RESPONSES},
        "security": [{"bearer": []}],
        "paths": with_common_errors(paths),
    })


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[CONFIG_KEY]))


async def _asyncapi(request: web.Request) -> web.Response:
    return web.json_response(asyncapi_document(request.host))


@dataclass
class ThreadedApp:
    """An aiohttp application served from a daemon thread with its own event loop."""

    base_url: str
    host: str
    port: int
    _loop: asyncio.AbstractEventLoop
    _runner: web.AppRunner
    _thread: threading.Thread

    def stop(self, timeout: float = 5.0) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:  # e.g. a job submitted while the server was shutting down
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        fut = asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        try:
            fut.result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)


@dataclass
class RunningServer(ThreadedApp):
    """The reference server started by :func:`start_in_thread`; ``stop()`` shuts it down."""

    config: ServerConfig = field(default_factory=ServerConfig)

    @property
    def control_url(self) -> str:
        return self.base_url + self.config.control_prefix


def start_app_in_thread(app: web.Application, host: str = "127.0.0.1", port: int = 0,
                        timeout: float = 10.0, name: str = "aiohttp-app",
                        limits: Limits | None = None) -> ThreadedApp:
    """Serve ``app`` on a loopback port from a daemon thread; boot errors reach the caller."""
    quiet_accept_storms()
    loop = asyncio.new_event_loop()
    ready: "concurrent.futures.Future[tuple[web.AppRunner, int]]" = concurrent.futures.Future()

    async def boot() -> None:
        try:
            runner = runner_for(app, limits, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            await site.start()
            server: Any = site._server
            assert server is not None and server.sockets
            bound = server.sockets[0].getsockname()[1]
        except BaseException as exc:  # surface boot errors to the caller, not a timeout
            ready.set_exception(exc)
            return
        ready.set_result((runner, bound))

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.create_task(boot())
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        runner, bound = ready.result(timeout)
    except concurrent.futures.TimeoutError as exc:
        raise RuntimeError(f"{name} did not start in time") from exc
    return ThreadedApp(f"http://{host}:{bound}", host, bound, loop, runner, thread)


def start_in_thread(config: ServerConfig, host: str = "127.0.0.1", port: int = 0,
                    timeout: float = 10.0) -> RunningServer:
    """Start the reference server on a loopback port in a daemon thread."""
    t = start_app_in_thread(build_app(config), host, port, timeout, name="reference-server",
                            limits=config.limits)
    return RunningServer(t.base_url, t.host, t.port, t._loop, t._runner, t._thread, config)


def serve_forever(config: ServerConfig, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM (``conformance serve``); OSError if it cannot listen."""
    raise_open_file_limit()
    quiet_accept_storms()

    async def serve() -> None:
        runner = runner_for(build_app(config), config.limits, handle_signals=True)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(serve())
