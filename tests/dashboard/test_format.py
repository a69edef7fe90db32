"""Dashboard formatting: fen → yuan strings and back, exactly, at any size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierflow.platform.dashboard import format as f


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (123456789, "1,234,567.89"),
        (-123456789, "-1,234,567.89"),
        (100_000_000_000, "1,000,000,000.00"),
        # 2**256 - 1 fen: far beyond a float's 53 bits, still exact.
        (
            2**256 - 1,
            "1,157,920,892,373,161,954,235,709,850,086,879,078,532,699,846,656,405,640,394,575,840,079,"
            "131,296,399.35",
        ),
    ],
)
def test_yuan_formats_exactly(fen: int, text: str) -> None:
    assert f.yuan(fen) == text


def test_yuan_rejects_float_and_bool() -> None:
    with pytest.raises(TypeError):
        f.yuan(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        f.yuan(True)


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0", 0),
        ("1", 100),
        ("1.5", 150),
        ("1.05", 105),
        ("12,345.67", 1234567),
        (" 1 000 000.00 ", 100000000),
        ("¥3.20", 320),
        ("10000000000000000000000.01", 10**24 + 1),
    ],
)
def test_parse_yuan(text: str, fen: int) -> None:
    assert f.parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-5", "1e5", "1.", ".5", "1,2.3.4"])
def test_parse_yuan_rejects_with_advice(text: str) -> None:
    with pytest.raises(ValueError, match="yuan"):
        f.parse_yuan(text)


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_yuan_round_trips(fen: int) -> None:
    assert f.parse_yuan(f.yuan(fen)) == fen


def test_rates_and_shares() -> None:
    assert f.percent_bps(450) == "4.50%"
    assert f.percent_bps(5) == "0.05%"
    assert f.parse_percent("4.5") == 450
    assert f.parse_percent("4.50 %") == 450
    assert f.share_bps(1, 3) == 3333
    assert f.share_bps(2, 3) == 6667
    assert f.share_bps(5, 0) == 0


def test_discount_matches_the_contract_formula() -> None:
    # 1,000,000.00 yuan at 4.50% for 90 days: 100_000_000 × 450 × 90 / 3_600_000 = 1_125_000 fen.
    assert f.discount(100_000_000, 450, 90) == 1_125_000
    # Half a fen rounds up: 1 fen... 1 × 1 × 1_800_000 / 3_600_000 = 0.5 → 1.
    assert f.discount(1_800_000, 1, 1) == 1
    assert f.discount(1_799_999, 1, 1) == 0
    assert f.discount(100, 450, 0) == 0


def test_days_to_rounds_up_like_the_contract() -> None:
    assert f.days_to(86_400, 0) == 1
    assert f.days_to(86_401, 0) == 2
    assert f.days_to(0, 0) == 0
    assert f.days_to(0, 86_400) == -1


def test_dates() -> None:
    assert f.iso_date(0) == "1970-01-01"
    assert f.parse_date("2026-12-31") == 1798675200
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        f.parse_date("31/12/2026")
