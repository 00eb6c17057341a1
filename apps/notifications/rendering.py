"""Rendering a notification from its templates, strictly: an unknown variable is an error,
never a blank in a customer's message.

Shipped templates live in `templates/notifications/<kind>/<part file>`; a tenant's
`NotificationTemplate` row overrides one part for one language (or all).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError, engines
from django.template.base import FilterExpression, Node, NodeList, Token, TokenType, Variable
from django.utils import translation

from apps.notifications.kinds import kind_spec
from apps.notifications.models import Channel, NotificationTemplate, TemplatePart

PART_FILES = {
    TemplatePart.EMAIL_SUBJECT: "email_subject.txt",
    TemplatePart.EMAIL_TEXT: "email_text.txt",
    TemplatePart.EMAIL_HTML: "email_html.html",
    TemplatePart.SMS: "sms.txt",
    TemplatePart.PUSH_TITLE: "push_title.txt",
    TemplatePart.PUSH_BODY: "push_body.txt",
}
CHANNEL_PARTS: dict[str, tuple[str, ...]] = {
    Channel.EMAIL: (TemplatePart.EMAIL_SUBJECT, TemplatePart.EMAIL_TEXT, TemplatePart.EMAIL_HTML),
    Channel.SMS: (TemplatePart.SMS,),
    Channel.PUSH: (TemplatePart.PUSH_TITLE, TemplatePart.PUSH_BODY),
    Channel.WEBHOOK: (TemplatePart.PUSH_TITLE, TemplatePart.PUSH_BODY),
}
SINGLE_LINE_PARTS = {TemplatePart.EMAIL_SUBJECT, TemplatePart.PUSH_TITLE}
LANGUAGES = ("en", "fr", "es")

_MISSING = "\x00missing:%s\x00"
_MISSING_PATTERN = re.compile("\x00missing:(.*?)\x00")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


class TemplateProblem(ValueError):
    """A template that does not compile or uses a variable its kind does not provide."""


@dataclass(frozen=True)
class RenderedMessage:
    """What one channel sends: subject (email) or title (push), text, and HTML (email)."""

    subject: str = ""
    text: str = ""
    html: str = ""


@functools.cache
def _engine(autoescape: bool) -> Engine:
    """The project's template engine, but strict: unknown variables render as a marker."""
    base = engines["django"].engine  # type: ignore[attr-defined]
    return Engine(
        dirs=base.dirs,
        app_dirs=base.app_dirs,
        libraries=base.libraries,
        string_if_invalid=_MISSING,
        autoescape=autoescape,
    )


def template_name(kind: str, part: str) -> str:
    return f"notifications/{kind}/{PART_FILES[TemplatePart(part)]}"


def shipped_source(kind: str, part: str) -> str:
    """The shipped file's source (the admin shows it as the starting point of an override)."""
    template = _engine(part == TemplatePart.EMAIL_HTML).get_template(template_name(kind, part))
    return str(template.source)


def _compile(kind: str, part: str, source: str | None) -> Template:
    engine = _engine(part == TemplatePart.EMAIL_HTML)
    if source is None:
        return engine.get_template(template_name(kind, part))
    try:
        return engine.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc}") from exc


def _render(template: Template, part: str, language: str, context: dict[str, Any]) -> str:
    with translation.override(language):
        output = template.render(Context(context, autoescape=part == TemplatePart.EMAIL_HTML))
    missing = sorted(set(_MISSING_PATTERN.findall(output)))
    if missing:
        raise TemplateProblem(f"unknown variable(s): {', '.join(missing)}")
    if part in SINGLE_LINE_PARTS:
        return " ".join(output.split())
    if part == TemplatePart.EMAIL_TEXT:
        # Paragraphs left out by {% if %} leave runs of blank lines behind.
        return _BLANK_LINES.sub("\n\n", output).strip() + "\n"
    return output.strip()


