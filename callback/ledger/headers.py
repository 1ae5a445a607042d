"""Ledger header recognition: which column holds which field.

Exports from the government service platform (and the spreadsheets clerks keep by hand) name the same column
in many ways, in Simplified or Traditional characters, sometimes in English, often with decorations
("*联系电话：", "受理时间(必填)"), and usually below a title row. This module maps such a header row onto the
canonical fields of a ledger case (README "The case ledger").

Public API:
    FIELDS, FIELD_NAMES, REQUIRED_FIELDS   the canonical fields
    normalise_header(text) -> str           the key used for matching
    map_headers(row) -> HeaderMap           one row of header cells → field → column index
    find_header_row(rows, max_scan=10)      locate the header row below titles / blank rows
    Vocabulary, LEDGER                      a set of fields and their synonyms; the ledger's is the default, other
                                            files (callback.evaluator) pass their own to the two functions above
    MissingColumns                          raised when a required column is absent
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


class LedgerFileError(Exception):
    """A ledger file that cannot be imported at all (the CLI exits with status 2 and imports nothing)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en

    def __reduce__(self) -> tuple[object, ...]:
        """Picklable whatever the subclass's __init__ takes: the parallel import raises these in worker processes."""
        return _restore_error, (type(self), self.zh, self.en, self.__dict__)


def _restore_error(cls: type[LedgerFileError], zh: str, en: str, state: dict[str, object]) -> LedgerFileError:
    error = cls.__new__(cls)
    LedgerFileError.__init__(error, zh, en)
    error.__dict__.update(state)
    return error


@dataclass(frozen=True)
class Field:
    """A canonical ledger field; `synonyms` are written in Simplified Chinese or English and normalised on use."""

    name: str
    label: str
    required: bool
    synonyms: tuple[str, ...]


FIELDS: tuple[Field, ...] = (
    Field("case_no", "办件编号", True, (
        "办件编号", "受理编号", "申请编号", "业务编号", "流水号", "办件号", "受理号", "办件流水号", "案卷编号",
        "case_no", "case number", "case id", "case", "serial no",
    )),
    Field("phone", "联系电话", True, (
        "联系电话", "手机号码", "手机", "电话", "联系方式", "手机号", "电话号码", "联系人电话", "联系手机",
        "申请人电话", "申请人联系电话", "申请人手机", "联络电话",
        "phone", "mobile", "phone number", "mobile number", "tel", "telephone", "contact phone",
    )),
    Field("window", "窗口", True, (
        "窗口", "窗口名称", "受理窗口", "办理窗口", "窗口号", "所属窗口",
        "window", "window name", "counter",
    )),
    Field("accepted_at", "受理时间", True, (
        "受理时间", "申请时间", "收件时间", "受理日期", "申请日期", "收件日期",
        "accepted_at", "accepted", "accepted time", "received_at", "received",
    )),
    Field("completed_at", "办结时间", False, (
        "办结时间", "办结日期", "完成时间", "办理完成时间",
        "completed_at", "completed", "completed time", "finished_at",
    )),
    Field("promised_at", "承诺办结时间", False, (
        "承诺办结时间", "承诺时限", "承诺期限", "承诺办结日期", "承诺日期", "承诺完成时间",
        "promised_at", "promised", "due", "due date", "deadline",
    )),
    Field("item_name", "事项名称", False, (
        "事项名称", "办件名称", "业务名称", "办理事项", "事项",
        "item_name", "item", "service", "service name",
    )),
    Field("item_kind", "办件类型", False, (
        "办件类型", "事项类型", "办件类别", "事项类别",
        "item_kind", "kind", "case type", "item type",
    )),
    Field("applicant", "申请人", False, (
        "申请人", "申请人姓名", "申请单位", "申请人名称", "申请人/单位",
        "applicant", "applicant name",
    )),
    Field("staff", "经办人", False, (
        "经办人", "受理人", "受理人员", "经办人员", "办理人", "工作人员",
        "staff", "handler", "clerk",
    )),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
REQUIRED_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)

# Traditional → Simplified for every character that occurs in ledger headers (and their usual neighbours).
# A full converter (OpenCC) would be a heavy dependency for ~60 characters.
_TRAD = "辦編號請務業聯繫係電話機碼稱時間結諾項類單經員絡別記錄區廳臺帳賬門應證據詳細備註狀態點內屬處關當實際發開補齊簡體戶櫃檯評價滿級"
_SIMP = "办编号请务业联系系电话机码称时间结诺项类单经员络别记录区厅台账账门应证据详细备注状态点内属处关当实际发开补齐简体户柜台评价满级"
TRAD_TO_SIMP: dict[int, str] = dict(zip(map(ord, _TRAD), _SIMP, strict=True))

_BRACKETED = re.compile(r"[(\[【〔][^)\]】〕]*[)\]】〕]")
_NOISE = re.compile(r"[\s:*_\-./\\\ufeff\u200b-\u200d\u2060]+")


