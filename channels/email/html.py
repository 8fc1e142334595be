"""HTML mail turned into readable plain text, with quoted history marked the way plain text marks it.

Blockquotes and the quote containers of common clients (Gmail, Yahoo, Outlook, Thunderbird) come out
as `> ` lines, so one reply stripper (quotes.py) serves both plain and HTML mail.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_BLOCK = {"p", "div", "li", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "section",
          "article", "header", "footer", "dl", "dt", "dd", "address", "center", "form", "fieldset"}
_SKIP = {"script", "style", "head", "title", "template", "noscript", "xml", "o:p"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
# Containers that hold the quoted history in the HTML of well-known clients.
_QUOTE_CLASSES = re.compile(r"\b(gmail_quote|yahoo_quoted|moz-cite-prefix|OLK_SRC_BODY_SECTION|"
                            r"divRplyFwdMsg|reply-quotations|WordSection_quoted)\b")
_QUOTE_IDS = re.compile(r"^(divRplyFwdMsg|OLK_SRC_BODY_SECTION|appendonsend|mail-editor-reference-message-container)$")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0
        self.pre_depth = 0
        self.stack: list[tuple[str, bool]] = []  # tag, whether it opened a quote
        self.href: str | None = None
        self.link_text: list[str] = []

    def _break(self) -> None:
        line = "".join(self.current)
        line = re.sub(r"[ \t\u00a0]+", " ", line).strip() if not self.pre_depth else line.rstrip()
        self.current = []
        prefix = "> " * self.quote_depth
        if line or (self.lines and self.lines[-1].strip("> ")):
            self.lines.append((prefix + line).rstrip() if line else prefix.rstrip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag in _SKIP:
            self.skip_depth += 1
            if tag not in _VOID:
                self.stack.append((tag, False))
            return
        if tag == "br":
            self._break()
            return
        if tag == "hr":
            self._break()
            self.lines.append("> " * self.quote_depth + "_" * 32)
            return
        if tag in _VOID:
            return
        attributes = {name.lower(): value or "" for name, value in attrs}
        opens_quote = tag == "blockquote" or bool(
            _QUOTE_CLASSES.search(attributes.get("class", "")) or _QUOTE_IDS.match(attributes.get("id", "")))
        if opens_quote and tag != "blockquote" and "gmail_quote" in attributes.get("class", "") and tag == "div":
            # Gmail's div holds the "On ... wrote:" line, then a blockquote: only the blockquote is quoted.
            opens_quote = False
        if tag in _BLOCK or tag == "blockquote" or opens_quote:
            self._break()
        if tag == "pre":
            self.pre_depth += 1
        if tag == "a":
            self.href = attributes.get("href")
            self.link_text = []
        if tag == "li":
            self.current.append("- ")
        if opens_quote:
            self.quote_depth += 1
        self.stack.append((tag, opens_quote))

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in _VOID and tag not in _SKIP:
            return
        # Close up to the matching tag: real mail HTML forgets end tags all the time.
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                break
        else:
            return
        while len(self.stack) > index:
            open_tag, opened_quote = self.stack.pop()
            if open_tag in _SKIP:
                self.skip_depth = max(0, self.skip_depth - 1)
                continue
            if open_tag in _BLOCK or open_tag == "blockquote" or opened_quote:
                self._break()
            if open_tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
            if open_tag == "a":
                self._end_link()
            if opened_quote:
                self.quote_depth = max(0, self.quote_depth - 1)

    def _end_link(self) -> None:
        text = "".join(self.link_text).strip()
        href = (self.href or "").strip()
        if href.startswith(("http://", "https://")) and href != text and text and href not in text:
            self.current.append(f" ({href})")
        self.href = None

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if not self.pre_depth:
            data = data.replace("\r", " ").replace("\n", " ")
            self.current.append(data)
        else:
            parts = data.split("\n")
            for part in parts[:-1]:
                self.current.append(part)
                self._break()
            self.current.append(parts[-1])
        if self.href is not None:
            self.link_text.append(data)

    def text(self) -> str:
        self._break()
        lines = self.lines
        while lines and not lines[-1].strip("> "):
            lines.pop()
        return "\n".join(lines).strip("\n")


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body; quoted history as `> ` lines. Never raises."""
    builder = _TextBuilder()
    try:
        builder.feed(markup)
        builder.close()
    except Exception:  # noqa: BLE001 - html.parser on hostile input: fall back to dropping tags
        return unescape(re.sub(r"<[^>]*>", " ", markup)).strip()
    return builder.text()
