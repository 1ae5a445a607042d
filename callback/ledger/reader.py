"""Read ledger files row by row, streaming: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16 "Unicode text")
and XLSX. Nothing here loads a whole file into memory.

Public API:
    open_rows(path, sheet=None) -> RowSource      rows with their row numbers as Excel shows them (1-based)
    records(path, sheet=None, max_scan=10)         -> (HeaderMap, iterator of (row number, {field: value}))
    UnreadableFile, SheetNotFound                  raised for files that cannot be imported at all
"""

from __future__ import annotations

import codecs
import csv
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, time
from os import PathLike
from pathlib import Path
from typing import IO, Any, NamedTuple

from callback.ledger.headers import (
    LEDGER,
    HeaderMap,
    LedgerFileError,
    Vocabulary,
    find_header_row,
    normalise_header,
)
from callback.ledger.values import cell_text

Cell = str | int | float | bool | datetime | date | time
"""A cell value: always str from CSV; from XLSX whatever openpyxl gives, with empty cells as ""."""

_SAMPLE_BYTES = 64 * 1024
_CHUNK_BYTES = 1024 * 1024
_DELIMITERS = (",", "\t", ";", "|")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted .xlsx
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\r\f\x1a")


class UnreadableFile(LedgerFileError):
    """The file is not a ledger we can read: missing, empty, binary, a legacy .xls, a broken workbook…"""


class SheetNotFound(UnreadableFile):
    def __init__(self, sheet: str, sheet_names: Sequence[str]) -> None:
        self.sheet_names = tuple(sheet_names)
        listed = "、".join(self.sheet_names) or "（无）"
        super().__init__(
            f"工作簿中没有名为“{sheet}”的工作表，现有工作表：{listed}",
            f"no sheet named {sheet!r}; sheets: {', '.join(self.sheet_names) or '(none)'}",
        )


class NumberedRow(NamedTuple):
    number: int  # 1-based, as Excel shows it
    values: list[Cell]


class RowSource:
    """A single-pass, lazily read sequence of NumberedRow. Close it (or use `with`) to release the file.

    `text_only` is true when every cell is a str (CSV), which lets `records` take a faster path.
    """

    kind: str = ""
    text_only: bool = False

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[NumberedRow]:
        return map(NumberedRow._make, self.pairs())

    def pairs(self) -> Iterator[tuple[int, list[Cell]]]:
        """The same rows as plain (number, values) tuples: cheaper when a million rows go by."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file; safe to call twice."""

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


HEADER_SCAN_ROWS = 10  # a header row further down than this is not looked for


class HeaderRowNotFound(Exception):
    """None of the first `HEADER_SCAN_ROWS` rows names the columns the caller needs (its own message says which)."""


def named_records(path: str | PathLike[str], lookup: dict[str, str],
                  complete: Callable[[dict[str, int]], bool]) -> Iterator[tuple[int, dict[str, Cell]]]:
    """(row number, {column name: cell}) of every non-blank row below the header row of a CSV or XLSX file.

    The header row is the first of the first `HEADER_SCAN_ROWS` rows whose cells, matched by `normalise_header`
    in ``lookup`` (normalised header → column name; the first of two same-named columns wins), give columns
    for which ``complete`` holds. For the small files people fill in by hand (on-site forms, assessment
    entries); the ledger and the evaluator use `find_header_row` with their vocabularies. Raises `UnreadableFile`
    or `HeaderRowNotFound` while iterating."""
    with open_rows(path) as rows:
        pairs = iter(rows.pairs())
        columns = _named_header(pairs, lookup, complete)
        for number, values in pairs:
            record = {name: values[i] for name, i in columns.items() if i < len(values)}
            if any(cell_text(v) for v in record.values()):
                yield number, record


def _named_header(pairs: Iterator[tuple[int, list[Cell]]], lookup: dict[str, str],
                  complete: Callable[[dict[str, int]], bool]) -> dict[str, int]:
    for _, (_number, values) in zip(range(HEADER_SCAN_ROWS), pairs, strict=False):
        columns: dict[str, int] = {}
        for index, cell in enumerate(values):
            name = lookup.get(normalise_header(cell_text(cell)))
            if name is not None:
                columns.setdefault(name, index)
        if complete(columns):
            return columns
    raise HeaderRowNotFound


