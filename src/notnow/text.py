"""Text preparation, pure and side-effect free.

Owns four steps and the order the classifier sees them in (``prepare``):

- ``html_to_text``: the text a person would *see* in an HTML mail: no head, style,
  script or comments, no hidden preheaders, no tracking pixels; blocks become lines.
- ``new_part`` / ``quoted_part``: what the sender wrote for this message, apart from the
  quoted history and forwarded blocks below it (en, de, fr, es, nl, pt mail clients).
- ``trim_footer``: signatures and trailing boilerplate (unsubscribe, confidentiality,
  EEO, privacy and address blocks). Only trailing blocks; never the middle of a message.
- ``detect_language``: one of ``language.LANGUAGES``, decided on the prepared text.

Everything here is linear in the input (mail in the wild is hostile and sometimes huge):
the HTML tokenizer is our own rather than ``html.parser``, which is quadratic on some
broken markup in Python 3.11 and passes script text through when a tag is unterminated.
Nothing here does I/O, logs message text or raises on any input.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Sequence

from notnow import language

# The classifier sees at most this much text; rejections say what they say early.
MAX_PREPARED_CHARS = 6000
_MAX_SCANNED_CHARS = 100_000

# -- HTML -> visible text -----------------------------------------------------------------

# Elements whose content is raw text up to their end tag (no tags inside); only textarea's
# content is visible.
_RAW_TEXT = {
    "script",
    "style",
    "title",
    "textarea",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
}
# Elements whose whole subtree is never shown.
_INVISIBLE = {"head", "template", "xml", "svg", "math", "object", "select", "datalist"}
_VOID = {
    "area",
    "base",
    "basefont",
    "bgsound",
    "br",
    "col",
    "embed",
    "frame",
    "hr",
    "img",
    "input",
    "keygen",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
_HEAD_CONTENT = {
    "head",
    "title",
    "meta",
    "link",
    "style",
    "script",
    "base",
    "noscript",
    "template",
    "xml",
    "html",
}
_PARAGRAPH = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "dl",
    "blockquote",
    "pre",
    "table",
    "figure",
    "address",
}
_LINE = {
    "div",
    "br",
    "tr",
    "li",
    "dt",
    "dd",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "center",
    "caption",
    "details",
    "summary",
    "dialog",
    "form",
    "fieldset",
    "figcaption",
    "hgroup",
    "menu",
    "dir",
    "tbody",
    "thead",
    "tfoot",
    "body",
    "legend",
    "option",
}
_CLOSES_P = {
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "ul",
    "dd",
    "dt",
}
_TABLE_SCOPE = {"table", "td", "th", "caption", "template", "html"}
# How far down the open-element stack an end tag is looked for: keeps each tag O(1), so
# a flood of unclosed tags cannot make the conversion quadratic.
_STACK_SEARCH = 64

_HIDDEN_STYLE = re.compile(
    r"display:none|visibility:hidden|mso-hide:all"
    r"|(?:max-height|font-size|opacity|line-height):0(?:\.0+)?(?:px|pt|em|rem|%)?(?:;|$)"
    r"|font-size:(?:0?\.\d+|1)px(?:;|$)"
)
_HIDDEN_CLASSES = {
    "preheader",
    "pre-header",
    "preheader-text",
    "preview",
    "preview-text",
    "previewtext",
    "hidden",
    "hide",
    "visually-hidden",
    "sr-only",
    "mso-hide",
}
_PIXEL_STYLE = re.compile(r"(?<![-\w])(?:width|height):[01](?:px)?(?:;|$)|display:none")

_TAG_NAME = re.compile(r"[A-Za-z][^\s/>]*")
_SPACE = re.compile(r"[\s/]*")
_ATTRIBUTE = re.compile(
    r"""([^\s/>][^\s/>=]*)(?:\s*=\s*(?:"([^"]*)("?)|'([^']*)('?)|([^\s>]*)))?"""
)
_WHITESPACE = re.compile(r"\s+")
# Zero-width and invisible characters that preheader padding and trackers are made of.
_INVISIBLE_CHARS = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CELL = "\x1f"  # marks a table-cell boundary inside a line until the line is finished


