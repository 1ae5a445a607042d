"""Ledger import into the database: streaming, chunked, idempotent (upsert by hall + case number).

A bad row is rejected with its row number and reason and the good rows still land; a file that cannot be read or
lacks a required column raises before anything is written. The whole import is one transaction owned by the
caller, so a failure half-way through a file leaves the ledger as it was.

One path on both backends. Records are validated in this process a chunk at a time (CHUNK_ROWS); a case number
repeated within a chunk keeps its last row. The chunk's rows go into a temporary staging table (PostgreSQL's
COPY, or an executemany INSERT: `_stage_rows`), and a few set-based statements merge them: the hall's new
windows, staff and contacts, then one INSERT … ON CONFLICT (hall_id, case_no) DO UPDATE that adds the new cases
and rewrites the changed ones (a row whose hash is unchanged is left alone). The foreign keys check every row.
While the database merges a chunk, a thread reads and validates the next one (`read_ahead`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Column, MetaData, String, Table, bindparam, insert, text
from sqlalchemy.orm import Session

from callback.ledger.reader import records
from callback.ledger.records import CaseRow, Rejected, build_case_row
from callback.models import Hall, ImportBatch, utcnow
from callback.models.base import UTCDateTime

CHUNK_ROWS = 10_000  # records validated and merged at a time: a few MB of rows, a few statements each
MAX_REJECTIONS_KEPT = 10_000  # a broken export can reject every row; keep the report bounded
_IMPORT_LOCK = 0x1ED6E  # pg_advisory_xact_lock(_IMPORT_LOCK, hall id): one import per hall at a time
T = TypeVar("T")


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_total: int = 0

    def reject(self, row: int, reason: str) -> None:
        self.rejected_total += 1
        if len(self.rejected) < MAX_REJECTIONS_KEPT:
            self.rejected.append({"row": row, "reason": reason})

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected}


def import_file(session: Session, hall: Hall, path: Path, *, sheet: str | None = None,
                progress: Callable[[int], None] | None = None, now: datetime | None = None) -> ImportSummary:
    """Import a CSV/XLSX ledger file. Raises UnreadableFile / MissingColumns before writing anything.

    `now` is when the ledger is recorded as known (default: the clock); the draw only sees cases known by then.
    """
    _, rows = records(path, sheet)
    return import_records(session, hall, rows, source=path.name, progress=progress, now=now)


def import_records(session: Session, hall: Hall, rows: Iterable[tuple[int, dict[str, Any]]], *, source: str,
                   progress: Callable[[int], None] | None = None, now: datetime | None = None) -> ImportSummary:
    """Import numbered records ({field: raw value}); the caller commits."""
    injected, now = now is not None, now or utcnow()
    batch = ImportBatch(hall_id=hall.id, source=source[:300], started_at=now)
    session.add(batch)
    session.flush()
    merge = _Merge(session, hall.id, batch.id, now)
    summary = ImportSummary()
    for chunk in read_ahead(_prepared(numbered, merge.postgresql) for numbered in _chunks(rows, CHUNK_ROWS)):
        summary.rows += chunk.count
        summary.unchanged += chunk.superseded
        for number, reason in chunk.rejected:
            summary.reject(number, reason)
        for present, staged in chunk.groups:
            merge.write(present, staged, summary)
        if progress:
            progress(chunk.count)
    merge.close()
    _finish(batch, summary, now if injected else utcnow())
    return summary


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


Staged = str | list[dict[str, Any]]  # rows as the stage takes them: COPY text, or one dict a row (_stage_rows)


class _Chunk(NamedTuple):
    """A chunk of records, validated and ready for the stage."""

    count: int  # records seen
    superseded: int  # valid rows left out for a later row of the chunk with the same case number
    rejected: list[tuple[int, str]]  # (row number, reason)
    groups: list[tuple[frozenset[str], Staged]]  # the valid rows, by the ledger fields they carry


def _prepared(numbered: list[tuple[int, dict[str, Any]]], copy: bool) -> _Chunk:
    """Validate a chunk of numbered records, keep the last row of each case number, and render the rows for the
    stage (grouped by the fields they carry: a file's rows all carry its header's)."""
    rows: dict[str, CaseRow] = {}
    rejected: list[tuple[int, str]] = []
    superseded = 0
    for number, record in numbered:
        try:
            row = build_case_row(record)
        except Rejected as exc:
            rejected.append((number, str(exc)))
            continue
        superseded += row.case_no in rows
        rows[row.case_no] = row
    groups: dict[frozenset[str], list[CaseRow]] = {}
    for row in rows.values():
        groups.setdefault(row.present, []).append(row)
    staged = [(present, _stage_rows(group, copy)) for present, group in groups.items()]
    return _Chunk(len(numbered), superseded, rejected, staged)


_END = object()


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of `items` in order, each next one made in a thread while the caller works with the one before.

    The import reads and validates the next chunk here while the database server merges the last one, on the
    other core: of a million-row import's CPU time about a third is this process's and two thirds the server's,
    so reading ahead keeps the whole near the server's share (the capacity target, 60 s, is not met without it
    on a 2-core machine). Whatever `items` raises is raised here, at the item it failed on; when the caller
    stops early, the thread finishes the item in hand and `items` is closed.
    """
    pool = ThreadPoolExecutor(1, thread_name_prefix="ledger-read-ahead")
    try:
        pending = pool.submit(next, items, _END)
        while (item := pending.result()) is not _END:
            pending = pool.submit(next, items, _END)
            yield item
    finally:
        pool.shutdown()
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _finish(batch: ImportBatch, summary: ImportSummary, finished_at: datetime) -> None:
    batch.rows, batch.imported, batch.updated = summary.rows, summary.imported, summary.updated
    batch.unchanged, batch.rejected = summary.unchanged, summary.rejected[:1000]
    batch.finished_at = finished_at


