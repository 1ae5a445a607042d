"""Reading real ledger files: encodings, delimiters, title rows, XLSX, broken files, streaming."""

from __future__ import annotations

import codecs
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from callback.ledger.headers import MissingColumns
from callback.ledger.reader import (
    CsvRows,
    SheetNotFound,
    UnreadableFile,
    XlsxRows,
    detect_encoding,
    open_rows,
    records,
    sniff_delimiter,
)
from callback.ledger.values import normalise_phone, parse_datetime

FILES = Path(__file__).parent / "files"


def _rows(path: Path, sheet: str | None = None) -> list[tuple[int, list[object]]]:
    with open_rows(path, sheet) as source:
        return [(row.number, row.values) for row in source]


def _records(path: Path, sheet: str | None = None) -> list[tuple[int, dict[str, object]]]:
    _, rows = records(path, sheet)
    return list(rows)


# ---------------------------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter"),
    [
        ("utf8.csv", "utf-8-sig", ","),
        ("utf8_bom.csv", "utf-8-sig", ","),
        ("gbk_title.csv", "gb18030", ","),
        ("traditional.csv", "utf-8-sig", "\t"),
        ("missing_phone.csv", "utf-8-sig", ","),
    ],
)
def test_csv_encoding_and_delimiter_detected(name: str, encoding: str, delimiter: str) -> None:
    with open_rows(FILES / name) as source:
        assert isinstance(source, CsvRows)
        assert (source.encoding, source.delimiter) == (encoding, delimiter)


def test_utf8_csv_records() -> None:
    header, rows = records(FILES / "utf8.csv")
    assert header.missing_required() == ()
    assert len(header.columns) == 10
    got = list(rows)
    assert [n for n, _ in got] == [2, 3, 4, 5, 6]
    number, first = got[0]
    assert first == {
        "case_no": "HB2026110001",
        "phone": "138 0013 8000",
        "window": "社保窗口",
        "accepted_at": "2026-11-03 09:12",
        "completed_at": "2026-11-03 09:40:15",
        "promised_at": "2026-11-03",
        "item_name": "社保卡补办",
        "item_kind": "即办件",
        "applicant": "张某某",
        "staff": "李工",
    }


def test_utf8_csv_values_parse_through_the_value_layer() -> None:
    got = dict(_records(FILES / "utf8.csv"))
    phones = {n: normalise_phone(r["phone"]) for n, r in got.items()}
    assert [(p.e164, p.kind) for p in phones.values()] == [
        ("+8613800138000", "mobile"),
        ("+8613900139000", "mobile"),
        ("+8613700137000", "mobile"),  # "0771-… / 137…": the mobile wins
        ("+861012345678", "landline"),  # full-width digits
        (None, "missing"),
    ]
    assert parse_datetime(got[4]["completed_at"]) == datetime(2026, 11, 4, 16, 5)
    assert parse_datetime(got[5]["accepted_at"]) == datetime(2026, 11, 4)
    assert parse_datetime(got[5]["completed_at"]) == datetime(2026, 11, 4, 12, 0)  # Excel serial as text
    assert parse_datetime(got[6]["accepted_at"]) == datetime(2026, 11, 4)


def test_utf8_bom_csv_header_is_clean() -> None:
    header, rows = records(FILES / "utf8_bom.csv")
    assert header.headers[0] == "受理编号"
    assert header.columns["case_no"] == 0
    assert [r["phone"] for _, r in rows] == ["13800138000", "8613900139000"]


def test_gbk_csv_with_title_row() -> None:
    assert _rows(FILES / "gbk_title.csv")[0] == (1, ["XX县政务服务中心受理台账 2026年11月", "", "", "", ""])
    header, rows = records(FILES / "gbk_title.csv")
    assert header.headers == ("业务编号", "手机", "窗口名称", "收件时间", "申请人姓名")
    got = list(rows)
    assert [n for n, _ in got] == [4, 5]  # the rows Excel shows
    assert got[1][1]["applicant"] == "冯某"
    assert parse_datetime(got[0][1]["accepted_at"]) == datetime(2026, 11, 6, 9, 5)


def test_traditional_tab_separated_csv() -> None:
    header, rows = records(FILES / "traditional.csv")
    assert set(header.columns) == {
        "case_no", "phone", "window", "accepted_at", "completed_at", "promised_at",
        "item_name", "item_kind", "applicant", "staff",
    }
    got = dict(rows)
    assert normalise_phone(got[2]["phone"]).e164 == "+867712345678"
    assert parse_datetime(got[2]["accepted_at"]) == datetime(2026, 11, 7, 9, 12)
    assert parse_datetime(got[3]["accepted_at"]) == datetime(2026, 11, 7, 15, 0)
    assert got[3]["item_name"] == "醫保查詢"  # values are left as written


def test_missing_phone_column() -> None:
    with pytest.raises(MissingColumns) as caught:
        records(FILES / "missing_phone.csv")
    assert caught.value.missing == ("phone",)
    assert "联系电话" in str(caught.value) and "phone" in str(caught.value)