class _TextBuilder:
    """Collects visible text; line and paragraph breaks are applied lazily so that nested
    blocks do not pile up empty lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.pending = 0  # 0: none, 1: new line, 2: blank line before the next text

    def text(self, chunk: str) -> None:
        if not chunk:
            return
        if chunk.strip():
            if self.pending:
                self._flush(self.pending)
                self.pending = 0
            self.current.append(chunk)
        elif self.current:
            self.current.append(" ")

    def cell(self) -> None:
        self.current.append(_CELL)

    def block(self, level: int) -> None:
        self.pending = max(self.pending, level)

    def hard_break(self) -> None:
        if self.pending:
            self._flush(self.pending)
            self.pending = 0
        self.lines.append(_finish_line(self.current))
        self.current = []

    def _flush(self, level: int) -> None:
        line = _finish_line(self.current)
        self.current = []
        if line:
            self.lines.append(line)
        if level == 2 and self.lines and self.lines[-1]:
            self.lines.append("")

    def result(self) -> str:
        self._flush(1)
        return _squeeze_blank_lines(self.lines)


def _finish_line(pieces: list[str]) -> str:
    joined = "".join(pieces)
    if _CELL in joined:
        cells = (_WHITESPACE.sub(" ", cell).strip() for cell in joined.split(_CELL))
        return " | ".join(cell for cell in cells if cell)
    return _WHITESPACE.sub(" ", joined).strip()


def _squeeze_blank_lines(lines: Iterable[str]) -> str:
    result: list[str] = []
    for line in lines:
        if not line and (not result or not result[-1]):
            continue
        result.append(line)
    while result and not result[-1]:
        result.pop()
    return "\n".join(result)


class _Renderer:
    """Tracks open elements (with implied end tags, roughly as browsers do) and which of
    them hide their content."""

    def __init__(self) -> None:
        self.out = _TextBuilder()
        self.stack: list[tuple[str, bool]] = []
        self.open_count: dict[str, int] = {}
        self.hidden_depth = 0
        self.pre_depth = 0

    # tokens

    def data(self, raw: str) -> None:
        if self.stack and self.stack[-1][0] == "head" and raw.strip():
            self._pop_to(len(self.stack) - 1)  # text in <head> belongs to the body, as in browsers
        if self.hidden_depth:
            return
        chunk = _clean_text(html.unescape(raw))
        if self.pre_depth:
            for index, line in enumerate(chunk.split("\n")):
                if index:
                    self.out.hard_break()
                self.out.text(line)
        else:
            self.out.text(_WHITESPACE.sub(" ", chunk))

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if self.stack and self.stack[-1][0] == "head" and name not in _HEAD_CONTENT:
            # A body tag ends an unclosed <head>, as in browsers.
            self._pop_to(len(self.stack) - 1)
        self._imply_end_tags(name)
        visible = not self.hidden_depth
        if name == "br":
            if visible:
                self.out.hard_break()
            return
        if name == "img":
            alt = attributes.get("alt", "").strip()
            if visible and alt and not _is_pixel(attributes):
                self.out.text(" " + _WHITESPACE.sub(" ", _clean_text(alt)) + " ")
            return
        if visible:
            if name in ("td", "th"):
                self.out.cell()
            elif name in _PARAGRAPH:
                self.out.block(2)
            elif name in _LINE:
                self.out.block(1)
        if name in _VOID:
            return
        hidden = _is_hidden(name, attributes)
        self.stack.append((name, hidden))
        self.open_count[name] = self.open_count.get(name, 0) + 1
        if hidden:
            self.hidden_depth += 1
        if name == "pre":
            self.pre_depth += 1

    def end(self, name: str) -> None:
        if name == "br":  # browsers treat </br> as <br>
            self.start("br", {})
            return
        if name in ("body", "html"):
            return  # content after </body> is still shown
        boundaries = set() if name in _TABLE_SCOPE or name in ("tr", "tbody") else _TABLE_SCOPE
        if self._close(name, boundaries) and not self.hidden_depth:
            if name in _PARAGRAPH:
                self.out.block(2)
            elif name in _LINE:
                self.out.block(1)
        elif name == "p" and not self.hidden_depth:
            self.out.block(2)

    def raw_text(self, name: str, content: str) -> None:
        if name == "textarea" and not self.hidden_depth:
            self.out.text(_WHITESPACE.sub(" ", _clean_text(html.unescape(content))))

    # the open-element stack

    def _imply_end_tags(self, name: str) -> None:
        if name in _CLOSES_P:
            self._close("p", {"button", *_TABLE_SCOPE})
        if name == "li":
            self._close("li", {"ul", "ol", *_TABLE_SCOPE})
        elif name in ("dt", "dd"):
            self._close_any({"dt", "dd"}, {"dl", *_TABLE_SCOPE})
        elif name in ("td", "th"):
            self._close_any({"td", "th"}, {"tr", "table", "template", "html"})
        elif name == "tr":
            self._close("tr", {"table", "template", "html"})
        elif name in ("thead", "tbody", "tfoot"):
            self._close_any({"thead", "tbody", "tfoot"}, {"table", "template", "html"})
        elif name == "option":
            self._close("option", {"select", "datalist"})

    def _close(self, name: str, boundaries: set[str]) -> bool:
        return self._close_any({name}, boundaries)

    def _close_any(self, names: set[str], boundaries: set[str]) -> bool:
        if not any(self.open_count.get(n) for n in names):
            return False
        lowest = max(0, len(self.stack) - _STACK_SEARCH)
        for index in range(len(self.stack) - 1, lowest - 1, -1):
            open_name = self.stack[index][0]
            if open_name in names:
                self._pop_to(index)
                return True
            if open_name in boundaries:
                return False
        return False

    def _pop_to(self, index: int) -> None:
        while len(self.stack) > index:
            name, hidden = self.stack.pop()
            self.open_count[name] -= 1
            if hidden:
                self.hidden_depth -= 1
            if name == "pre":
                self.pre_depth -= 1


def _clean_text(text: str) -> str:
    text = _INVISIBLE_CHARS.sub("", text)
    return _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


def _style(attributes: dict[str, str]) -> str:
    style = attributes.get("style", "")
    return "".join(style.lower().split()).replace("!important", "")


def _is_hidden(name: str, attributes: dict[str, str]) -> bool:
    if name in _INVISIBLE or "hidden" in attributes:
        return True
    style = _style(attributes)
    if style and _HIDDEN_STYLE.search(style):
        return True
    classes = attributes.get("class", "").lower().split()
    return any(c in _HIDDEN_CLASSES for c in classes)


def _is_pixel(attributes: dict[str, str]) -> bool:
    for key in ("width", "height"):
        value = attributes.get(key, "").strip().lower().removesuffix("px").strip()
        if value.isdigit() and int(value) <= 1:
            return True
    return bool(_PIXEL_STYLE.search(_style(attributes))) or "hidden" in attributes


@functools.lru_cache(maxsize=32)
def _raw_end(name: str) -> re.Pattern[str]:
    return re.compile(r"</" + re.escape(name) + r"(?=[\s/>]|$)", re.IGNORECASE)


def _start_tag(markup: str, position: int) -> tuple[str, dict[str, str], int] | None:
    """Parse ``<name attr=...>`` at ``position``; None when the tag runs to the end."""
    match = _TAG_NAME.match(markup, position + 1)
    if match is None:  # the caller checked for a letter after "<"; kept for safety
        return None
    name = match.group(0).lower()
    attributes: dict[str, str] = {}
    position = match.end()
    length = len(markup)
    while True:
        spaces = _SPACE.match(markup, position)  # always matches: the pattern may be empty
        position = spaces.end() if spaces else position
        if position >= length:
            return None
        if markup[position] == ">":
            return name, attributes, position + 1
        attribute = _ATTRIBUTE.match(markup, position)
        if attribute is None or attribute.end() == position:
            position += 1
            continue
        if (attribute.group(2) is not None and not attribute.group(3)) or (
            attribute.group(4) is not None and not attribute.group(5)
        ):
            return None  # an unterminated quote swallows the rest, as in browsers
        key = attribute.group(1).lower()
        value = attribute.group(2) or attribute.group(4) or attribute.group(6) or ""
        attributes.setdefault(key, html.unescape(value))
        position = attribute.end()


def html_to_text(markup: str) -> str:
    """The visible text of an HTML document: one line per block, cells joined by " | ",
    link text without the address, entities decoded, whitespace normalised."""
    if not markup:
        return ""
    renderer = _Renderer()
    length = len(markup)
    position = 0
    while position < length:
        opening = markup.find("<", position)
        if opening < 0:
            renderer.data(markup[position:])
            break
        if opening > position:
            renderer.data(markup[position:opening])
        position = _tag(markup, opening, renderer)
    return renderer.out.result()


def _tag(markup: str, position: int, renderer: _Renderer) -> int:
    """Handle the markup starting with "<" at ``position``; return where to go on."""
    length = len(markup)
    following = markup[position + 1 : position + 2]
    if markup.startswith("<!--", position):
        if markup.startswith("<!-->", position):
            return position + 5
        end = markup.find("-->", position + 4)
        return length if end < 0 else end + 3
    if following in ("!", "?"):
        # Doctype, CDATA, <![if !mso]>: a "bogus comment" up to the next ">".
        end = markup.find(">", position + 2)
        return length if end < 0 else end + 1
    if following == "/":
        name_match = _TAG_NAME.match(markup, position + 2)
        end = markup.find(">", position + 2)
        if end < 0:
            return length
        if name_match is not None:
            renderer.end(name_match.group(0).lower())
        return end + 1
    if not following.isascii() or not following.isalpha():
        renderer.data("<")
        return position + 1
    parsed = _start_tag(markup, position)
    if parsed is None:
        return length
    name, attributes, position = parsed
    if name in _RAW_TEXT:
        if name == "plaintext":
            return length
        end_match = _raw_end(name).search(markup, position)
        if end_match is None:
            return length
        renderer.raw_text(name, markup[position : end_match.start()])
        close = markup.find(">", end_match.end())
        return length if close < 0 else close + 1
    renderer.start(name, attributes)
    return position


# -- the new part of a reply --------------------------------------------------------------

# "On <date>, <name> wrote:" and its translations; checked only on lines ending in ":".
_ATTRIBUTION_VERB = re.compile(
    r"(?:\bwrote|\bschrieb\b.{0,200}|\ba\s+écrit|\bescribió|\bschreef\b.{0,200}|\bescreveu)"
    r"\s?:$",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_ATTRIBUTION_START = re.compile(r"^(?:On|Am|Le|El|Op|Em)\s", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^[\s*]*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht"
    r"|Message d'origine|Mensaje original|Oorspronkelijk bericht|Origineel bericht"
    r"|Mensagem original|Forwarded message|Weitergeleitete Nachricht|Message transféré"
    r"|Mensaje reenviado|Doorgestuurd bericht|Mensagem encaminhada"
    r"|Forwarded by .{1,200})\s*-{2,}[\s*]*$"
    r"|^[\s*]*(?:Begin forwarded message|Anfang der weitergeleiteten (?:Nachricht|E-Mail)"
    r"|Début du message (?:réexpédié|transféré)|(?:Inicio|Comienzo) del mensaje reenviado"
    r"|Begin doorgestuurd bericht|Início da mensagem (?:reencaminhada|encaminhada))\s?:[\s*]*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^[\s*]*(?:From|De|Von|Van|Da)\s?:[\s*]*\S", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^[\s*]*(?:Sent|Date|To|Subject|Cc|Gesendet|Datum|An|Betreff|Envoyé|À|Objet|Enviado"
    r"|Fecha|Para|Asunto|Verzonden|Aan|Onderwerp|Data|Assunto|Enviada)\s?:",
    re.IGNORECASE,
)
_QUOTE_LINE = re.compile(r"^\s*>")


def _is_header_block(lines: Sequence[str], index: int) -> bool:
    if not _HEADER_FROM.match(lines[index]):
        return False
    seen = 0
    for line in lines[index + 1 : index + 12]:
        if not line.strip():
            continue
        seen += 1
        if _HEADER_OTHER.match(line):
            return True
        if seen >= 4:
            break
    return False


def _attribution_line(line: str) -> bool:
    if len(line) > 600 or not line.endswith(":") or not _ATTRIBUTION_VERB.search(line):
        return False
    return bool(_ATTRIBUTION_START.match(line) or "@" in line or _DIGIT.search(line))


def _is_attribution(lines: Sequence[str], index: int) -> bool:
    line = lines[index].strip()
    if _attribution_line(line):
        return True
    # "On Mon, 3 Jun 2024 at 10:12, Jane Doe <jane@\nexample.com> wrote:" (wrapped).
    if _ATTRIBUTION_START.match(line) and len(line) < 600:
        joined = line
        for following in lines[index + 1 : index + 3]:
            joined = f"{joined} {following.strip()}"
            if _attribution_line(joined):
                return True
    return False


# What every line that can start quoted history begins or ends with: a line that has
# none of these (most lines of most mail) is passed over without the patterns below.
_MAY_START_QUOTE = re.compile(
    r"[\s*]*(?:[-_]|(?:On|Am|Le|El|Op|Em|From|De|Von|Van|Da|Begin|Anfang|Début|Inicio"
    r"|Comienzo|Início)\b)|.*:[\s*]*$",
    re.IGNORECASE,
)


def _quote_start(lines: Sequence[str]) -> int | None:
    """Index of the first line of quoted history or a forwarded block, if any."""
    for index, line in enumerate(lines):
        if not _MAY_START_QUOTE.match(line) or not line.strip() or _QUOTE_LINE.match(line):
            continue
        if (
            _SEPARATOR.match(line)
            or _is_attribution(lines, index)
            or _is_header_block(lines, index)
        ):
            return index
        if _RULE.match(line) and any(
            _is_header_block(lines, j) for j in range(index + 1, min(index + 3, len(lines)))
        ):
            return index
    return None


def _split(text: str) -> tuple[list[str], list[str], list[str]]:
    """(new lines, quoted lines from the new part, the history from the cut on)."""
    lines = text.splitlines()
    cut = _quote_start(lines)
    head, tail = (lines, []) if cut is None else (lines[:cut], lines[cut:])
    new = [line.rstrip() for line in head if not _QUOTE_LINE.match(line)]
    quoted = [line.rstrip() for line in head if _QUOTE_LINE.match(line)]
    return new, quoted, tail


def new_part(text: str) -> str:
    """The part of a reply written for this message: the text above the quoted history or
    forwarded block, without ``>`` lines. A pure forward gives "" (or its short "FYI"):
    the classifier judges the writer's own words, not what they forwarded."""
    new, _, _ = _split(text)
    return _squeeze_blank_lines(line for line in new if not _RULE.match(line)).strip()


