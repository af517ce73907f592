"""Render the reply text from a Jinja2 template: the bundled one, or the user's own.

Owns the Jinja2 environment and how template problems reach the user. Plain text, so no
autoescaping; a sandboxed environment, because a template is code and a config file may
come from anywhere; ``StrictUndefined``, and a value that is unknown for this message
(``None``) printed by ``{{ ... }}`` is an error too, so a reply never says "Dear None".
Every problem becomes a ``UserError`` naming the template file and line. Pure apart from
reading the template file; knows nothing about mail headers (that is compose.py).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from notnow.errors import UserError
from notnow.language import LANGUAGES

logger = logging.getLogger(__name__)

BUNDLED_TEMPLATE = "reply.txt.j2"

# What is left of a placeholder when a template printed one literally.
_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


@dataclass(frozen=True)
class ReplyContext:
    """The values a template can use. ``None`` means "not known for this message"."""

    sender_name: str | None
    contact_name: str | None = None
    company: str | None = None
    role: str | None = None
    signature: str = ""
    subject: str = ""
    language: str = "en"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _UnfilledError(Exception):
    """A ``{{ value }}`` printed a value that is unknown for this message."""


def _finalize(value: Any) -> Any:
    # An undefined name passes through: StrictUndefined raises when it is printed.
    if value is None:
        raise _UnfilledError
    return value


@functools.lru_cache(maxsize=8)
def _environment(directory: str | None) -> SandboxedEnvironment:
    """One environment per template folder (None: the bundled templates), kept so a
    template is compiled once; Jinja2 recompiles a user's template when its file changes."""
    loader: jinja2.BaseLoader
    if directory is None:
        loader = jinja2.PackageLoader("notnow.drafts", "templates")
    else:
        loader = jinja2.FileSystemLoader(directory, encoding="utf-8")
    return SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )


def render_reply(context: ReplyContext, template: Path | None = None) -> str:
    """The reply text for ``context``, from ``template`` or the bundled template.

    Raises ``UserError`` (naming the file and line) for a missing or unreadable template,
    a syntax error, an unknown variable, a value printed while unknown, or a sandbox
    violation.
    """
    directory: str | None = None
    if template is None:
        name = BUNDLED_TEMPLATE
        where = f"the bundled template {BUNDLED_TEMPLATE}"
    else:
        if not template.is_file():
            raise UserError(
                f"drafts.template {template} does not exist: fix the path or remove the key "
                "to use the bundled template"
            )
        directory = str(template.resolve().parent)
        name = template.name
        where = str(template)
    environment = _environment(directory)
    values = context.as_dict()
    if values["language"] not in LANGUAGES:
        values["language"] = "en"
    filename: str | None = None
    try:
        compiled = environment.get_template(name)
        filename = compiled.filename
        text = compiled.render(values)
    except jinja2.TemplateSyntaxError as e:
        raise UserError(
            f"{e.filename or where}, line {e.lineno}: template syntax error: {e.message}"
        ) from e
    except jinja2.TemplateNotFound as e:
        raise UserError(f"{where}: template {e.name!r} not found") from e
    except UnicodeDecodeError as e:
        raise UserError(f"{where}: not UTF-8 text ({e.reason})") from e
    except OSError as e:
        raise UserError(f"cannot read template {where}: {e.strerror or e}") from e
    except _UnfilledError as e:
        line = _template_line(e.__traceback__, filename)
        raise UserError(
            f"{_at(where, line)}: a placeholder has no value for this message; wrap it in "
            "{% if ... %} (company, role and contact_name are not always known)"
        ) from None
    except jinja2.UndefinedError as e:
        line = _template_line(e.__traceback__, filename)
        known = ", ".join(sorted(values))
        raise UserError(f"{_at(where, line)}: {e.message} (known names: {known})") from None
    except jinja2.TemplateError as e:
        # SecurityError (sandbox) and other runtime template errors.
        line = _template_line(e.__traceback__, filename)
        raise UserError(f"{_at(where, line)}: {e}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as e:
        line = _template_line(e.__traceback__, filename)
        raise UserError(f"{_at(where, line)}: {type(e).__name__}: {e}") from None
    leftover = _LEFTOVER.search(text)
    if leftover:
        line_number = text.count("\n", 0, leftover.start()) + 1
        raise UserError(
            f"{where}: the rendered reply still contains {leftover.group(0)!r} "
            f"(output line {line_number}): a placeholder was left unfilled"
        )
    logger.debug("rendered reply from %s in language %s", where, values["language"])
    return text


def _at(where: str, line: int | None) -> str:
    return f"{where}, line {line}" if line is not None else where


def _template_line(trace: TracebackType | None, filename: str | None) -> int | None:
    """The template line of the innermost frame Jinja2 mapped back to the template."""
    line = None
    while trace is not None:
        code = trace.tb_frame.f_code
        if filename is not None and code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
