"""Translations and locale-aware formatting: the request's language (zh-CN or en), gettext, yuan and dates.

How to add a user-facing string (docs/i18n.md has the whole story):

- Python: `from tierflow.platform.i18n import _` then `_("Repaid %(amount)s.", amount=money(fen))`.
  Placeholders are `%(name)s`; pass the values as keywords, never build the sentence with f-strings
  (the translator must see the whole sentence). Module-level strings use `lazy_gettext`; a string
  that is only marked for extraction (translated later by the caller) uses `N_`.
- Templates: `{{ _("Sign out") }}`, or `{% trans amount=x|yuan %}Repaid ¥{{ amount }}{% endtrans %}`.
- Then `make translations` and fill in the zh_CN msgstr in
  `src/tierflow/platform/locale/zh_CN/LC_MESSAGES/messages.po` (tests/test_i18n.py fails on an
  untranslated or fuzzy entry).

The current locale lives in a context variable, set once per HTTP request by `LocaleMiddleware`
(a user's remembered choice, else the `tierflow_lang` cookie, else Accept-Language) and copied into
the worker threads that run the request's blocking work; outside a request it is English.
Catalogues are read from the .po files at start-up and compiled in memory, so no generated file is
ever written into the tree.
"""

from __future__ import annotations

import datetime as dt
import gettext as _gettext
import io
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _babel_format_decimal
from babel.support import LazyProxy

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "messages"
ZH: Final = "zh_CN"
EN: Final = "en"
# The languages the product speaks, and how each names itself in the language switch.
LOCALES: Final = (ZH, EN)
LANGUAGE_NAMES: Final = {ZH: "中文", EN: "English"}
DEFAULT_LOCALE: Final = EN
COOKIE_NAME: Final = "tierflow_lang"

_current: ContextVar[str] = ContextVar("tierflow_locale", default=DEFAULT_LOCALE)


# -- the current locale -------------------------------------------------------------------------
def get_locale() -> str:
    """The locale of the current request ("zh_CN" or "en"); English outside a request."""
    return _current.get()


def set_locale(locale: str | None) -> None:
    """Make `locale` current for the rest of this request (context); an unknown one is ignored."""
    normalised = normalise(locale)
    if normalised is not None:
        _current.set(normalised)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Run a block in `locale` (tests, notices rendered for someone else, CLI output)."""
    token = _current.set(normalise(locale) or DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def normalise(locale: str | None) -> str | None:
    """ "zh-CN", "zh_cn", "zh-Hans", "zh" → "zh_CN"; "en-GB", "en" → "en"; anything else → None."""
    if not locale:
        return None
    tag = locale.strip().replace("-", "_").lower()
    if tag == "zh" or tag.startswith("zh_"):
        return ZH
    if tag == "en" or tag.startswith("en_"):
        return EN
    return None


def from_accept_language(header: str | None) -> str:
    """The best of our locales for an Accept-Language header: zh-CN for a Chinese browser, else en."""
    best: tuple[float, str] | None = None
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        locale = normalise(tag)
        if locale is not None and quality > 0 and (best is None or quality > best[0]):
            best = (quality, locale)
    return best[1] if best is not None else DEFAULT_LOCALE


def negotiate(*, chosen: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The request's locale: the signed-in user's remembered choice, else the cookie, else the browser's."""
    return normalise(chosen) or normalise(cookie) or from_accept_language(accept_language)


# -- catalogues ---------------------------------------------------------------------------------
def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalogue of `locale` (fuzzy entries left out: a guess is not a translation)."""
    path = catalogue_path(locale)
    if not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def gettext(message: str, /, **params: Any) -> str:
    """`message` in the current locale; `%(name)s` placeholders filled from `params` when given."""
    text = translations(get_locale()).gettext(message)
    return text % params if params else text


_ = gettext


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The singular or plural form for `n` in the current locale; `%(num)s` is `n`."""
    text = translations(get_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


def pgettext(context: str, message: str, /, **params: Any) -> str:
    """`message` in `context` (one English word, two meanings: "Accept" a quote vs a bill)."""
    text = translations(get_locale()).pgettext(context, message)
    return text % params if params else text


def lazy_gettext(message: str, /, **params: Any) -> Any:
    """A string translated when it is used (module-level labels, defined before any request)."""
    return LazyProxy(gettext, message, enable_cache=False, **params)


def N_(message: str) -> str:  # noqa: N802 - the conventional name of gettext's no-op marker
    """Mark `message` for extraction only; the code that shows it calls gettext on it."""
    return message


# -- formatting ---------------------------------------------------------------------------------
# One date format per language, everywhere: 2026年12月5日 / 5 Dec 2026.
DATE_FORMATS: Final = {ZH: "y年M月d日", EN: "d MMM y"}
DATETIME_FORMATS: Final = {ZH: "y年M月d日 HH:mm", EN: "d MMM y, HH:mm"}


def money(fen: int) -> str:
    """1234567 fen → "¥12,345.67" in every locale (exact: Decimal from the integer, never a float)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen amounts are int, got {type(fen).__name__} {fen!r}")
    text = _babel_format_decimal(
        Decimal(abs(fen)) / 100, format="#,##0.00", locale=_babel_locale(get_locale())
    )
    return f"{'-' if fen < 0 else ''}¥{text}"


def date(value: int | dt.date | dt.datetime) -> str:
    """A unix time (UTC) or a date in the current locale's one date format."""
    day = _as_date(value)
    locale = get_locale()
    return _babel_format_date(day, format=DATE_FORMATS[locale], locale=_babel_locale(locale))


def datetime(value: int | dt.datetime) -> str:
    """A unix time as date and time (UTC) in the current locale's format."""
    when = dt.datetime.fromtimestamp(value, tz=dt.UTC) if isinstance(value, int) else value
    locale = get_locale()
    return _babel_format_datetime(
        when, format=DATETIME_FORMATS[locale], tzinfo=dt.UTC, locale=_babel_locale(locale)
    )


def number(value: int) -> str:
    """An integer count with the locale's grouping (12,345)."""
    return _babel_format_decimal(value, format="#,##0", locale=_babel_locale(get_locale()))


def language_name(locale: str) -> str:
    return LANGUAGE_NAMES.get(normalise(locale) or DEFAULT_LOCALE, LANGUAGE_NAMES[DEFAULT_LOCALE])


def html_lang() -> str:
    """The current locale as an HTML/BCP 47 tag ("zh-CN", "en")."""
    return get_locale().replace("_", "-")


def _as_date(value: int | dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.fromtimestamp(value, tz=dt.UTC).date()


@lru_cache(maxsize=len(LOCALES))
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


# -- the request's locale (plain ASGI: no web framework below the web layer) --------------------
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LocaleMiddleware:
    """Sets the request's locale from the `tierflow_lang` cookie or Accept-Language before any handler.

    A signed-in user's remembered choice is applied later by the dashboard (it knows the user), which
    calls `set_locale` on the same context.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        locale = negotiate(
            chosen=None,
            cookie=_cookie(headers.get("cookie", ""), COOKIE_NAME),
            accept_language=headers.get("accept-language"),
        )
        token = _current.set(locale)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip().strip('"')
    return None
