"""Storage-layout check (issue 15): OpenZeppelin's upgrade validator, the contracts against release v1."""

from __future__ import annotations

from tierflow.chain.layout import check_layouts
from tierflow.settings import REPO_ROOT

COUNTER = "    uint256 private _lastLineId;\n"
LINES = "    mapping(uint256 lineId => Line) private _lines;\n"


def test_storage_layout_every_contract_upgrades_from_the_last_release() -> None:
    result = check_layouts()
    assert result.ok, result.report
    assert "7 upgradeable contracts detected, 7 passed" in result.report


def test_storage_layout_check_fails_on_a_reordered_variable() -> None:
    """The fixture: CreditLines with two of its variables swapped (still upgrading from v1:CreditLines)."""
    text = (REPO_ROOT / "contracts" / "CreditLines.sol").read_text()
    broken = text.replace(COUNTER + LINES, LINES + COUNTER)
    assert broken != text
    result = check_layouts({"contracts/CreditLines.sol": broken})
    assert not result.ok
    assert "CreditLines" in result.report and "_lastLineId" in result.report, result.report
