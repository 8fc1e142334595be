"""The dashboard's HTTP routes on the service's port, all under `/dashboard`.

    GET  /dashboard                 the page (a login first)
    GET  /dashboard/login           the login form;  POST: log in (sets the session cookie)
    POST /dashboard/logout          forget the session cookie
    GET  /dashboard/api/report      the report for ?since=&until=&team=&channel= (JSON of `helpline report --json`)
    GET  /dashboard/api/live        the queues and the agents' open cases (?team=)
    GET  /dashboard/chart/NAME.svg  a chart of the report, same parameters (and size=narrow for a phone)
    GET  /dashboard/static/FILE     the page's script and style

Every response carries a strict Content-Security-Policy: scripts and styles from this server only,
no inline script, no frames. The page writes customer text with textContent only.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from redis.exceptions import RedisError

from bot.charts import CHARTS, NARROW, WIDE
from bot.dashboard.auth import Gate
from bot.dashboard.live import live_state
from bot.dashboard.query import DashboardQuery, QueryError, parse_query
from bot.dashboard.report_cache import ReportCache
from bot.dashboard.sessions import TOKEN_USER, Session

if TYPE_CHECKING:
    from bot.app import Helpline

log = logging.getLogger(__name__)

ReportSource = Callable[[DashboardQuery], Awaitable[dict[str, Any]]]
GATE: web.AppKey[Gate] = web.AppKey("dashboard_gate")
REPORTS: web.AppKey[ReportCache] = web.AppKey("dashboard_reports")
DASHBOARD_HELPLINE: web.AppKey[Helpline] = web.AppKey("dashboard_helpline")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# A chart is an image: its own inline <style> is all it may use.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
STATIC_FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
MAX_FORM_FIELD = 1024
_SESSION: web.RequestKey[Session] = web.RequestKey("dashboard_session")


def add_dashboard(app: web.Application, helpline: Helpline, reports: ReportSource | None = None) -> None:
    """Serve the dashboard on `app`; `reports` computes a report's JSON (default: router's build_report)."""
    settings = helpline.settings.dashboard
    app[GATE] = Gate(settings, helpline.redis, helpline.keys)
    app[REPORTS] = ReportCache(reports or _report_source(helpline), ttl_seconds=min(settings.refresh_seconds, 30.0))
    app[DASHBOARD_HELPLINE] = helpline
    app.middlewares.append(_headers_and_login)
    app.router.add_get("/dashboard", page)
    app.router.add_get("/dashboard/", page)
    app.router.add_get("/dashboard/login", login_form)
    app.router.add_post("/dashboard/login", login)
    app.router.add_post("/dashboard/logout", logout)
    app.router.add_get("/dashboard/api/report", report_json)
    app.router.add_get("/dashboard/api/live", live_json)
    app.router.add_get("/dashboard/chart/{name}.svg", chart_svg)
    app.router.add_get("/dashboard/static/{name}", static_file)


def _report_source(helpline: Helpline) -> ReportSource:
    """The report as `helpline report --json` makes it (bot/commands_report.run_report: the same gap
    grouping and business hours), with the knowledge base in service instead of loading the folder again."""

    async def source(query: DashboardQuery) -> dict[str, Any]:
        from bot.app import KnowledgeBaseUnavailable
        from bot.commands_report import hours_of, run_report
        from router.report import ReportQuery

        try:
            kb = helpline.knowledge_base.current
        except KnowledgeBaseUnavailable:
            kb = None  # what customers asked does not depend on the FAQ files being valid
        report = await run_report(helpline.redis, helpline.keys, ReportQuery(
            since=query.since, until=query.until, team=query.team, channel=query.channel,
            bucket_seconds=query.bucket_seconds), languages=helpline.settings.languages, kb=kb,
            extra_words=helpline.texts.extra_vocabulary(), hours=hours_of(helpline.settings))
        return report.to_json()

    return source


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OPEN = {"/dashboard/login", "/dashboard/static/dashboard.css"}


@web.middleware
async def _headers_and_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not (request.path == "/dashboard" or request.path.startswith("/dashboard/")):
        return await handler(request)
    if request.method == "POST" and not _same_origin(request):
        return _secured(web.Response(status=403, text="cross-site request refused\n"))
    if request.path not in _OPEN:
        session = request.app[GATE].session_of(request)
        if session is None:
            if request.path not in ("/dashboard", "/dashboard/") or "Authorization" in request.headers:
                return _secured(web.json_response({"error": "log in first: /dashboard/login, or Authorization: Bearer"},
                                                  status=401, headers={"WWW-Authenticate": "Bearer"}))
            return _secured(web.HTTPSeeOther("/dashboard/login"))  # a person at the page: to the form
        request[_SESSION] = session
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    return _secured(response)


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"  # no-referrer would make a form post's Origin "null"
    headers.setdefault("Cache-Control", "no-store")
    return response


def _same_origin(request: web.Request) -> bool:
    # The cookie is SameSite=Strict already; a form posted from elsewhere is refused outright too.
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser, or one that sends no Origin on same-origin posts
    return urlsplit(origin).netloc == request.host


async def page(request: web.Request) -> web.StreamResponse:
    session = request[_SESSION]
    settings = request.app[DASHBOARD_HELPLINE].settings
    text = _template("dashboard.html").substitute(
        user=html.escape(session.user or "token"), refresh=html.escape(f"{settings.dashboard.refresh_seconds:g}"),
        teams=html.escape(json.dumps(sorted(settings.teams))))
    return web.Response(text=text, content_type="text/html", charset="utf-8")


async def login_form(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    gate = request.app[GATE]
    if gate.session_of(request) is not None and request.method == "GET":
        raise web.HTTPSeeOther("/dashboard")
    settings = request.app[DASHBOARD_HELPLINE].settings.dashboard
    users = bool(settings.users)
    label = ("Password (or the dashboard token, with no user name)" if users and settings.token
             else "Password" if users else "Dashboard token")
    text = _template("login.html").substitute(
        message=html.escape(message), user_hidden="" if users else "hidden", password_label=html.escape(label))
    return web.Response(text=text, content_type="text/html", charset="utf-8", status=status)


async def login(request: web.Request) -> web.StreamResponse:
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        return await login_form(request, "Wrong user name or password.", status=400)
    user, password = str(form.get("user", "") or ""), str(form.get("password", "") or "")
    if len(user) > MAX_FORM_FIELD or len(password) > MAX_FORM_FIELD:
        return await login_form(request, "Wrong user name or password.", status=401)
    gate = request.app[GATE]
    result = await gate.login(user.strip(), password, request.remote or "")
    if result.retry_after > 0:
        response = await login_form(request, "Too many failed logins; try again in a few minutes.", status=429)
        response.headers["Retry-After"] = str(int(result.retry_after) + 1)
        log.warning("dashboard: login refused for %s: too many failed logins", request.remote)
        return response
    if result.session is None:
        # Not the name typed: people type their password in the wrong field.
        log.warning("dashboard: failed login from %s (%s)", request.remote, "a user name" if user else "the token")
        return await login_form(request, "Wrong user name or password." if user else "Wrong token.", status=401)
    log.info("dashboard: %s logged in from %s", result.session.user or "token holder", request.remote)
    response = web.HTTPSeeOther("/dashboard")
    gate.set_cookie(response, result.session)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/dashboard/login")
    request.app[GATE].clear_cookie(response)
    return response


async def report_json(request: web.Request) -> web.Response:
    report = await _report(request)
    return web.json_response(report)


async def chart_svg(request: web.Request) -> web.Response:
    draw = CHARTS.get(request.match_info["name"])
    if draw is None:
        raise web.HTTPNotFound(text="no such chart\n")
    report = await _report(request)
    size = NARROW if request.query.get("size") == "narrow" else WIDE
    svg = await asyncio.to_thread(draw, report, size)  # pygal takes a few tens of ms: not in the event loop
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8",
                        headers={"Content-Security-Policy": SVG_CSP})


async def _report(request: web.Request) -> dict[str, Any]:
    try:
        query = parse_query(request.query, time.time())
    except QueryError as error:
        raise web.HTTPBadRequest(text=f"{error}\n") from None
    try:
        return await request.app[REPORTS].get(query)
    except (RedisError, OSError) as error:
        log.warning("dashboard: report not computed: %s", error)
        raise web.HTTPServiceUnavailable(text="Redis is not reachable; retry in a moment\n") from None


async def live_json(request: web.Request) -> web.Response:
    helpline = request.app[DASHBOARD_HELPLINE]
    try:
        query = parse_query({"team": request.query.get("team", "")}, time.time())
        state = await live_state(helpline.redis, helpline.keys, helpline.settings.teams, team=query.team,
                                 sla=helpline.sla_rules)
    except QueryError as error:
        raise web.HTTPBadRequest(text=f"{error}\n") from None
    except (RedisError, OSError) as error:
        log.warning("dashboard: live state not read: %s", error)
        raise web.HTTPServiceUnavailable(text="Redis is not reachable; retry in a moment\n") from None
    return web.json_response(state.to_json())


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.Response(body=_static(name), content_type=STATIC_FILES[name], charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


def _static(name: str) -> bytes:
    return resources.files("bot.dashboard").joinpath("static", name).read_bytes()


def _template(name: str) -> Template:
    return Template(_static(name).decode("utf-8"))


__all__ = ["add_dashboard", "TOKEN_USER"]
