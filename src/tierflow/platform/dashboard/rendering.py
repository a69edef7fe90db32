"""Jinja2 environment of the dashboard: templates, translations, filters for money, rates, dates and names.

Templates are translated per request: `{{ _("Sign out") }}` and `{% trans %}…{% endtrans %}` call
`tierflow.platform.i18n`, which reads the request's locale from a context variable, so one shared
environment serves every language (docs/i18n.md says how to add a string).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from tierflow.platform import i18n
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import labels
from tierflow.platform.dashboard.session import csrf_field, current_csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _money(fen: int | None) -> Markup:
    if fen is None:
        return Markup('<span class="muted">—</span>')
    return Markup('<span class="num amount">{}</span>').format(fmt.yuan(fen))


def _date(value: int | dt.date | dt.datetime | None, *, with_time: bool = False) -> Markup:
    # One format per language, written by the server (2026年12月5日 / 5 Dec 2026); times in UTC.
    if value is None:
        return Markup('<span class="muted">—</span>')
    ts = fmt.unix(value)
    text = i18n.datetime(ts) + " UTC" if with_time else i18n.date(ts)
    # The ISO date stays in the title (and datetime) for whoever needs the exact value.
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        fmt.iso_datetime(ts), fmt.iso_date(ts), text
    )


def _address(address: str | None, names: Any = None) -> Markup:
    if not address:
        return Markup('<span class="muted">—</span>')
    label = names.name(address) if names is not None else fmt.short_address(address)
    return Markup('<span class="party" title="{}">{}</span>').format(address, label)


def _days(days: int) -> Markup:
    if days < 0:
        return Markup('<span class="num bad">{}</span>').format(i18n.gettext("%(days)s overdue", days=-days))
    return Markup('<span class="num">{}</span>').format(days)


def _status(status: str) -> Markup:
    # The class keeps the stored key (styles); the text is the reader's word for it.
    return Markup('<span class="status status-{}">{}</span>').format(
        escape(status.lower()), labels.status(status)
    )


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
        gettext=i18n.translate,
        ngettext=i18n.translate_plural,
        pgettext=i18n.translate_in_context,
        newstyle=True,
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
        status_text=labels.status,
        role=labels.role,
        person=labels.person,
        trail_action=labels.trail_action,
        trail_outcome=labels.trail_outcome,
        roles=labels.roles,
        custody=labels.custody,
        origin=labels.origin,
        movement=labels.movement,
        search_kind=labels.search_kind,
        action_label=labels.action,
        short=fmt.short_address,
        iso_date=fmt.iso_date,
        unix=fmt.unix,
        # Locale-aware: "¥1,234,567.89" and one date format per language (2026年12月5日 / 5 Dec 2026).
        money_text=i18n.money,
        local_date=i18n.date,
        local_datetime=i18n.datetime,
    )
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
