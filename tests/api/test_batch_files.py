"""Reading a batch file: XLSX and CSV (UTF-8 or GBK) give the same rows; amounts never go through floats."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from tierflow.platform.services import batch_issue
from tierflow.platform.services.errors import InvalidRequest

NUMBER = "24312000000012345678"


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_read_table_xlsx_and_gbk_csv_give_the_same_rows() -> None:
    header = ["供应商", "金额", "到期日", "授信编号", "发票号码"]
    xlsx = _xlsx([header, ["江南钢件", 1234.56, dt.datetime(2027, 3, 31), 7, NUMBER]])
    csv_text = ",".join(header) + f'\n江南钢件,"1,234.56",2027-03-31,7,{NUMBER}\n'
    for content, name in ((xlsx, "erp.xlsx"), (csv_text.encode("gbk"), "erp.csv")):
        rows, errors = batch_issue.parse(batch_issue.read_table(content, name))
        assert errors == [], errors
        assert [(r.supplier, r.face, r.maturity, r.line_id, r.invoice_numbers) for r in rows] == [
            ("江南钢件", 123_456, dt.date(2027, 3, 31), 7, [NUMBER])
        ]


def test_parse_row_errors_name_row_and_column() -> None:
    table = [
        ["supplier", "amount", "maturity", "credit line", "invoice numbers"],
        ["A", "0.001", "2027-02-30", "x", ""],
        ["B", "-5", "2027-01-01", "1", NUMBER],
    ]
    rows, errors = batch_issue.parse(table)
    assert rows == []
    assert {(e.row, e.column) for e in errors} == {
        (2, "amount"), (2, "maturity"), (2, "line_id"), (2, "invoice_numbers"), (3, "amount")
    }  # fmt: skip
    with pytest.raises(InvalidRequest) as missing:
        batch_issue.parse([["supplier", "amount"], ["A", "1"]])
    assert missing.value.code == "batch_columns_missing"
