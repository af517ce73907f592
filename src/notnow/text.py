"""Text preparation, pure and side-effect free: HTML -> visible text, the new part of a
reply apart from quoted history and footers, and the language of a text.

First version; the classifier issue (#3) makes each step thorough.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

LANGUAGES = ("en", "de", "fr", "es", "nl", "pt")

_SKIP_TAGS = {"style", "script", "head", "title", "noscript", "template"}
_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
               "blockquote", "section", "article", "header", "footer", "ul", "ol", "hr"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    if not markup:
        return ""
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_QUOTE_HEADER = re.compile(
    r"^(On .{5,200} wrote:|Am .{5,200} schrieb .{1,200}:|Le .{5,200} a écrit ?:"
    r"|El .{5,200} escribió:|Op .{5,200} schreef .{1,200}:|Em .{5,200} escreveu:"
    r"|-{2,} ?Original Message ?-{2,}|-{2,} ?Forwarded message ?-{2,}|From: .+)$",
    re.IGNORECASE | re.MULTILINE,
)


def new_part(text: str) -> str:
    """The text above the first quoted block (``>`` lines, "On ... wrote:")."""
    match = _QUOTE_HEADER.search(text)
    head = text[: match.start()] if match and match.start() > 0 else text
    lines = [line for line in head.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def detect_language(text: str) -> str:
    import py3langid

    sample = text[:2000]
    if not sample.strip():
        return "en"
    language, _ = _identifier().classify(sample)
    return str(language)


_IDENTIFIER = None


def _identifier():  # type: ignore[no-untyped-def]
    global _IDENTIFIER
    if _IDENTIFIER is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        _IDENTIFIER.set_languages(list(LANGUAGES))
    return _IDENTIFIER
