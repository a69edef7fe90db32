"""chain/vocabulary.py mirrors the contracts: enums and roles against the AST, messages against the ABIs."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from tierflow.chain import vocabulary
from tierflow.chain.compile import compile_all, syntax_trees
from tierflow.chain.vocabulary import (
    ENUMS,
    ERROR_MESSAGES,
    ROLE_BITS,
    PackageStatus,
    RangeStatus,
    RequestStatus,
    Role,
    SlotStatus,
    revert_message,
)
from tierflow.errors import ContractRevert

# Arguments in fen, by name, of the errors the platform's own contracts and its ERC-20 raise (OpenZeppelin's
# other errors count wei or bits): their messages show yuan. A new fen argument with a new name goes here.
FEN_ARGUMENTS = {
    "value", "requested", "amount", "face", "outstanding", "paidIn", "available", "used", "newLimit",
    "balance", "needed", "allowance", "minUnit", "price", "owed", "paidOut",
}  # fmt: skip
# Unix times (a point in time: a date, or a date and time) and role bits, by argument name.
DATE_ARGUMENTS = {"maturity", "latest"}
DATETIME_ARGUMENTS = {"expiry", "deadline", "dishonourableAt", "defaultableAt"}
ROLE_ARGUMENTS = {"held", "required", "roles"}
PLATFORM_PREFIXES = (
    "Certificate",
    "CreditLine",
    "Document",
    "Financing",
    "Bill",
    "Registry",
    "Settlement",
    "ERC20",
)


@pytest.fixture(scope="module")
def trees() -> dict[str, dict[str, Any]]:
    return syntax_trees()


@pytest.fixture(scope="module")
def abi_errors() -> dict[str, list[dict[str, Any]]]:
    """Every custom error of every compiled contract (OpenZeppelin's included), by name."""
    errors: dict[str, list[dict[str, Any]]] = {}
    for artifact in compile_all().values():
        for item in artifact.abi:
            if item["type"] == "error":
                errors[item["name"]] = item["inputs"]
    return errors


def _nodes(node: Any, kind: str) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("nodeType") == kind:
            yield node
        for value in node.values():
            yield from _nodes(value, kind)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item, kind)


def test_enums_match_the_contracts_member_for_member(trees: dict[str, dict[str, Any]]) -> None:
    declared = {
        enum["name"]: [member["name"] for member in enum["members"]]
        for tree in trees.values()
        for enum in _nodes(tree, "EnumDefinition")
    }
    assert set(declared) == set(ENUMS), "every enum of contracts/ has a mirror in vocabulary.ENUMS"
    for name, members in declared.items():
        assert [member.name for member in ENUMS[name]] == [member.upper() for member in members], name
        assert [vocabulary.status_name(ENUMS[name], n) for n in range(len(members))] == members


def test_status_literals_are_the_enum_members_but_none() -> None:
    for literal, enum in (
        (vocabulary.SlotStatusName, SlotStatus),
        (vocabulary.RequestStatusName, RequestStatus),
        (vocabulary.PackageStatusName, PackageStatus),
        (vocabulary.RangeStatusName, RangeStatus),
    ):
        assert list(get_args(literal)) == [vocabulary.status_name(enum, m) for m in enum if m != 0]
    assert set(get_args(vocabulary.OpenRangeStatusName)) == set(get_args(vocabulary.RangeStatusName)) - {
        "Closed"
    }


def test_role_bits_match_the_roles_library(trees: dict[str, dict[str, Any]]) -> None:
    library = next(
        contract
        for tree in trees.values()
        for contract in _nodes(tree, "ContractDefinition")
        if contract["name"] == "Roles" and contract["contractKind"] == "library"
    )
    single = {
        variable["name"]: int(variable["value"]["value"])
        for variable in _nodes(library, "VariableDeclaration")
        if variable.get("constant") and variable["value"]["nodeType"] == "Literal"
    }
    single = {name: bit for name, bit in single.items() if bit & (bit - 1) == 0}  # ALL is their union
    assert single == {role.name: int(role) for role in Role}
    assert list(ROLE_BITS) == list(get_args(vocabulary.RoleName))


def test_error_every_abi_error_has_a_message(abi_errors: dict[str, list[dict[str, Any]]]) -> None:
    missing = sorted(set(abi_errors) - set(ERROR_MESSAGES))
    assert not missing, f"add a line to ERROR_MESSAGES in chain/vocabulary.py for: {', '.join(missing)}"
    stale = sorted(set(ERROR_MESSAGES) - set(abi_errors))
    assert not stale, f"no contract raises these any more; drop their messages: {', '.join(stale)}"


