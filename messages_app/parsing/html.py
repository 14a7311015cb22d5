"""HTML bodies: their readable text, a sanitised copy to show, and the nesting budget.

Pure functions, no Django. The text keeps paragraphs and marks quoted history with `>`
so the reply rules that work on text see it; the sanitised copy goes through nh3.
"""

from __future__ import annotations

import logging
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote

import nh3

from messages_app.parsing import html_quotes
from messages_app.parsing.html_quotes import quote_container
from messages_app.parsing.replies import is_forward_marker
from messages_app.parsing.text import clean_text

logger = logging.getLogger(__name__)

# Parse budget: nh3 costs more than linear time in the nesting depth of HTML, so HTML
# nested deeper than MAX_HTML_DEPTH keeps its text in `body` and no sanitised copy.
MAX_HTML_DEPTH = 1_000
# Nested quotes in HTML are marked with at most this many `>`.
MAX_QUOTE_MARKS = 10

# Tags that end a line, and those that also leave a blank line around them.
_LINE_TAGS = frozenset({"div", "li", "tr", "dd", "dt", "section", "article", "header", "footer"})
_PARAGRAPH_TAGS = frozenset(
    {"p", "blockquote", "pre", "table", "ul", "ol", "hr", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
# Tags nh3 removes together with their content (the rest keep their text).
_CLEAN_CONTENT_TAGS = {"script", "style", "title", "template", "noscript"}
# nh3's schemes and `cid:`, which inline images use until they point at their attachment.
_URL_SCHEMES = {*nh3.ALLOWED_URL_SCHEMES, "cid"}


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML document; quoted history becomes `> ` lines.

    Quoted history is a blockquote, or what `html_quotes.quote_container` recognises.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0
        # Everything after an Outlook reply header is the quoted message.
        self.rest_quoted = False
        # For each open div: the first line of the attribution it holds, or None.
        self.divs: list[int | None] = []

    def _flush(self) -> bool:
        text = "".join(self.current)
        self.current = []
        if not self.pre:
            text = " ".join(text.split())
        if not text.strip():
            return False
        prefix = "> " * min(self.quote + self.rest_quoted, MAX_QUOTE_MARKS)
        self.lines.extend(f"{prefix}{line}".rstrip() for line in text.split("\n"))
        return True

    def _gap(self) -> None:
        self._flush()
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "br":
            if not self._flush():
                self.lines.append("")
        elif tag in _PARAGRAPH_TAGS:
            self._gap()
            self.quote += tag == "blockquote"
            self.pre += tag == "pre"
        elif tag in _LINE_TAGS:
            self._flush()
            if tag == "li":
                self.current.append("- ")
        container = quote_container(tag, attrs)
        if container == html_quotes.REST and not self.skip:
            self._gap()
            self.rest_quoted = True
        if tag == "div":
            self.divs.append(len(self.lines) if container == html_quotes.ATTRIBUTION else None)

    def _quote_attribution(self, start: int) -> None:
        """Mark an attribution's lines as quoted, as its quote is; a forward's stay text."""
        lines = self.lines[start:]
        first = next((line for line in lines if line.strip()), "")
        if first and not is_forward_marker(first):
            self.lines[start:] = [f"> {line}" if line.strip() else line for line in lines]

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _PARAGRAPH_TAGS:
            self._gap()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif tag in _LINE_TAGS:
            self._flush()
        if tag == "div" and self.divs:
            start = self.divs.pop()
            if start is not None:
                self._quote_attribution(start)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)

    def text(self) -> str:
        self._flush()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip()


_UNCLOSED_BRACKET = re.compile(r"<(?=[^<>]*(?:<|\Z))")


def html_to_text(html: str) -> str:
    """The readable text of an HTML body, paragraphs kept, quoted blocks marked with `>`."""
    if not html:
        return ""
    if html_too_deep(html):
        return _strip_tags(html)
    extractor = _TextExtractor()
    try:
        # Parse budget: html.parser rescans from every "<" that no ">" closes before the
        # next "<" (quadratic on "<a<a<a..."); such a "<" is text, so it is given as text.
        extractor.feed(_UNCLOSED_BRACKET.sub("&lt;", html))
        extractor.close()
    except AssertionError:
        # html.parser (and _markupbase) refuse some malformed declarations and marked
        # sections (`<![if ...`) with AssertionError, its only error.
        logger.debug("HTML to text failed; falling back to tag stripping", exc_info=True)
        return _strip_tags(html)
    return clean_text(extractor.text())


def _strip_tags(html: str) -> str:
    """The words of HTML without its tags: the fallback that costs one linear pass."""
    return clean_text(" ".join(unescape(re.sub(r"<[^<>]*>", " ", html)).split()))


# Tags without content, and tags HTML closes by itself: neither deepens the nesting.
_FLAT_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr", "p", "li", "td", "th", "tr", "dt", "dd", "option"}
)
_TAG = re.compile(r"<(/?)([a-zA-Z][^\s/<>]*)[^<>]*>")


def html_too_deep(html: str, limit: int = MAX_HTML_DEPTH) -> bool:
    """True when tags in `html` nest deeper than `limit` (one linear scan)."""
    depth = 0
    for match in _TAG.finditer(html):
        if match.group(2).lower() in _FLAT_TAGS or match.group(0).endswith("/>"):
            continue
        if match.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > limit:
                return True
    return False


def sanitise_html(html: str) -> str:
    """HTML with scripts, styles, event handlers and dangerous URLs removed (nh3)."""
    if not html or not html.strip():
        return ""
    if html_too_deep(html):
        logger.info("HTML nested deeper than %d tags: kept as text only", MAX_HTML_DEPTH)
        return ""
    # nh3 refuses only text Rust cannot hold (lone surrogates), which clean_text removed.
    cleaned = nh3.clean(
        clean_text(html), clean_content_tags=_CLEAN_CONTENT_TAGS, url_schemes=_URL_SCHEMES
    )
    return clean_text(cleaned.strip())


_CID_URL = re.compile(r'(\s(?:src|href|background)=")cid:([^"]*)"', re.IGNORECASE)


def rewrite_cid_urls(html: str, urls: dict[str, str]) -> str:
    """Sanitised HTML with `cid:` references to inline parts pointing at their URLs."""
    if not html or "cid:" not in html.lower() or not urls:
        return html
    by_id = {content_id.lower(): url for content_id, url in urls.items()}

    def replace(match: re.Match[str]) -> str:
        url = by_id.get(unquote(match.group(2)).strip().strip("<>").lower())
        return f'{match.group(1)}{url}"' if url else match.group(0)

    return _CID_URL.sub(replace, html)