# The staging table: one validated row each, names and phone as the ledger gave them (resolved to ids by the
# merge). Temporary: only this connection sees it, and it is dropped when the import ends.
_STAGE = Table(
    "ledger_stage", MetaData(),
    *(Column(name, String) for name in ("case_no", "window_name", "staff_name", "phone", "phone_kind", "phone_raw")),
    *(Column(name, UTCDateTime()) for name in ("accepted_at", "promised_at", "completed_at")),
    *(Column(name, String) for name in ("item_name", "item_kind", "applicant", "row_hash")),
    prefixes=["TEMPORARY"],
)
_STAGED = tuple(column.name for column in _STAGE.columns)


def _staged(row: CaseRow) -> tuple[Any, ...]:
    """A row as the stage's columns, in order."""
    return (row.case_no, row.window, row.staff, row.phone.e164, row.phone.kind, row.phone.raw[:200] or None,
            row.accepted_at, row.promised_at, row.completed_at, row.item_name, row.item_kind, row.applicant,
            row.row_hash)


def _stage_rows(rows: list[CaseRow], copy: bool) -> Staged:
    """The rows as `_load_stage` takes them. PostgreSQL loads the stage with COPY (`copy`): with an INSERT a row
    a 100,000-row import cost this process two thirds more CPU and took 9–12 s instead of 6–8 s (2 cores, load
    ~3). The rows are rendered in COPY's text format here, where the import validates them (in the read-ahead
    thread), so that the thread writing to the database only sends one string a chunk. Elsewhere an executemany
    INSERT of one dict a row. tests/callback/ledger/test_import_ledger.py loads the same rows both ways on
    PostgreSQL and compares the stage and the imported cases."""
    if copy:
        return "".join(["\t".join([_copy_value(value) for value in _staged(row)]) + "\n" for row in rows])
    return [dict(zip(_STAGED, _staged(row), strict=True)) for row in rows]