def quoted_part(text: str) -> str:
    """Everything ``new_part`` leaves out: ``>`` lines and the history or forward below."""
    _, quoted, tail = _split(text)
    return "\n".join([*quoted, *tail]).strip()


# -- footers ------------------------------------------------------------------------------

# Both are matched against lower-cased text: with IGNORECASE Python's engine folds every
# character it tries, which made footer trimming four times slower. MULTILINE lets one
# search look at a whole block: ^ and $ match at every line.
_FOOTER = re.compile(
    "|".join(
        (
            # unsubscribe / preferences
            r"unsubscrib|opt[- ]out|manage (?:your )?(?:e-?mail )?(?:preferences|subscription)",
            r"update (?:your )?(?:e-?mail )?preferences|abmelden|abbestellen|désinscri",
            r"désabonn|darse de baja|cancelar (?:la |a )?(?:suscripción|inscrição|assinatura)",
            r"afmelden|uitschrijven|descadastr|view (?:this e-?mail )?in (?:your )?browser",
            # who sent this and why
            r"this (?:e-?mail|message|notification) (?:was|has been|is) (?:sent|generated|"
            r"delivered|automatically)",
            r"you (?:are )?receiv(?:ed|ing) this|do not reply to this|please do not reply",
            r"this is an? (?:automated|automatic|system[- ]generated)|no-?reply",
            r"diese (?:e-?mail|nachricht) wurde|automatisch (?:erstellt|generiert|versendet)",
            r"bitte antworten sie nicht|(?:cet|ce) (?:e-?mail|courriel|message) (?:a été|est)"
            r" (?:envoyé|généré)",
            r"ne pas répondre|este (?:correo|mensaje|e-?mail) (?:fue|ha sido|se ha|foi)"
            r" (?:enviado|generado|gerado)",
            r"no respondas? a este|deze (?:e-?mail|mail|bericht) (?:is|werd)"
            r" (?:verzonden|verstuurd|gegenereerd)",
            r"niet (?:op deze|beantwoorden)|esta mensagem foi|não responda",
            # mobile signatures
            r"sent from my|get outlook for|gesendet von meinem|von meinem \w+ gesendet",
            r"envoyé de mon|enviado desde mi|verzonden (?:vanaf|met) mijn|enviado do meu",
            # legal
            r"privacy (?:policy|notice|statement)|terms of (?:use|service)|datenschutz",
            r"politique de confidentialité|política de privacidad|privacybeleid",
            r"política de privacidade|impressum|mentions légales|aviso legal",
            r"©|\(c\) ?\d{4}|all rights reserved|alle rechte vorbehalten",
            r"tous droits réservés|todos los derechos reservados|alle rechten voorbehouden",
            r"todos os direitos reservados",
            # confidentiality notices
            r"intended (?:solely |only )?for the (?:use of the )?(?:named )?(?:addressee|"
            r"recipient|individual|person|entity)",
            r"if you (?:are not|have received this)|intended recipient|strictly prohibited",
            r"notify the sender|(?:confidential|privileged).{0,200}(?:recipient|addressee)",
            r"nicht der (?:richtige|beabsichtigte) (?:adressat|empfänger)|irrtümlich erhalten",
            r"destinataire|destinatario|destinatário|geadresseerde|ontvanger",
            r"confidential information|vertrauliche informationen|informations confidentielles",
            r"información confidencial|vertrouwelijke informatie|informações confidenciais",
            # equal opportunity
            r"equal (?:employment )?opportunit|without regard to|affirmative action",
            r"reasonable accommodation|protected (?:veteran|characteristic)|e-?verify",
            r"chancengleich|diskriminierungsfrei|égalité des chances",
            r"igualdad de oportunidades|gelijke kansen|igualdade de oportunidades",
            # platforms and social bars
            r"powered by \w|follow us on|folgen sie uns|suivez-nous|síguenos|volg ons",
            r"siga-nos",
        )
    ),
    re.MULTILINE,
)
# Addresses, phone numbers, company registration, link-only lines and link bars. _ADDRESS
# is the one pattern and the reference; _has_address asks it the same question in parts,
# about four times faster. Most alternatives begin with \b or \w, which gives Python's
# engine no first character to scan for, so the 30-way alternation tried every alternative
# at every position. The part of each alternative: "literal" ones begin with a character the
# engine scans for; "word" ones (\b keywords) always run; "digit", "url" and "bar" ones run
# only when the text holds what each of them needs: a digit, "http" or "www.", one of
# "|·•". Unit tests hold _has_address equal to _ADDRESS.search on the test mail and more.
_ADDRESS_ALTERNATIVES: tuple[tuple[str, str], ...] = (
    ("literal", r"\+\d[\d\s().-]{7,}\d"),
    (
        "word",
        r"\b(?:tel|phone|fax|mobile|mob|telefon|téléphone|teléfono"
        r"|telefoon|telefone)\b\.?\s*:?\s*[+\d(]",
    ),
    (
        "digit",
        r"\b\d{1,5}[a-z]?,?\s+(?:\w+\s){0,3}(?:street|st\.|avenue|ave\.?|road|rd\.|"
        r"boulevard|blvd\.?|lane|drive|suite|floor)\b",
    ),
    (
        "digit",
        r"\w(?:straße|strasse|str\.|weg|platz|allee|gasse|straat|laan|plein|gracht|kade)"
        r"\s+\d",
    ),
    ("digit", r"\b\d+,?\s+(?:rue|avenue|boulevard|bd|place|chemin|quai)\b"),
    ("word", r"\b(?:calle|c/|avenida|avda\.?|plaza|paseo|rua|praça|travessa)\s"),
    ("digit", r"\b\d{5}\s+[a-zäöüé][\wäöüßéèàç-]+"),
    ("digit", r"\b[a-z]{2}\s+\d{5}(?:-\d{4})?\b"),
    ("digit", r"\b\d{4}\s?[a-z]{2}\s+[a-z]"),
    ("digit", r"\b\d{5}-\d{3}\b"),
    ("digit", r"\b[a-z]{1,2}\d[a-z\d]?\s\d[a-z]{2}\b"),
    ("literal", r"registered (?:office|in)"),
    ("literal", r"company (?:no|number|registration)"),
    ("word", r"\bvat\b"),
    ("literal", r"ust-?id"),
    ("literal", r"handelsregister"),
    ("literal", r"amtsgericht"),
    ("digit", r"\bhrb\s?\d"),
    ("literal", r"geschäftsführ"),
    ("literal", r"sitz der gesellschaft"),
    ("word", r"\bsiret\b"),
    ("word", r"\bsiren\b"),
    ("word", r"\brcs\b"),
    ("literal", r"capital social"),
    ("word", r"\bkvk\b"),
    ("word", r"\bbtw\b"),
    ("word", r"\bcnpj\b"),
    ("literal", r"registro mercantil"),
    ("url", r"^\s*(?:https?://\S+|www\.\S+)\s*$"),
    ("bar", r"^[^|·•]{1,40}(?:\s[|·•]\s[^|·•]{1,40}){1,}$"),
)