def open_rows(path: str | PathLike[str], sheet: str | None = None) -> RowSource:
    """Open a CSV or XLSX ledger, recognised by content (not by extension).

    `sheet` names an XLSX worksheet (default: the first). Raises UnreadableFile (SheetNotFound for a bad
    `sheet`) at once for files that cannot be read; iterating can still raise UnreadableFile if the damage
    lies further into the file.
    """
    path = Path(path)
    head = _read_head(path)
    if head.startswith(_ZIP_MAGIC):
        return XlsxRows(path, sheet)
    if head.startswith(_OLE2_MAGIC):
        raise UnreadableFile(
            "不支持旧版 Excel（.xls）或加密的工作簿，请另存为 .xlsx 或 CSV 后再导入",
            "legacy .xls or encrypted workbooks are not supported; save as .xlsx or CSV",
        )
    if sheet is not None:
        raise UnreadableFile("CSV 文件没有工作表，不能指定工作表", "a CSV file has no sheets; drop the sheet option")
    return CsvRows(path, head)


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            head = f.read(_SAMPLE_BYTES)
    except FileNotFoundError:
        raise UnreadableFile(f"文件不存在：{path}", f"no such file: {path}") from None
    except OSError as err:
        raise UnreadableFile(f"无法打开文件：{path}（{err.strerror}）", f"cannot open {path}: {err.strerror}") from err
    if not head.lstrip(codecs.BOM_UTF8).strip():
        raise UnreadableFile(f"文件为空：{path}", f"the file is empty: {path}")
    return head


# ---------------------------------------------------------------------------------------------------- CSV


class CsvRows(RowSource):
    """CSV rows. `encoding` and `delimiter` tell what was detected."""

    kind = "csv"
    text_only = True

    def __init__(self, path: Path, head: bytes) -> None:
        super().__init__(path)
        self.encoding = detect_encoding(path, head)
        sample = codecs.getincrementaldecoder(self.encoding)(errors="replace").decode(head)
        self.delimiter = sniff_delimiter(sample, at_eof=len(head) < _SAMPLE_BYTES)
        self._file: IO[str] = path.open(encoding=self.encoding, newline="", errors="strict")

    def pairs(self) -> Iterator[tuple[int, list[Cell]]]:
        reader = csv.reader(self._file, delimiter=self.delimiter)
        try:
            yield from zip(itertools.count(1), reader)  # type: ignore[misc]
        except (UnicodeDecodeError, csv.Error) as err:
            # physical line (a quoted cell may span several): a csv error is in the line the reader counted last,
            # bad bytes in the line it was about to read
            line = reader.line_num + (1 if isinstance(err, UnicodeDecodeError) else 0)
            raise UnreadableFile(
                f"第 {line} 行附近无法读取（编码 {self.encoding}）：{err}",
                f"cannot read near line {line} (encoding {self.encoding}): {err}",
            ) from err

    def close(self) -> None:
        self._file.close()