def _copy_value(value: Any) -> str:
    """A value as a field of PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return value.translate(_COPY_ESCAPES)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _load_stage(session: Session, staged: Staged) -> None:
    """Put rows rendered by `_stage_rows` into the (empty) stage."""
    if isinstance(staged, list):
        session.execute(insert(_STAGE), staged)
        return
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY ledger_stage ({', '.join(_STAGED)}) FROM STDIN") as copying:
        copying.write(staged)


# Case column ← (staged expression, ledger field the file must carry for a re-import to overwrite the column).
# A new case takes every column; the stage holds NULL for a field the source did not carry.
_CASE_COLUMNS = {
    "window_id": ("w.id", "window"),
    "staff_id": ("st.id", "staff"),
    # a scalar subquery rather than a join: one probe of the contacts' unique key per row, whatever the planner
    # makes of the stage (never analysed); a hash join would read every contact of the hall for each chunk
    "contact_id": ("(SELECT c.id FROM contacts c WHERE c.hall_id = :hall AND c.phone = s.phone)", "phone"),
    "phone_raw": ("s.phone_raw", "phone"), "phone_kind": ("s.phone_kind", "phone"),
    "accepted_at": ("s.accepted_at", "accepted_at"), "promised_at": ("s.promised_at", "promised_at"),
    "completed_at": ("s.completed_at", "completed_at"), "item_name": ("s.item_name", "item_name"),
    "item_kind": ("s.item_kind", "item_kind"), "applicant": ("s.applicant", "applicant"),
}

# INSERT … SELECT … ON CONFLICT: SQLite needs the SELECT to have a WHERE clause, else it reads ON as a join's
_NEW_NAMES = ("INSERT INTO {table} (hall_id, name, created_at) SELECT DISTINCT :hall, {column}, :now "
              "FROM ledger_stage WHERE {column} IS NOT NULL ON CONFLICT (hall_id, name) DO NOTHING")
_NEW_CONTACTS = ("INSERT INTO contacts (hall_id, phone, kind, created_at) "
                 "SELECT DISTINCT :hall, phone, phone_kind, :now FROM ledger_stage WHERE phone IS NOT NULL "
                 "ORDER BY phone ON CONFLICT (hall_id, phone) DO NOTHING")
# What the hall holds of each staged case number: NULL (new), 1 (changed) or 2 (unchanged); one probe a row
_FOUND = ("SELECT found, count(*) FROM (SELECT (SELECT CASE WHEN c.row_hash = s.row_hash THEN 2 ELSE 1 END "
          "FROM cases c WHERE c.hall_id = :hall AND c.case_no = s.case_no) AS found FROM ledger_stage s) AS staged "
          "GROUP BY found")
_UPSERT = """
    INSERT INTO cases (hall_id, case_no, {columns}, row_hash, import_batch_id, created_at, updated_at)
    SELECT :hall, s.case_no, {values}, s.row_hash, :batch, :now, :now
    FROM ledger_stage s
    JOIN windows w ON w.hall_id = :hall AND w.name = s.window_name
    LEFT JOIN staff st ON st.hall_id = :hall AND st.name = s.staff_name
    WHERE true
    ON CONFLICT (hall_id, case_no) DO UPDATE SET {updates}
    WHERE cases.row_hash <> excluded.row_hash"""


class _Merge:
    """Stages each chunk's rows and merges them into the hall's ledger."""

    def __init__(self, session: Session, hall_id: int, batch_id: int, now: datetime) -> None:
        self.session = session
        self.params = {"hall": hall_id, "batch": batch_id, "now": now}
        self.postgresql = session.get_bind().dialect.name == "postgresql"
        if self.postgresql:  # imports of one hall take turns, so that each counts what it found
            session.execute(text("SELECT pg_advisory_xact_lock(:lock, :hall)"), {"lock": _IMPORT_LOCK,
                                                                                "hall": hall_id})
        _STAGE.create(session.connection())

    def write(self, present: frozenset[str], staged: Staged, summary: ImportSummary) -> None:
        """Merge rows (distinct case numbers) that carry the `present` fields."""
        _load_stage(self.session, staged)
        self._merge(present, summary)
        self.session.execute(text("TRUNCATE ledger_stage" if self.postgresql else "DELETE FROM ledger_stage"))

    def close(self) -> None:
        _STAGE.drop(self.session.connection())

    def _merge(self, present: frozenset[str], summary: ImportSummary) -> None:
        self._run(_NEW_NAMES.format(table="windows", column="window_name"))
        self._run(_NEW_NAMES.format(table="staff", column="staff_name"))
        self._run(_NEW_CONTACTS)
        found = dict(self._run(_FOUND).all())
        updates = [f"{column} = excluded.{column}" for column, (_, source) in _CASE_COLUMNS.items()
                   if source in present]
        updates += [f"{column} = excluded.{column}" for column in ("row_hash", "import_batch_id", "updated_at")]
        self._run(_UPSERT.format(columns=", ".join(_CASE_COLUMNS), updates=", ".join(updates),
                                 values=", ".join(value for value, _ in _CASE_COLUMNS.values())))
        summary.imported += found.get(None, 0)
        summary.updated += found.get(1, 0)
        summary.unchanged += found.get(2, 0)

    def _run(self, sql: str) -> Any:
        statement = text(sql)
        if ":now" in sql:  # through the column type: stored as the models store times (naive UTC on SQLite)
            statement = statement.bindparams(bindparam("now", type_=UTCDateTime()))
        return self.session.execute(statement, {k: v for k, v in self.params.items() if f":{k}" in sql})