def _address_part(kind: str) -> re.Pattern[str]:
    alternatives = [alt for part, alt in _ADDRESS_ALTERNATIVES if part == kind]
    return re.compile("|".join(alternatives), re.MULTILINE)


_ADDRESS = re.compile("|".join(alt for _, alt in _ADDRESS_ALTERNATIVES), re.MULTILINE)
_ADDRESS_LITERAL = _address_part("literal")
_ADDRESS_WORD = _address_part("word")
_ADDRESS_DIGIT = _address_part("digit")
_ADDRESS_URL_LINE = _address_part("url")
_ADDRESS_BAR_LINE = _address_part("bar")
_ANY_DIGIT = re.compile(r"\d")  # the same \d (any Unicode decimal digit) as the parts use


def _has_address(text: str) -> bool:
    """``_ADDRESS.search(text) is not None``, for any string, at a fraction of the cost."""
    return bool(
        _ADDRESS_LITERAL.search(text)
        or (("http" in text or "www." in text) and _ADDRESS_URL_LINE.search(text))
        or (("|" in text or "·" in text or "•" in text) and _ADDRESS_BAR_LINE.search(text))
        or _ADDRESS_WORD.search(text)
        or (_ANY_DIGIT.search(text) and _ADDRESS_DIGIT.search(text))
    )


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SIGNATURE = re.compile(r"^--\s?$")
# A "-- " line further up than this is a divider in the body, not a signature.
_SIGNATURE_MAX_LINES = 25
_FOOTER_MAX_ROUNDS = 40
_FOOTER_SHARE = 0.7
# A line at least this long that does not end a sentence probably continues on the next.
_WRAPPED_LINE = 45
_SHORT_LINE = 80