def detect_encoding(path: Path, head: bytes) -> str:
    """"utf-8-sig", "gb18030" (a superset of GBK and GB2312, what Chinese Excel saves) or "utf-16".

    A BOM decides at once. Otherwise the first stretch of the file that holds non-ASCII bytes is decoded
    strictly as UTF-8, then as GB18030; ASCII-only files are UTF-8. Raises UnreadableFile for binary data.
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\x00" in head or len(head) - len(head.translate(None, _CONTROL_BYTES)) > len(head) // 100:
        raise UnreadableFile("不是 CSV 或 Excel 文件（含二进制数据）", "not a CSV or XLSX file (binary data)")
    chunk, at_eof = _first_non_ascii_chunk(path, head)
    if chunk is None:
        return "utf-8-sig"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)(errors="strict").decode(chunk, final=at_eof)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UnreadableFile(
        "无法识别文件编码（既不是 UTF-8 也不是 GBK/GB18030）", "unknown text encoding (neither UTF-8 nor GBK/GB18030)"
    )


def _first_non_ascii_chunk(path: Path, head: bytes) -> tuple[bytes | None, bool]:
    """The first chunk holding a non-ASCII byte (chunks before it are ASCII, so it starts on a character)."""
    if not head.isascii():
        return head, len(head) < _SAMPLE_BYTES
    with path.open("rb") as f:
        f.seek(len(head))
        while chunk := f.read(_CHUNK_BYTES):
            if not chunk.isascii():
                return chunk, len(chunk) < _CHUNK_BYTES
    return None, True


def sniff_delimiter(sample: str, at_eof: bool = True) -> str:
    """The delimiter (comma, tab, semicolon or bar) that splits most sample lines into the same number (>1) of
    fields. Title rows above the header do not disturb it; ties go to the comma."""
    lines = sample.splitlines()[:50]
    if not at_eof and len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        score = _consistency(lines, delimiter)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _consistency(lines: list[str], delimiter: str) -> tuple[int, int]:
    """(how many lines share the most common field count, that count), ignoring single-field lines."""
    try:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
    except csv.Error:
        return 0, 0
    multi = [c for c in counts if c > 1]
    if not multi:
        return 0, 0
    modal = max(set(multi), key=lambda c: (multi.count(c), c))
    return multi.count(modal), modal


# ---------------------------------------------------------------------------------------------------- XLSX


class XlsxRows(RowSource):
    """Rows of one worksheet, read with openpyxl in read-only mode (cached values of formulas)."""

    kind = "xlsx"

    def __init__(self, path: Path, sheet: str | None) -> None:
        super().__init__(path)
        import openpyxl  # deferred: a CSV import does not need it

        try:
            self._workbook: Any = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises a zoo of exceptions for damaged files
            raise UnreadableFile("不是有效的 Excel（.xlsx）文件", f"not a valid .xlsx workbook ({err})") from err
        self.sheet_names: tuple[str, ...] = tuple(self._workbook.sheetnames)
        self.sheet_name = self._pick_sheet(sheet)

    def _pick_sheet(self, sheet: str | None) -> str:
        worksheets = [ws.title for ws in self._workbook.worksheets]
        if sheet is None and worksheets:
            return worksheets[0]
        wanted = (sheet or "").strip()
        for name in worksheets:
            if name == wanted or name.strip().casefold() == wanted.casefold():
                return name
        self.close()
        raise SheetNotFound(sheet or "", self.sheet_names)

    def pairs(self) -> Iterator[tuple[int, list[Cell]]]:
        worksheet = self._workbook[self.sheet_name]
        worksheet.reset_dimensions()  # some exporters write a wrong <dimension>, which would truncate reading
        number = 0
        try:
            for number, row in enumerate(worksheet.iter_rows(values_only=True), 1):  # noqa: B007
                yield number, _trimmed(row)
        except Exception as err:  # damaged XML inside the archive
            raise UnreadableFile(
                f"工作表“{self.sheet_name}”第 {number + 1} 行附近无法读取", f"cannot read sheet row {number + 1}: {err}"
            ) from err

    def close(self) -> None:
        self._workbook.close()


def _trimmed(row: Sequence[Any]) -> list[Cell]:
    """None → "", trailing empty cells dropped (styled but empty cells can make a row 16,384 wide)."""
    values = ["" if v is None else v for v in row]
    while values and values[-1] == "":
        values.pop()
    return values


# ---------------------------------------------------------------------------------------------------- records


def records(
    path: str | PathLike[str], sheet: str | None = None, max_scan: int = 10, vocabulary: Vocabulary = LEDGER
) -> tuple[HeaderMap, Iterator[tuple[int, dict[str, Cell]]]]:
    """Open a ledger (or, with another `vocabulary`, any file read the same way), find its header row and return
    (header, records).

    Each record is (row number as Excel shows it, {field: value}) holding only the fields the file has a column
    for (a missing column is not the same as a blank cell: the importer must not blank what the file does not
    carry). Text values are trimmed; XLSX dates, times and numbers stay as openpyxl gives them. Blank rows, rows
    with text only in unmapped columns, and repeated header rows are skipped. When several columns name one field, the first non-blank wins, except
    phone, where the non-blank values are joined with " / " so that normalise_phone can prefer a mobile.

    Raises UnreadableFile or MissingColumns before returning; the file stays open until the iterator is
    exhausted or closed (`records_iter.close()`).
    """
    source = open_rows(path, sheet)
    try:
        rows = source.pairs()
        scanned = list(itertools.islice(rows, max_scan))
        index, header = find_header_row((values for _, values in scanned), max_scan, vocabulary)
    except BaseException:
        source.close()
        raise
    pick = picker(header, source.text_only)
    return header, _records(source, header, pick, itertools.chain(scanned[index + 1 :], rows))


Picker = Callable[[list[Cell]], dict[str, Cell]]


def _records(
    source: RowSource, header: HeaderMap, pick: Picker, rows: Iterator[tuple[int, list[Cell]]]
) -> Iterator[tuple[int, dict[str, Cell]]]:
    try:
        yield from data_records(header, pick, rows)
    finally:
        source.close()


def data_records(
    header: HeaderMap, pick: Picker, rows: Iterable[tuple[int, list[Cell]]]
) -> Iterator[tuple[int, dict[str, Cell]]]:
    """Numbered raw rows below the header → numbered records, skipping blank rows, rows with text only in
    unmapped columns (e.g. "制表人：…" below the data) and repeated header rows."""
    key = header.vocabulary.required[0]  # the ledger's case_no
    key_header = header.headers[header.columns[key]]
    for number, values in rows:
        if not any(values):  # blank row ("" cells; XLSX empties are "" too)
            continue
        record = pick(values)
        if not any(record.values()):
            continue
        if record[key] == key_header and _repeats_header(values, header):
            continue
        yield number, record


def picker(header: HeaderMap, text_only: bool) -> Picker:
    """The fastest picker for rows of `header`: text_only when every cell is a str (CSV)."""
    return _text_picker(header) if text_only else _picker(header)


def _picker(header: HeaderMap) -> Picker:
    """General case: any cell types, short rows, several columns for one field."""
    single = [(name, header.columns[name]) for name in header.columns if name not in header.duplicates]
    multi = [(name, header.indexes(name)) for name in header.duplicates]

    def pick(values: list[Cell]) -> dict[str, Cell]:
        width = len(values)
        record = {name: _clean(values[i]) if i < width else "" for name, i in single}
        for name, indexes in multi:
            record[name] = _merge(name, [_clean(values[i]) for i in indexes if i < width])
        return record

    return pick


def _text_picker(header: HeaderMap) -> Picker:
    """CSV rows (all str) of full width: C-level itemgetter/strip, ~4x the general picker on a million rows."""
    names = list(header.columns)
    get = operator.itemgetter(*(header.columns[name] for name in names), 0)  # the extra 0: always a tuple
    general = _picker(header)
    if header.duplicates:
        return general

    def pick(values: list[Cell]) -> dict[str, Cell]:
        try:
            cells = get(values)
        except IndexError:
            return general(values)
        if '="' in "\x00".join(cells):  # Excel's text guard, rare
            return general(values)
        return dict(zip(names, map(str.strip, cells), strict=False))  # stops before the extra cell

    return pick


def _clean(value: Cell) -> Cell:
    return cell_text(value) if isinstance(value, str) else value


def _merge(name: str, values: list[Cell]) -> Cell:
    present = [v for v in values if v != ""]
    if name == "phone" and len(present) > 1:
        return " / ".join(dict.fromkeys(cell_text(v) for v in present))
    return present[0] if present else ""


def _repeats_header(values: list[Cell], header: HeaderMap) -> bool:
    cells = [cell_text(v) for v in values[: len(header.headers)]]
    return cells + [""] * (len(header.headers) - len(cells)) == list(header.headers)


__all__ = [
    "Cell",
    "CsvRows",
    "NumberedRow",
    "RowSource",
    "SheetNotFound",
    "UnreadableFile",
    "XlsxRows",
    "data_records",
    "detect_encoding",
    "open_rows",
    "picker",
    "records",
    "sniff_delimiter",
]
