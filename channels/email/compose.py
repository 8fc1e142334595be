"""Our replies as e-mail: pure, OutboundMessage + thread → EmailMessage.

Replies thread in the customer's client (Message-ID, In-Reply-To, References), carry the case tag in
the subject, say `Auto-Submitted: auto-replied` when the bot wrote them, and come as text and HTML.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from string import Template

from channels.email.parse import strip_subject_prefixes
from channels.options import is_scale, listed
from router.messages import OutboundMessage

_URL = re.compile(r"https?://[^\s<>\"]+")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_LINK_STYLE = ("display:inline-block;padding:6px 12px;margin:2px;border:1px solid #888;border-radius:4px;"
               "text-decoration:none")


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    customer: str
    customer_name: str
    subject: str  # the subject of the thread's first message
    case: int | None
    references: tuple[str, ...]  # the thread's Message-IDs, oldest first


def message_id_for(outbound_id: str, domain: str) -> str:
    """Our Message-ID for an outbound message: the same on every retry, so a resend is recognisable."""
    digest = hashlib.sha256(outbound_id.encode("utf-8")).hexdigest()[:24]
    return f"<hl.{digest}@{domain}>"


def reply_subject(subject: str, case: int | None) -> str:
    base = strip_subject_prefixes(subject) or "Your message"
    return f"Re: {base} [#{case}]" if case is not None else f"Re: {base}"


def labels_are_scale(message: OutboundMessage) -> bool:
    return is_scale([option.label for option in message.options])


def render_text(message: OutboundMessage) -> str:
    """The plain text: the message, then options as numbered lines the customer can answer with.

    With links (a rating's one link per score), the links are listed instead: a reply with the
    number still counts. Options that are themselves numbers are listed on one line, as typed.
    """
    lines = [message.text.rstrip()]
    if message.links:
        lines.append("")
        lines += [f"{link.label}: {link.url}" for link in message.links]
    elif message.options:
        lines += ["", *listed([option.label for option in message.options])]
    return "\n".join(lines) + "\n"


def render_html(message: OutboundMessage) -> str:
    def inline(text: str) -> str:
        escaped = html.escape(text)
        escaped = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        return _BOLD.sub(r"<b>\1</b>", escaped)

    paragraphs = [p for p in re.split(r"\n\s*\n", message.text.strip()) if p.strip()]
    parts = [f"<p>{inline(p).replace(chr(10), '<br>')}</p>" for p in paragraphs]
    if message.links:
        # Only http(s) links are ever made (router/survey_questions.py); anything else is shown, not linked.
        items = "".join(
            f'<a href="{html.escape(link.url, quote=True)}" style="{_LINK_STYLE}">{html.escape(link.label)}</a> '
            if link.url.startswith(("https://", "http://")) else f"{html.escape(link.label)} "
            for link in message.links)
        parts.append(f"<p>{items.rstrip()}</p>")
    elif message.options and labels_are_scale(message):
        parts.append("<p>" + " · ".join(html.escape(option.label) for option in message.options) + "</p>")
    elif message.options:
        items = "".join(f"<li>{inline(option.label)}</li>" for option in message.options)
        parts.append(f"<ol>{items}</ol>")
    return "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>"


def compose_reply(message: OutboundMessage, thread: ThreadInfo, *, from_address: str, display_name: str,
                  agent_display_name: str | None, message_id: str, now: float | None = None) -> EmailMessage:
    """The e-mail for `message` in `thread`."""
    mail = EmailMessage()
    name = display_name
    if message.author == "agent" and message.agent_name and agent_display_name:
        name = Template(agent_display_name).safe_substitute(agent_name=message.agent_name, display_name=display_name)
    mail["From"] = formataddr((name, from_address))
    mail["To"] = formataddr((thread.customer_name, thread.customer))
    mail["Subject"] = reply_subject(thread.subject, message.case if message.case is not None else thread.case)
    mail["Date"] = formatdate(now, localtime=False, usegmt=True)
    mail["Message-ID"] = message_id
    references = [ref for ref in thread.references if ref != message_id]
    in_reply_to = message.reply_to or (references[-1] if references else None)
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        if in_reply_to not in references:
            references.append(in_reply_to)
    if references:
        # The root first, then the newest: clients thread on either end.
        kept = references[:1] + references[1:][-(20 - 1):]
        mail["References"] = " ".join(kept)
    if message.author == "bot":
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"  # no out-of-office answers to the bot
    if message.language:
        mail["Content-Language"] = message.language
    mail.set_content(render_text(message))
    mail.add_alternative(render_html(message), subtype="html")
    return mail
