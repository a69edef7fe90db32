"""Jinja2 environment of the dashboard: templates, translations, filters for money, rates, dates and names.

Templates are translated per request: `{{ _("Sign out") }}` and `{% trans %}…{% endtrans %}` call
`tierflow.platform.i18n`, which reads the request's locale from a context variable, so one shared
environment serves every language (docs/i18n.md says how to add a string).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from tierflow.platform import i18n
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.session import csrf_field, current_csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _money(fen: int | None) -> Markup:
    if fen is None:
        return Markup('<span class="muted">—</span>')
    return Markup('<span class="num amount">{}</span>').format(fmt.yuan(fen))


def _date(ts: int | None, *, with_time: bool = False) -> Markup:
    # The server writes the UTC date; app.js rewrites the text in the reader's locale (same width).
    if ts is None:
        return Markup('<span class="muted">—</span>')
    kind = "datetime" if with_time else "date"
    text = (
        fmt.iso_datetime(ts).replace("T", " ").removesuffix("Z") + " UTC" if with_time else fmt.iso_date(ts)
    )
    return Markup('<time datetime="{}" data-kind="{}">{}</time>').format(fmt.iso_datetime(ts), kind, text)


def _address(address: str | None, names: Any = None) -> Markup:
    if not address:
        return Markup('<span class="muted">—</span>')
    label = names.name(address) if names is not None else fmt.short_address(address)
    return Markup('<span class="party" title="{}">{}</span>').format(address, label)


def _days(days: int) -> Markup:
    if days < 0:
        return Markup('<span class="num bad">{} overdue</span>').format(-days)
    return Markup('<span class="num">{}</span>').format(days)


def _status(status: str) -> Markup:
    return Markup('<span class="status status-{}">{}</span>').format(escape(status.lower()), status)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # newstyle: `_("Repaid %(amount)s", amount=x)` escapes the values and formats after translating.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, pgettext=i18n.pgettext, newstyle=True
    )
    env.globals.update(
        locale=i18n.get_locale,
        html_lang=i18n.html_lang,
        languages=i18n.LANGUAGE_NAMES,
    )
    # Every POST form writes {{ csrf_field() }}; base.html sends the token on htmx requests.
    env.globals.update(csrf_field=csrf_field, csrf_token=current_csrf_token)
    env.filters.update(
        money=_money,
        yuan=fmt.yuan,
        pct=fmt.percent_bps,
        date=_date,
        party=_address,
        days=_days,
        status=_status,
        short=fmt.short_address,
        iso_date=fmt.iso_date,
        # Locale-aware: "¥1,234,567.89" and one date format per language (2026年12月5日 / 5 Dec 2026).
        money_text=i18n.money,
        local_date=i18n.date,
        local_datetime=i18n.datetime,
    )
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