def _segments(lines: Sequence[str]) -> list[str]:
    """Lines joined where they look wrapped: a short line ("Best regards,") is its own."""
    segments: list[str] = []
    wrapped = False
    for line in lines:
        line = line.strip()
        if wrapped and segments:
            segments[-1] += " " + line
        else:
            segments.append(line)
        wrapped = len(line) >= _WRAPPED_LINE and not line.endswith((".", "!", "?", ":"))
    return segments


def _is_footer(lines: Sequence[str]) -> bool:
    """Most of the block (by characters, per line or per sentence) is boilerplate: a body
    sentence that mentions a privacy policy does not make its paragraph a footer."""
    total = sum(len(line.strip()) for line in lines)
    if not total:
        return False
    lowered = [line.lower() for line in lines]
    block = "\n".join(lowered)
    boilerplate = _FOOTER.search(block) is not None
    if not boilerplate and not _has_address(block):
        return False  # most blocks of most mail: nothing to weigh
    # Per line only for short lines (address blocks, link bars); a long line is judged by
    # its sentences, so one boilerplate phrase does not condemn a paragraph of body text.
    by_line = sum(
        len(line.strip())
        for line, low in zip(lines, lowered, strict=True)
        if len(line.strip()) <= _SHORT_LINE and (_FOOTER.search(low) or _has_address(low))
    )
    by_sentence = 0
    if boilerplate:
        sentences = [s for segment in _segments(lines) for s in _SENTENCE_END.split(segment)]
        by_sentence = sum(len(s) for s in sentences if _FOOTER.search(s.lower()))
    return max(by_line, by_sentence) >= _FOOTER_SHARE * total


