"""Chinese and English: every marked string has its zh-CN translation, the locale follows the reader,
amounts and dates have one format per language (docs/i18n.md)."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from html.parser import HTMLParser

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tierflow.platform import i18n
from tierflow.settings import REPO_ROOT

SOURCE = REPO_ROOT / "src" / "tierflow"


def _keywords() -> dict[str, object]:
    """The gettext keywords of `make translations` (-k name[:args]), read from the Makefile: one list."""
    keywords: dict[str, object] = {}
    for spec in re.findall(r"-k (\S+)", (REPO_ROOT / "Makefile").read_text()):
        name, _, args = spec.partition(":")
        parsed: list[object] = []
        for arg in filter(None, args.split(",")):
            parsed.append((int(arg[:-1]), "c") if arg.endswith("c") else int(arg))
        keywords[name] = tuple(parsed) if parsed else None
    return keywords


KEYWORDS = _keywords()


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


_FORMAT_PARTS = re.compile(r"%%|%\(\w+\)s")


def test_catalogue_placeholders_match_between_msgid_and_msgstr() -> None:
    placeholder = re.compile(r"%\((\w+)\)s|\{(\w+)(?::\w+)?\}")
    wrong = []
    for key, message in catalogue(i18n.ZH).items():
        msgid = key[1] if isinstance(key, tuple) else key
        strings = message.string  # type: ignore[attr-defined]
        for text in (strings,) if isinstance(strings, str) else strings:
            if text and set(placeholder.findall(text)) != set(placeholder.findall(msgid)):
                wrong.append(f"{msgid!r} → {text!r}")
        for text in (msgid, *((strings,) if isinstance(strings, str) else strings)):
            if text and "%" in _FORMAT_PARTS.sub("", text):
                wrong.append(
                    f"{text!r}: a literal percent sign is written %% (messages are always formatted)"
                )
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
        assert i18n.month(ts) == "2026年12月"
        assert i18n.datetime(ts + 3600 * 9 + 60 * 5) == "2026年12月5日 09:05"
    with i18n.use_locale("en"):
        assert i18n.date(ts) == "5 Dec 2026"
        assert i18n.month(ts) == "Dec 2026"
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


# -- no bare text in templates ------------------------------------------------------------------
TEMPLATES = SOURCE / "platform" / "dashboard" / "templates"
# Text a template may write as is: no word of any language (numbers, ¥, punctuation, P12-style ids),
# the product's name and acronyms that both languages write in Latin letters.
ALLOWED_WORDS = {"Tierflow", "CSV", "csv", "SHA"}
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S)
_WORD = re.compile(r"[^\W\d_]{2,}")  # two letters of any script: a word to translate
_LABEL = re.compile(r"[A-Z]|[^\W\d_]\s+[^\W\d_]|^\s+[^\W\d_]|[^\W\d_]\s+$|[^\x00-\x7f]")
_USER_FACING_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "data-confirm", "label"}


class _BareText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in _USER_FACING_ATTRIBUTES and value and _words(value):
                self.found.append(f'{name}="{value.strip()}"')

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and _words(data):
            self.found.append(data.strip())


def _words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text) if word not in ALLOWED_WORDS]


def bare_text(source: str) -> list[str]:
    """User-facing words a template writes outside `_()` / {% trans %}: text nodes and attributes, and
    string literals that a `{{ … }}` prints (a label chosen by a condition, a unit after a number)."""
    found = []
    stripped = _TRANS_BLOCK.sub(" ", source)
    for match in _JINJA.finditer(stripped):
        if match.group().startswith("{{"):
            found += [f"{{{{ {text} }}}}" for text in _printed_literals(match.group())]
    parser = _BareText()
    parser.feed(_JINJA.sub(" ", stripped))
    parser.close()
    return found + parser.found


def _printed_literals(expression: str) -> list[str]:
    """String constants an output expression prints (not compared, not arguments of calls or filters,
    not inside a gettext call)."""
    from jinja2 import Environment, nodes

    tree = Environment(extensions=["jinja2.ext.i18n"]).parse(expression)
    found: list[str] = []

    def visit(node: nodes.Node) -> None:
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            if node.node.name in ("_", "gettext", "ngettext", "pgettext"):
                return
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            # A capitalised word, two words or any non-Latin letter is a label; one lower-case word
            # is a CSS class, an action path or a status key.
            if _words(node.value) and _LABEL.search(node.value):
                found.append(node.value)
            return
        if isinstance(node, (nodes.Compare, nodes.Test)):
            return
        if isinstance(node, (nodes.Call, nodes.Filter)):
            if node.node is not None:
                visit(node.node)
            return
        if isinstance(node, nodes.CondExpr):
            visit(node.expr1)
            if node.expr2 is not None:
                visit(node.expr2)
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return found


def test_templates_have_no_bare_text() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        found += [f"{path.relative_to(TEMPLATES)}: {text!r}" for text in bare_text(path.read_text())]
    assert not found, (
        "template text outside _() or {% trans %} (docs/i18n.md says how to wrap it):\n" + "\n".join(found)
    )


def test_bare_text_finds_text_attributes_and_printed_literals() -> None:
    assert bare_text("<p>Repay</p>") == ["Repay"]
    assert bare_text('<input placeholder="0x… for self-custody">') == ['placeholder="0x… for self-custody"']
    assert bare_text("<td>{{ n ~ ' days' }}</td>") == ["{{  days }}"]
    assert bare_text("<p>{{ _('Repay') }} ¥{{ x }} · P{{ n }}</p>") == []
    assert bare_text("<p>{% trans n=n %}Repay {{ n }}{% endtrans %}</p>") == []
    assert bare_text("<b>{{ 'a' if x == 'settled' else '' }}</b> <i>Tierflow</i>") == []


def test_validation_errors_read_as_sentences_in_both_languages() -> None:
    from pydantic import ValidationError

    from tierflow.platform.dashboard.actions import explain
    from tierflow.platform.services.schemas.certificates import Quote

    with pytest.raises(ValidationError) as caught:
        Quote(rate_bps=0, valid_hours=0)
    with i18n.use_locale("en"):
        text = explain(caught.value)
        assert text == "Annual rate: enter more than 0%. Quote validity (hours): enter at least 1."
        assert "rate_bps" not in text and "Input should" not in text
    with i18n.use_locale("zh_CN"):
        text = explain(caught.value)
        assert "年利率" in text and "报价有效期" in text and "Annual" not in text