def test_error_messages_use_every_argument_in_its_unit(abi_errors: dict[str, list[dict[str, Any]]]) -> None:
    problems: list[str] = []
    for name, inputs in sorted(abi_errors.items()):
        template = ERROR_MESSAGES.get(name)
        if template is None:
            continue  # reported by the test above
        fields = {
            field: spec for _, field, spec, _ in string.Formatter().parse(template) if field is not None
        }
        arguments = {item["name"]: item for item in inputs}
        if set(fields) != set(arguments):
            problems.append(f"{name}: placeholders {sorted(fields)} != arguments {sorted(arguments)}")
            continue
        for argument, item in arguments.items():
            spec = fields[argument]
            enum = str(item.get("internalType", "")).removeprefix("enum ").rpartition(".")[2]
            if str(item.get("internalType", "")).startswith("enum ") and spec != enum:
                problems.append(f"{name}.{argument}: an enum ordinal, write {{{argument}:{enum}}}")
            elif name.startswith(PLATFORM_PREFIXES) and argument in FEN_ARGUMENTS and spec != "yuan":
                problems.append(f"{name}.{argument}: an amount in fen, write {{{argument}:yuan}}")
            elif item["type"] == "address" and spec != "party":
                problems.append(f"{name}.{argument}: an address, write {{{argument}:party}} (a name)")
            elif item["type"].startswith("uint") and argument in DATE_ARGUMENTS and spec != "date":
                problems.append(f"{name}.{argument}: a unix time, write {{{argument}:date}}")
            elif item["type"].startswith("uint") and argument in DATETIME_ARGUMENTS and spec != "datetime":
                problems.append(f"{name}.{argument}: a unix time, write {{{argument}:datetime}}")
            elif item["type"] == "uint8" and argument in ROLE_ARGUMENTS and spec != "roles":
                problems.append(f"{name}.{argument}: role bits, write {{{argument}:roles}}")
            elif argument == "rateBps" and spec != "pct":
                problems.append(f"{name}.{argument}: basis points, write {{{argument}:pct}}")
            elif spec not in ("", *vocabulary.SPECS):
                problems.append(f"{name}.{argument}: unknown format spec {spec!r}")
    assert not problems, "\n".join(problems)


def test_revert_message_shows_yuan_and_status_names() -> None:
    insufficient = ContractRevert(
        "CertificateInsufficientValue", {"tokenId": 7, "value": 500_000, "requested": 600_001}
    )
    assert revert_message(insufficient) == (
        "CertificateInsufficientValue: token 7 holds ¥5,000.00, asked ¥6,000.01; ask for less"
    )
    closed = ContractRevert("BillWrongRangeStatus", {"rangeId": 3, "status": 6})
    assert revert_message(closed).startswith("BillWrongRangeStatus: bill range 3 is Closed;")
    unknown = ContractRevert("SomethingNew", {"x": 1})
    assert (
        revert_message(unknown)
        == "SomethingNew(x=1): the contract rejected the transaction; nothing was changed"
    )


def test_error_every_abi_error_has_a_chinese_message(abi_errors: dict[str, list[dict[str, Any]]]) -> None:
    from babel.messages.pofile import read_po

    from tierflow.platform import i18n

    with i18n.catalogue_path(i18n.ZH).open("rb") as handle:
        catalogue = read_po(handle, locale=i18n.ZH)
    missing = []
    for name in sorted(abi_errors):
        entry = catalogue.get(ERROR_MESSAGES.get(name, ""))
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(name)
    assert not missing, (
        "no Chinese for these errors: add the msgstr of their ERROR_MESSAGES line to "
        f"{i18n.catalogue_path(i18n.ZH)} (`make translations` lists it): {', '.join(missing)}"
    )


def test_revert_message_in_chinese_shows_names_dates_and_yuan() -> None:
    from tierflow.platform import i18n

    names = {"0x" + "11" * 20: "Ningbo Precision Castings", "0x" + "22" * 20: "Hangzhou Bank"}
    not_holder = ContractRevert(
        "CertificateNotHolder", {"tokenId": 7, "holder": "0x" + "11" * 20, "caller": "0x" + "22" * 20}
    )
    window = ContractRevert("CertificateInvalidMaturity", {"maturity": 1767225600, "latest": 1812033839})
    roles = ContractRevert("RegistryMissingRole", {"account": "0x" + "22" * 20, "required": 4, "held": 2})
    with i18n.use_locale("zh_CN"):
        text = i18n.revert_message(not_holder, names=names.get)
        assert "Ningbo Precision Castings" in text and "Hangzhou Bank" in text and "0x" not in text
        assert "凭证" in text and "CertificateNotHolder" not in text
        text = i18n.revert_message(window)
        assert "2026年1月1日" in text and "1767225600" not in text
        text = i18n.revert_message(roles)
        assert "资金方" in text and "供应商" in text
    with i18n.use_locale("en"):
        assert "1 Jan 2026" in i18n.revert_message(window)
        text = i18n.revert_message(roles)
        assert "financier" in text and "supplier" in text and "roles 2" not in text
