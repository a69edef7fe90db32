"""Chinese and English: every marked string has its zh-CN translation, the locale follows the reader,
amounts and dates have one format per language (docs/i18n.md)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tierflow.platform import i18n
from tierflow.settings import REPO_ROOT

SOURCE = REPO_ROOT / "src" / "tierflow"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "N_": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
}


@lru_cache(maxsize=1)
def extracted() -> dict[str | tuple[str, str], str]:
    """Every marked msgid in the source and templates (as `make translations` extracts them) → where."""
    with (REPO_ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str | tuple[str, str], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(SOURCE), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        key = (context, msgid) if context else msgid
        found.setdefault(key, f"{filename}:{lineno}")
    return found


def catalogue(locale: str) -> dict[str | tuple[str, str], object]:
    with i18n.catalogue_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return {((m.context, m.id[0] if isinstance(m.id, tuple) else m.id) if m.context else
             (m.id[0] if isinstance(m.id, tuple) else m.id)): m for m in catalog if m.id}  # fmt: skip


def test_catalogue_zh_cn_translates_every_marked_string() -> None:
    zh = catalogue(i18n.ZH)
    missing = []
    for key, where in sorted(extracted().items(), key=lambda item: item[1]):
        message = zh.get(key)
        strings = () if message is None else message.string  # type: ignore[attr-defined]
        strings = (strings,) if isinstance(strings, str) else tuple(strings)
        if message is None or not all(strings) or message.fuzzy:  # type: ignore[attr-defined]
            missing.append(f"{where}: {key!r}")
    assert not missing, (
        "strings without a zh_CN translation (run `make translations`, then fill in the msgstr in "
        f"{i18n.catalogue_path(i18n.ZH).relative_to(REPO_ROOT)}):\n" + "\n".join(missing)
    )


def test_catalogue_placeholders_match_between_msgid_and_msgstr() -> None:
    import re

    placeholder = re.compile(r"%\((\w+)\)s|\{(\w+)(?::\w+)?\}")
    wrong = []
    for key, message in catalogue(i18n.ZH).items():
        msgid = key[1] if isinstance(key, tuple) else key
        strings = message.string  # type: ignore[attr-defined]
        for text in (strings,) if isinstance(strings, str) else strings:
            if text and set(placeholder.findall(text)) != set(placeholder.findall(msgid)):
                wrong.append(f"{msgid!r} → {text!r}")
    assert not wrong, "placeholders differ between English and Chinese:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("zh-TW", "zh_CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9", "en"),
        ("fr-FR, en;q=0.5, zh;q=0.7", "zh_CN"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_negotiate_accept_language_picks_chinese_for_a_chinese_browser(
    header: str | None, expected: str
) -> None:
    assert i18n.negotiate(chosen=None, cookie=None, accept_language=header) == expected


def test_negotiate_choice_beats_cookie_beats_browser() -> None:
    assert i18n.negotiate(chosen="en", cookie="zh_CN", accept_language="zh-CN") == "en"
    assert i18n.negotiate(chosen=None, cookie="en", accept_language="zh-CN") == "en"
    assert i18n.negotiate(chosen=None, cookie="xx", accept_language="zh-CN") == "zh_CN"


def test_money_formats_fen_as_yuan_in_both_locales() -> None:
    for locale in i18n.LOCALES:
        with i18n.use_locale(locale):
            assert i18n.money(123_456_789) == "¥1,234,567.89"
            assert i18n.money(-5) == "-¥0.05"
            assert i18n.money(10**20 + 1) == "¥1,000,000,000,000,000,000.01"  # exact, no float
    with pytest.raises(TypeError):
        i18n.money(1.5)  # type: ignore[arg-type]


def test_date_has_one_format_per_language() -> None:
    ts = int(dt.datetime(2026, 12, 5, tzinfo=dt.UTC).timestamp())
    with i18n.use_locale("zh_CN"):
        assert i18n.date(ts) == "2026年12月5日"
        assert i18n.datetime(ts + 3600 * 9 + 60 * 5) == "2026年12月5日 09:05"
    with i18n.use_locale("en"):
        assert i18n.date(ts) == "5 Dec 2026"
        assert i18n.date(dt.date(2026, 1, 9)) == "9 Jan 2026"


def test_gettext_follows_the_current_locale() -> None:
    with i18n.use_locale("zh_CN"):
        assert i18n.gettext("Sign out") == "退出登录"
        assert str(i18n.lazy_gettext("Sign out")) == "退出登录"
    with i18n.use_locale("en"):
        assert i18n.gettext("Sign out") == "Sign out"
    assert i18n.get_locale() == "en"  # outside a request


def test_template_renders_in_the_request_language() -> None:
    from tierflow.platform.dashboard.rendering import render

    def page() -> str:
        return render(
            "empty.html", request=None, viewer=None, paused=True, flash=None, title="—", message="—"
        )

    with i18n.use_locale("zh_CN"):
        html = page()
    assert '<html lang="zh-CN">' in html
    assert "平台已被运营方暂停" in html and "The platform is paused" not in html
    assert "跳到正文" in html
    with i18n.use_locale("en"):
        assert "The platform is paused" in page()