def overrides_for(kind: str, language: str) -> dict[str, str]:
    """The tenant's active overrides for `kind` in `language` (its own beat "every language")."""
    rows = NotificationTemplate.objects.filter(kind=kind, language__in=[language, ""], is_active=True)
    chosen: dict[str, str] = {}
    for row in sorted(rows, key=lambda row: row.language != ""):
        chosen.setdefault(row.part, row.source)
    return chosen


def render_message(*, kind: str, channel: str, language: str, context: dict[str, Any]) -> RenderedMessage:
    """Render every part a channel needs, with the tenant's overrides, in `language`."""
    overrides = overrides_for(kind, language)
    rendered = {
        part: _render(_compile(kind, part, overrides.get(part)), part, language, context)
        for part in CHANNEL_PARTS[channel]
    }
    if channel == Channel.EMAIL:
        return RenderedMessage(
            subject=rendered[TemplatePart.EMAIL_SUBJECT],
            text=rendered[TemplatePart.EMAIL_TEXT],
            html=rendered[TemplatePart.EMAIL_HTML],
        )
    if channel == Channel.SMS:
        return RenderedMessage(text=rendered[TemplatePart.SMS])
    return RenderedMessage(subject=rendered[TemplatePart.PUSH_TITLE], text=rendered[TemplatePart.PUSH_BODY])


def _template_names(nodes: Any) -> tuple[set[str], set[str]]:
    """(variables read, names bound locally by for/with/blocktranslate) in a compiled template."""
    used: set[str] = set()
    bound: set[str] = set()
    _walk(nodes, used, bound, set())
    return used, bound


def _walk(value: Any, used: set[str], bound: set[str], seen: set[int]) -> None:
    if id(value) in seen or isinstance(value, str | int | float | bool | type(None)):
        return
    seen.add(id(value))
    if isinstance(value, Variable):
        if value.lookups:
            used.add(value.lookups[0])
        return
    if isinstance(value, Token):
        if value.token_type == TokenType.VAR:
            used.add(value.contents.split(".")[0].split("|")[0].strip())
        return
    if isinstance(value, FilterExpression):
        _walk(value.var, used, bound, seen)
        for _func, args in value.filters:
            for _is_lookup, arg in args:
                _walk(arg, used, bound, seen)
        return
    if isinstance(value, list | tuple | NodeList):
        for item in value:
            _walk(item, used, bound, seen)
        return
    if isinstance(value, dict):
        for item in value.values():
            _walk(item, used, bound, seen)
        return
    if isinstance(value, Node) or type(value).__module__.startswith("django.template"):
        # Nodes, and the {% if %} condition objects (smartif) that hold their variables.
        bound.update(getattr(value, "loopvars", None) or [])
        bound.update((getattr(value, "extra_context", None) or {}).keys())
        if isinstance(getattr(value, "asvar", None), str):
            bound.add(value.asvar)
        for item in getattr(value, "__dict__", {}).values():
            _walk(item, used, bound, seen)


def validate_source(*, kind: str, part: str, source: str) -> None:
    """Refuse a template that does not compile, reads a variable the kind does not declare, or
    fails to render in any of our languages with the kind's sample data."""
    spec = kind_spec(kind)
    template = _compile(kind, part, source)
    used, bound = _template_names(template.nodelist)
    allowed = {*spec.sample_context(), *bound, "forloop", "block", "True", "False", "None"}
    unknown = sorted(name for name in used if name not in allowed and not name.startswith(("'", '"')))
    if unknown:
        raise TemplateProblem(f"unknown variable(s): {', '.join(unknown)}; available: {', '.join(spec.variable_names)}")
    for language in LANGUAGES:
        _render(template, part, language, spec.sample_context())


def render_sample(*, kind: str, part: str, source: str, language: str) -> str:
    """The admin's live preview: `source` rendered with the kind's sample data."""
    return _render(_compile(kind, part, source), part, language, kind_spec(kind).sample_context())