def test_semicolon_csv_and_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text('办件编号;联系电话;窗口;受理时间\nA1;"138 0013 8000";"综合;窗口";2026-11-03 09:12\n', "utf-8")
    assert _records(path) == [
        (2, {"case_no": "A1", "phone": "138 0013 8000", "window": "综合;窗口", "accepted_at": "2026-11-03 09:12"})
    ]


def test_multiline_cell_counts_as_one_row(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('办件编号,联系电话,窗口,受理时间\nA1,138,"综合\n窗口",t\nA2,139,w,t\n', "utf-8")
    assert [n for n, _ in _records(path)] == [2, 3]


def test_utf16_unicode_text_export(tmp_path: Path) -> None:
    """Excel's "Unicode 文本" export: UTF-16 with BOM, tab-separated."""
    path = tmp_path / "unicode.txt"
    path.write_text("办件编号\t联系电话\t窗口\t受理时间\nU1\t13800138000\t窗口\t2026/11/3\n", "utf-16")
    with open_rows(path) as source:
        assert isinstance(source, CsvRows) and source.delimiter == "\t"
    assert _records(path)[0][1]["case_no"] == "U1"


def test_blank_and_repeated_header_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    lines = ["办件编号,联系电话,窗口,受理时间", "A1,138,w,t", ",,,", "", "办件编号,联系电话,窗口,受理时间", "A2,139,w,t"]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    assert [(n, r["case_no"]) for n, r in _records(path)] == [(2, "A1"), (6, "A2")]


def test_short_rows_and_duplicate_columns(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    path.write_text(
        "办件编号,联系电话,手机,窗口,受理时间,备注\n"
        "A1,010-12345678,13800138000,w,t,x\n"
        "A2,,13900139000,w,t\n"
        "A3,13700137000,13700137000,w\n",
        "utf-8",
    )
    header, rows = records(path)
    assert header.unknown == {5: "备注"}
    got = dict(rows)
    assert got[2]["phone"] == "010-12345678 / 13800138000"
    assert normalise_phone(got[2]["phone"]).e164 == "+8613800138000"
    assert got[3]["phone"] == "13900139000"
    assert got[4] == {"case_no": "A3", "phone": "13700137000", "window": "w", "accepted_at": ""}


def test_footer_whitespace_and_short_rows(tmp_path: Path) -> None:
    path = tmp_path / "footer.csv"
    path.write_text(
        "办件编号,联系电话,窗口,受理时间,备注\n"
        "A1,138,w,t,\n"
        " , ,  , ,\n"
        "A2,139\n"
        ",,,,制表人：某某\n",
        "utf-8",
    )
    assert _records(path) == [
        (2, {"case_no": "A1", "phone": "138", "window": "w", "accepted_at": "t"}),
        (4, {"case_no": "A2", "phone": "139", "window": "", "accepted_at": ""}),
    ]


def test_excel_text_guard_is_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "guard.csv"
    path.write_text('办件编号,联系电话,窗口,受理时间\n"=""000123""",="13800138000",w,t\n', "utf-8")
    assert _records(path)[0][1]["case_no"] == "000123"
    assert _records(path)[0][1]["phone"] == "13800138000"


def test_sniff_delimiter_ignores_title_lines() -> None:
    sample = "某中心台账\n\n办件编号\t联系电话\t窗口\n1\t2\t3\n4\t5\t6\n"
    assert sniff_delimiter(sample) == "\t"
    assert sniff_delimiter("a;b;c\n1;2,5;3\n4;5;6\n") == ";"
    assert sniff_delimiter("just one column\n") == ","


def test_encoding_found_beyond_the_ascii_prefix(tmp_path: Path) -> None:
    """An English header and ASCII-only rows for more than the sample, GBK text far below: still GB18030."""
    path = tmp_path / "late.csv"
    ascii_rows = "".join(f"C{i:07d},13800138000,window,2026-11-03 09:12\n" for i in range(60_000))
    path.write_bytes(("case_no,phone,window,accepted_at\n" + ascii_rows + "C9,13800138000,社保窗口,2026-11-03\n")
                     .encode("gbk"))
    assert path.stat().st_size > 2 * 1024 * 1024
    assert detect_encoding(path, path.read_bytes()[:65536]) == "gb18030"
    assert _records(path)[-1][1]["window"] == "社保窗口"


def test_broken_bytes_further_down_raise_unreadable_with_row(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    good = "".join(f"B{i:06d},13800138000,社保窗口,2026-11-03 09:12\n" for i in range(5000))
    path.write_bytes("办件编号,联系电话,窗口,受理时间\n".encode() + good.encode() + b"B9,\xff\xfe\xfa,w,t\n")
    _, rows = records(path)
    with pytest.raises(UnreadableFile) as caught:
        list(rows)
    assert "无法读取" in str(caught.value) and "cannot read" in str(caught.value)


# ---------------------------------------------------------------------------------------------------- XLSX


@pytest.fixture
def ledger_xlsx(tmp_path: Path) -> Path:
    """A workbook like the platform exports: a merged title row, a blank row, the header, Excel datetimes,
    serial numbers in General-formatted cells, phones stored as numbers; a second sheet."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "受理台账"
    sheet["A1"] = "XX政务服务中心受理台账 2026年11月"
    sheet.merge_cells("A1:F1")
    sheet.append([])
    sheet.append(["办件编号", "联系电话", "窗口名称", "受理时间", "办结时间", "承诺办结时间"])
    sheet.append(["X001", 13800138000, "社保窗口", datetime(2026, 11, 3, 9, 12), 46329.375, "2026/11/10"])
    sheet.append([2026110300002, "010-12345678", "税务窗口", datetime(2026, 11, 3, 10, 0, 30), None, None])
    sheet["F5"].number_format = "General"
    sheet["A8"] = "X003"
    sheet["B8"] = "13900139000"
    sheet["C8"] = "公安窗口"
    sheet["D8"] = 46330.25
    sheet["D8"].number_format = "yyyy-mm-dd hh:mm"  # a real Excel date cell: openpyxl returns datetime
    other = workbook.create_sheet("说明")
    other.append(["本表由系统导出"])
    path = tmp_path / "ledger.xlsx"
    workbook.save(path)
    return path


def test_xlsx_rows_keep_excel_row_numbers(ledger_xlsx: Path) -> None:
    rows = _rows(ledger_xlsx)
    assert rows[0] == (1, ["XX政务服务中心受理台账 2026年11月"])
    assert rows[1] == (2, [])
    assert rows[3][0] == 4 and rows[3][1][3] == datetime(2026, 11, 3, 9, 12)
    assert rows[-1][0] == 8


def test_xlsx_records_and_values(ledger_xlsx: Path) -> None:
    header, rows = records(ledger_xlsx)
    assert header.columns["window"] == 2
    got = dict(rows)
    assert list(got) == [4, 5, 8]
    assert got[4]["phone"] == 13800138000
    assert normalise_phone(got[4]["phone"]).e164 == "+8613800138000"
    assert parse_datetime(got[4]["accepted_at"]) == datetime(2026, 11, 3, 9, 12)
    assert parse_datetime(got[4]["completed_at"]) == datetime(2026, 11, 3, 9, 0)  # serial in a General cell
    assert parse_datetime(got[8]["accepted_at"]) == datetime(2026, 11, 4, 6, 0)
    assert got[5]["case_no"] == 2026110300002
    assert got[5]["completed_at"] == ""


def test_xlsx_named_sheet_and_missing_sheet(ledger_xlsx: Path) -> None:
    assert _rows(ledger_xlsx, "说明") == [(1, ["本表由系统导出"])]
    with pytest.raises(SheetNotFound) as caught:
        open_rows(ledger_xlsx, "Sheet9")
    assert caught.value.sheet_names == ("受理台账", "说明")
    assert "受理台账、说明" in str(caught.value) and "Sheet9" in str(caught.value)
    with pytest.raises(MissingColumns):
        records(ledger_xlsx, "说明")


def test_xlsx_with_a_wrong_dimension_tag_is_read_to_the_end(ledger_xlsx: Path, tmp_path: Path) -> None:
    """Some exporters write <dimension ref="A1"/>; read-only openpyxl would then stop after row 1."""
    damaged = tmp_path / "dimension.xlsx"
    with zipfile.ZipFile(ledger_xlsx) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                start = data.index(b"<dimension")
                data = data[:start] + b'<dimension ref="A1"/>' + data[data.index(b"/>", start) + 2 :]
            dst.writestr(item, data)
    with open_rows(damaged) as source:
        assert isinstance(source, XlsxRows)
        assert [r.number for r in source][-1] == 8


# ---------------------------------------------------------------------------------------------------- broken files


def _assert_unreadable(path: Path, *words: str) -> None:
    with pytest.raises(UnreadableFile) as caught:
        open_rows(path)
    message = str(caught.value)
    assert " / " in message
    for word in words:
        assert word in message


def test_binary_junk_is_unreadable() -> None:
    _assert_unreadable(FILES / "junk.bin", "不是 CSV 或 Excel", "binary")


@pytest.mark.parametrize("content", [b"", b"   \r\n\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n"])
def test_empty_file_is_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    _assert_unreadable(path, "文件为空", "empty")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _assert_unreadable(tmp_path / "nope.csv", "文件不存在", "no such file")
    _assert_unreadable(tmp_path, "无法打开", "cannot open")


def test_legacy_xls_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    _assert_unreadable(path, ".xls", "xlsx")


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    _assert_unreadable(path, "不是有效的 Excel", "not a valid .xlsx")


def test_sheet_option_on_a_csv(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="CSV"):
        open_rows(FILES / "utf8.csv", sheet="Sheet1")


# ---------------------------------------------------------------------------------------------------- streaming


def test_records_stream_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("某中心台账\n办件编号,联系电话,窗口,受理时间,申请人\n")
        for i in range(40_000):
            f.write(f"HB{i:08d},138{i:08d},社保窗口,2026-11-03 09:12,申请人{i}\n")
    assert path.stat().st_size > 2.5 * 1024 * 1024
    tracemalloc.start()
    try:
        _, rows = records(path)
        count = sum(1 for _ in rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 40_000
    assert peak < 1024 * 1024  # reading it all in would take several times the file size