def trim_footer(text: str) -> str:
    """Cut a signature (a "-- " line) and trailing boilerplate blocks. The first paragraph
    always stays: a message does not begin with its footer."""
    lines = [line.rstrip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        if (
            index
            and _SIGNATURE.match(line)
            and len(lines) - index <= _SIGNATURE_MAX_LINES
            and any(earlier.strip() for earlier in lines[:index])
        ):
            lines = lines[:index]
            break
    # Bounded: each round drops a block or a line; a footer is never hundreds of blocks.
    for _ in range(_FOOTER_MAX_ROUNDS):
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            break
        start = len(lines)
        while start > 0 and lines[start - 1].strip():
            start -= 1
        if start > 0 and _is_footer(lines[start:]):
            del lines[start:]
        elif len(lines) - start > 1 and _is_footer(lines[-1:]):
            lines.pop()
        else:
            break
    return "\n".join(lines).strip()


# -- what the classifier sees ---------------------------------------------------------------

# Trailing punctuation belongs to the sentence, not to the address.
_URL = re.compile(
    r"\b(?:https?://|ftp://|www\.|mailto:)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", re.IGNORECASE
)
# The lookbehind makes a failed match cost one pass over a word, not one per character.
_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"[^\S\n]+")


def written_part(body: str) -> str:
    """The words written for this message: the new part of ``body``, footer trimmed.

    The new part is at the top and only the start of a body is scanned: a megabyte of
    quoted history need not be."""
    return trim_footer(new_part(body[:_MAX_SCANNED_CHARS]))