def normalise_header(text: object) -> str:
    """The matching key of a header cell: NFKC, Traditional→Simplified, lower case, no brackets or decoration.

    "*聯繫電話：" → "联系电话"; "受理时间(必填)" → "受理时间"; "Case No." → "caseno".
    """
    s = unicodedata.normalize("NFKC", "" if text is None else str(text)).translate(TRAD_TO_SIMP).lower()
    unbracketed = _BRACKETED.sub("", s)
    return _NOISE.sub("", unbracketed) or _NOISE.sub("", s)


def _build_lookup(fields: Sequence[Field] = FIELDS) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for f in fields:
        for synonym in (f.name, *f.synonyms):
            key = normalise_header(synonym)
            if lookup.setdefault(key, f.name) != f.name:
                raise AssertionError(f"header synonym {synonym!r} maps to two fields")
    return lookup


_LOOKUP: dict[str, str] = _build_lookup()


class Vocabulary:
    """The canonical fields of one kind of file and the header texts that name them. The first required field
    is the one a repeated header row is recognised by (callback.ledger.reader.data_records)."""

    def __init__(self, fields: Sequence[Field]) -> None:
        self.fields = tuple(fields)
        self.required = tuple(f.name for f in self.fields if f.required)
        self.labels = {f.name: f.label for f in self.fields}
        self.lookup = _build_lookup(self.fields)

    def field_for_header(self, text: object) -> str | None:
        """The canonical field a header cell (or an API key) names, or None."""
        return self.lookup.get(normalise_header(text))


LEDGER = Vocabulary(FIELDS)


def field_for_header(text: object) -> str | None:
    """The canonical field a header cell names, or None."""
    return _LOOKUP.get(normalise_header(text))


@dataclass(frozen=True)
class HeaderMap:
    """Where each field lives in a row (0-based column indexes).

    `columns` holds the first column for each recognised field; `duplicates` the further columns that name the
    same field (e.g. both 联系电话 and 手机); `unknown` the non-blank headers that were not recognised,
    by column index, as written in the file.
    """

    columns: Mapping[str, int]
    duplicates: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    unknown: Mapping[int, str] = field(default_factory=dict)
    headers: tuple[str, ...] = ()
    vocabulary: Vocabulary = field(default=LEDGER, repr=False, compare=False)

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def indexes(self, name: str) -> tuple[int, ...]:
        """Every column mapped to `name`, in file order (empty if absent)."""
        if name not in self.columns:
            return ()
        return (self.columns[name], *self.duplicates.get(name, ()))

    def missing_required(self) -> tuple[str, ...]:
        return tuple(name for name in self.vocabulary.required if name not in self.columns)


def map_headers(row: Sequence[object], vocabulary: Vocabulary = LEDGER) -> HeaderMap:
    """Map one row of header cells onto the canonical fields. Never raises; see `HeaderMap.missing_required`."""
    columns: dict[str, int] = {}
    duplicates: dict[str, list[int]] = {}
    unknown: dict[int, str] = {}
    for index, cell in enumerate(row):
        text = "" if cell is None else str(cell).strip()
        name = vocabulary.lookup.get(normalise_header(text))
        if name is None:
            if text:
                unknown[index] = text
        elif name in columns:
            duplicates.setdefault(name, []).append(index)
        else:
            columns[name] = index
    dups = {name: tuple(idx) for name, idx in duplicates.items()}
    headers = tuple("" if c is None else str(c).strip() for c in row)
    return HeaderMap(columns=columns, duplicates=dups, unknown=unknown, headers=headers, vocabulary=vocabulary)


class MissingColumns(LedgerFileError):
    """Required columns are absent. `missing` holds field names; `header_row` the 0-based index scanned as the
    header (None when no row looked like a header at all)."""

    def __init__(self, missing: Sequence[str], header: HeaderMap | None = None, header_row: int | None = None,
                 vocabulary: Vocabulary = LEDGER):
        self.missing = tuple(missing)
        self.header = header
        self.header_row = header_row
        zh = "缺少必需的列：" + "、".join(f"{vocabulary.labels[m]}（{m}）" for m in self.missing)
        en = "missing required columns: " + ", ".join(self.missing)
        if header is None:
            zh, en = f"未找到表头行，{zh}", f"no header row found, {en}"
        super().__init__(zh, en)


def find_header_row(rows: Iterable[Sequence[object]], max_scan: int = 10,
                    vocabulary: Vocabulary = LEDGER) -> tuple[int, HeaderMap]:
    """Return (0-based index, HeaderMap) of the first of the first `max_scan` rows that names every required field.

    Consumes `rows` only up to and including the header row, so an iterator can go on to yield the data rows.
    Raises MissingColumns, citing the row that came closest (most fields recognised), if no row qualifies.
    """
    best: tuple[int, HeaderMap] | None = None
    for index, row in enumerate(itertools.islice(rows, max_scan)):
        header = map_headers(row, vocabulary)
        if not header.missing_required():
            return index, header
        if header.columns and (best is None or len(header.columns) > len(best[1].columns)):
            best = (index, header)
    if best is None:
        raise MissingColumns(vocabulary.required, vocabulary=vocabulary)
    raise MissingColumns(best[1].missing_required(), best[1], best[0], vocabulary)
