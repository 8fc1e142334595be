"""The e-mail rating links' page: `GET /feedback/<token>` asks to confirm, `POST` records the rating.

A GET never records anything: mail scanners and link previews fetch every link of a mail, and a
GET that rated would rate 1 to 5 all at once for the scanner. The page shows the score the
customer clicked and one button; the POST puts the rating into `hl:inbox` like any message from the
customer (option `rate:<score>:<case>:<round>`, platform id `feedback-link:<case>:<round>`), so the
router counts it exactly once, with the same events and the same reply in the e-mail thread as a
typed rating. Everything shown is in the customer's language and HTML-escaped.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from redis.exceptions import RedisError

from router.feedback_token import read_token
from router.messages import InboundMessage, Sender, inbox_fields, new_id
from router.store import Case, Conversation

if TYPE_CHECKING:
    from bot.app import Helpline

log = logging.getLogger(__name__)
PATH = "/feedback/{token}"
_HEADERS = {
    # Nothing on the page loads from anywhere; the form posts back here only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token must not travel on to anyone
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
          "button{font-size:1.1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:1px solid #555;cursor:pointer}")


@dataclass(frozen=True, slots=True)
class _Target:
    case: Case
    conversation: Conversation
    score: int
    round: int
    rated: bool  # this round has its rating already

    @property
    def stale(self) -> bool:
        """The case was reopened since the link was sent, or is open again."""
        return self.case.reopened != self.round or self.case.status.is_open


async def _target(helpline: Helpline, token: str) -> _Target | None:
    secret = helpline.settings.feedback.secret
    link = read_token(secret.get_secret_value().encode() if secret else b"", token)
    if link is None:
        return None
    keys = helpline.keys
    case_data = await helpline.redis.hgetall(keys.case(link.case))  # type: ignore[misc]
    if not case_data:
        return None
    case = Case.from_hash(case_data)
    conversation_data = await helpline.redis.hgetall(keys.conversation(case.conversation))  # type: ignore[misc]
    if not conversation_data:
        return None
    conversation = Conversation.from_hash(case.conversation, conversation_data)
    rated = bool(await helpline.redis.hget(keys.survey(link.case, link.round), "csat"))  # type: ignore[misc]
    return _Target(case, conversation, link.score, link.round, rated)


def _page(helpline: Helpline, language: str, key: str, status: int = 200, form: str = "", **values: object) -> web.Response:
    texts = helpline.texts
    title = html.escape(texts.render(language, "feedback_page_title"))
    body = html.escape(texts.render(language, key, **values))
    document = (f'<!DOCTYPE html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{title}</title><style>{_STYLE}</style></head>"
                f"<body><h1>{title}</h1><p>{body}</p>{form}</body></html>")
    return web.Response(text=document, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _answer_for(helpline: Helpline, target: _Target | None) -> web.Response | None:  # None: go on
    """The page when there is nothing to record: a bad link, a rated round, a round the case has left."""
    if target is None:
        return _page(helpline, helpline.settings.default_language, "feedback_page_invalid", status=404)
    language = target.conversation.language or helpline.settings.default_language
    if target.rated:
        return _page(helpline, language, "rating_already", case=target.case.number)
    if target.stale:
        return _page(helpline, language, "rating_stale", case=target.case.number)
    return None


async def feedback_get(request: web.Request) -> web.Response:
    from bot.http import HELPLINE

    helpline = request.app[HELPLINE]
    try:
        target = await _target(helpline, request.match_info["token"])
    except (RedisError, OSError) as error:
        log.warning("rating link page: Redis unreachable: %s", error)
        return web.Response(status=503, text="temporarily unavailable; please try again in a minute\n")
    answer = _answer_for(helpline, target)
    if answer is not None or target is None:
        return answer or _page(helpline, helpline.settings.default_language, "feedback_page_invalid", status=404)
    language = target.conversation.language or helpline.settings.default_language
    button = html.escape(helpline.texts.render(language, "feedback_page_button"))
    form = f'<form method="post"><button type="submit">{button}</button></form>'
    return _page(helpline, language, "feedback_page_confirm", form=form, case=target.case.number,
                 score=target.score)


async def feedback_post(request: web.Request) -> web.Response:
    from bot.http import HELPLINE

    helpline = request.app[HELPLINE]
    try:
        target = await _target(helpline, request.match_info["token"])
        answer = _answer_for(helpline, target)
        if answer is not None or target is None:
            return answer or _page(helpline, helpline.settings.default_language, "feedback_page_invalid", status=404)
        conversation = target.conversation
        message = InboundMessage(
            id=new_id(), channel=conversation.channel, address=conversation.address,
            sender=Sender(conversation.customer_id, conversation.customer_name), received_at=time.time(),
            language_hint=conversation.language or None,
            option=f"rate:{target.score}:{target.case.number}:{target.round}",
            # One per case and round: a second press, even with another score, is a repeated delivery.
            platform_id=f"feedback-link:{target.case.number}:{target.round}")
        await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(message))
    except (RedisError, OSError) as error:
        log.warning("rating link: Redis unreachable, rating not taken: %s", error)
        return web.Response(status=503, text="temporarily unavailable; please try again in a minute\n")
    log.info("rating link followed for case #%s (round %s)", target.case.number, target.round)
    language = conversation.language or helpline.settings.default_language
    return _page(helpline, language, "feedback_page_thanks")