def prepare(subject: str, body: str) -> str:
    """The text the classifier sees: the subject, then the new part of the body with its
    footer trimmed; URLs and addresses replaced by " URL " / " EMAIL ", digit runs by "0",
    whitespace normalised, at most ``MAX_PREPARED_CHARS`` characters."""
    return prepare_written(subject, written_part(body))


def _replace_links(text: str, url: str, address: str) -> str:
    """``text`` with its URLs replaced by ``url`` and then its e-mail addresses by
    ``address``. Each substitution runs only where it can match: most mail has no
    address and many have no URL, and this runs for every message of a backlog."""
    lowered = text.lower()
    if "://" in text or "www." in lowered or "mailto:" in lowered:
        text = _URL.sub(url, text)
    if "@" in text:
        text = _EMAIL.sub(address, text)
    return text


def prepare_written(subject: str, written: str) -> str:
    """``prepare`` for a body already cut to its ``written_part`` (``Email.new_text``)."""
    text = _replace_links(f"{subject}\n{written[: MAX_PREPARED_CHARS * 2]}", " URL ", " EMAIL ")
    text = _DIGITS.sub("0", text)
    if not text.isascii():
        text = _INVISIBLE_CHARS.sub("", text)
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Runs of spaces to one, each line stripped; split() is several times faster than
    # a regular expression that matches every space.
    text = "\n".join(filter(None, (" ".join(line.split()) for line in text.split("\n"))))
    if len(text) > MAX_PREPARED_CHARS:
        cut = max(
            text.rfind(" ", 0, MAX_PREPARED_CHARS + 1), text.rfind("\n", 0, MAX_PREPARED_CHARS + 1)
        )
        text = text[: cut if cut > MAX_PREPARED_CHARS // 2 else MAX_PREPARED_CHARS]
    return text.strip()


# -- language -----------------------------------------------------------------------------


def load_language_identifier() -> None:
    """Load the identifier now rather than on the first message that needs it."""
    language.identifier()


_LETTERS = re.compile(r"[^\W\d_]")
_MIN_LANGUAGE_PROBABILITY = 0.3


# Enough words to tell six languages apart; identification time grows with the sample.
_LANGUAGE_SAMPLE_CHARS = 600


def detect_language(text: str) -> str:
    """One of LANGUAGES for the writer's own words (new part, footer trimmed); "en" when
    there is nothing to judge."""
    return language_of(written_part(text) or text[:_MAX_SCANNED_CHARS])


def language_of(written: str) -> str:
    """``detect_language`` for text already cut to its ``written_part``."""
    return languages_of([written])[0]


def languages_of(writtens: Sequence[str]) -> list[str]:
    """``language_of`` of each text; many at once are several times faster a text."""
    samples: dict[int, str] = {}
    for index, written in enumerate(writtens):
        sample = _replace_links(written[: _LANGUAGE_SAMPLE_CHARS * 4], " ", " ")
        sample = _SPACES.sub(" ", _DIGITS.sub(" ", sample))[:_LANGUAGE_SAMPLE_CHARS]
        first = _LETTERS.search(sample)
        if first is not None and _LETTERS.search(sample, first.end()) is not None:
            samples[index] = sample  # else fewer than two letters: "en"
    found = language.identifier().classify_many(list(samples.values()))
    # Below the minimum, a sample has too little evidence ("Hi", "OK"): the most common.
    decided = {
        index: detected if probability >= _MIN_LANGUAGE_PROBABILITY else "en"
        for index, (detected, probability) in zip(samples, found, strict=True)
    }
    return [decided.get(index, "en") for index in range(len(writtens))]
