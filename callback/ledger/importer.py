"""Ledger import into the database: streaming, chunked, idempotent (upsert by hall + case number).

A bad row is rejected with its row number and reason and the good rows still land; a file that cannot be read or
lacks a required column raises before anything is written. The whole import is one transaction owned by the
caller, so a failure half-way through a file leaves the ledger as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callback.ledger.parallel import CopyPart, ValidatedChunk, validate_records, validated_chunks
from callback.ledger.records import CaseRow
from callback.models import Case, Contact, Hall, ImportBatch, Staff, Window, utcnow

CHUNK_ROWS = 5000
COPY_BATCH_ROWS = 20_000  # rows per COPY + merge on PostgreSQL: fewer statements, each over more rows
PREFILTER_RETRY = 8  # batches between tries of the unchanged-row prefilter while it finds nothing
MAX_REJECTIONS_KEPT = 10_000  # a broken export can reject every row; keep the report bounded


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
                progress: Callable[[int], None] | None = None, workers: int | None = None,
                now: datetime | None = None) -> ImportSummary:
    """Import a CSV/XLSX ledger file. Raises UnreadableFile / MissingColumns before writing anything.

    `now` is when the ledger is recorded as known (default: the clock); the draw only sees cases known by then.
    """
    chunks = validated_chunks(path, sheet, workers, for_copy=_uses_copy(session))
    return _import_chunks(session, hall, chunks, source=path.name, progress=progress, now=now)


def import_records(session: Session, hall: Hall, rows: Iterable[tuple[int, dict[str, Any]]], *, source: str,
                   progress: Callable[[int], None] | None = None, now: datetime | None = None) -> ImportSummary:
    """Import numbered records ({field: raw value}); the caller commits."""
    for_copy = _uses_copy(session)
    chunks = (validate_records(chunk, for_copy=for_copy) for chunk in _chunks(rows, CHUNK_ROWS))
    return _import_chunks(session, hall, chunks, source=source, progress=progress, now=now)


def _uses_copy(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _import_chunks(session: Session, hall: Hall, chunks: Iterable[ValidatedChunk], *, source: str,
                   progress: Callable[[int], None] | None, now: datetime | None) -> ImportSummary:
    injected, now = now is not None, now or utcnow()
    batch = ImportBatch(hall_id=hall.id, source=source[:300], started_at=now)
    session.add(batch)
    session.flush()
    writer = _writer_for(session, hall.id, batch.id, now)
    summary = ImportSummary()
    for chunk in chunks:
        summary.rows += chunk.count
        for number, reason in chunk.rejected:
            summary.reject(number, reason)
        writer.add(chunk, summary)
        if progress:
            progress(chunk.count)
    writer.flush(summary)
    writer.close()
    _finish(batch, summary, now if injected else utcnow())
    return summary


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _finish(batch: ImportBatch, summary: ImportSummary, finished_at: datetime) -> None:
    batch.rows, batch.imported, batch.updated = summary.rows, summary.imported, summary.updated
    batch.unchanged, batch.rejected = summary.unchanged, summary.rejected[:1000]
    batch.finished_at = finished_at


def _dialect_insert(session: Session, table: Any) -> Any:
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _writer_for(session: Session, hall_id: int, batch_id: int, now: datetime) -> _ChunkWriter:
    if session.get_bind().dialect.name == "postgresql":
        return _CopyWriter(session, hall_id, batch_id, now)
    return _ChunkWriter(session, hall_id, batch_id, now)


class _ChunkWriter:
    """Writes validated rows in batches with executemany (SQLite, and any dialect without COPY),
    resolving windows, staff and contacts with small caches."""

    def __init__(self, session: Session, hall_id: int, batch_id: int, now: datetime) -> None:
        self.session, self.hall_id, self.batch_id, self.now = session, hall_id, batch_id, now
        self.windows: dict[str, int] = {}
        self.staff: dict[str, int] = {}
        self.pending: dict[str, CaseRow] = {}

    def add(self, chunk: ValidatedChunk, summary: ImportSummary) -> None:
        """Gather a chunk's valid rows by case number: a number repeated within a batch keeps its last row (the
        earlier one counts as unchanged, superseded by a later row of the file)."""
        rows = chunk.rows or []
        before = len(self.pending)
        self.pending.update((row.case_no, row) for row in rows)
        summary.unchanged += len(rows) - (len(self.pending) - before)
        if len(self.pending) >= CHUNK_ROWS:
            self.flush(summary)

    def flush(self, summary: ImportSummary) -> None:
        rows, self.pending = self.pending, {}
        if rows:
            self.write(rows, summary)

    def close(self) -> None:
        """Called once the last rows are written."""

    def write(self, rows: dict[str, CaseRow], summary: ImportSummary) -> None:
        self._ensure_names(Window, self.windows, {r.window for r in rows.values()})
        self._ensure_names(Staff, self.staff, {r.staff for r in rows.values() if r.staff})
        contacts = self._contacts({(r.phone.e164, r.phone.kind) for r in rows.values() if r.phone.e164})
        existing = self._existing(list(rows))
        new, changed = [], []
        for row in rows.values():
            known = existing.get(row.case_no)
            if known is None:
                new.append(self._values(row, contacts, full=True))
            elif known[1] != row.row_hash:
                changed.append({"id": known[0], **self._values(row, contacts, full=False)})
            else:
                summary.unchanged += 1
        self._insert_cases(new)
        if changed:
            self.session.execute(update(Case), changed)
        summary.imported += len(new)
        summary.updated += len(changed)

    def _ensure_names(self, model: type[Window] | type[Staff], cache: dict[str, int], names: set[str]) -> None:
        missing = [n for n in names if n not in cache]
        if not missing:
            return
        stmt = _dialect_insert(self.session, model).on_conflict_do_nothing(index_elements=["hall_id", "name"])
        now = self.now
        self.session.execute(stmt, [{"hall_id": self.hall_id, "name": n, "created_at": now} for n in missing])
        found = self.session.execute(
            select(model.name, model.id).where(model.hall_id == self.hall_id, model.name.in_(missing)))
        cache.update({name: id_ for name, id_ in found})

    def _contacts(self, phones: set[tuple[str, str]]) -> dict[str, int]:
        if not phones:
            return {}
        stmt = _dialect_insert(self.session, Contact).on_conflict_do_nothing(index_elements=["hall_id", "phone"])
        now = self.now
        self.session.execute(stmt, [{"hall_id": self.hall_id, "phone": p, "kind": k, "created_at": now}
                                    for p, k in phones])
        numbers = [p for p, _ in phones]
        found = self.session.execute(
            select(Contact.phone, Contact.id).where(Contact.hall_id == self.hall_id, Contact.phone.in_(numbers)))
        return {phone: id_ for phone, id_ in found}

    def _existing(self, case_nos: list[str]) -> dict[str, tuple[int, str]]:
        result = self.session.execute(
            select(Case.case_no, Case.id, Case.row_hash)
            .where(Case.hall_id == self.hall_id, Case.case_no.in_(case_nos)))
        return {no: (id_, digest) for no, id_, digest in result}

    def _insert_cases(self, values: list[dict[str, Any]]) -> None:
        if values:
            now = self.now
            for v in values:
                v["created_at"] = v["updated_at"] = now
            self.session.execute(insert(Case), values)

    def _values(self, row: CaseRow, contacts: dict[str, int], *, full: bool) -> dict[str, Any]:
        values: dict[str, Any] = {
            "hall_id": self.hall_id, "case_no": row.case_no, "window_id": self.windows[row.window],
            "accepted_at": row.accepted_at, "row_hash": row.row_hash, "import_batch_id": self.batch_id,
        }
        if full or "phone" in row.present:
            values.update(contact_id=contacts.get(row.phone.e164 or ""), phone_raw=row.phone.raw[:200] or None,
                          phone_kind=row.phone.kind)
        optional = {"promised_at": row.promised_at, "completed_at": row.completed_at,
                    "item_name": row.item_name, "item_kind": row.item_kind, "applicant": row.applicant,
                    "staff_id": self.staff.get(row.staff) if row.staff else None}
        source_field = {"staff_id": "staff"}
        for name, value in optional.items():
            if full or source_field.get(name, name) in row.present:
                values[name] = value
        if not full:
            values["updated_at"] = self.now
        return values


_STAGE_COLUMNS = ("case_no", "window_name", "staff", "phone", "phone_kind", "phone_raw", "accepted_at", "promised_at",
                  "completed_at", "item_name", "item_kind", "applicant", "row_hash")
_CASE_UPDATES = {  # case column → (staged expression, ledger field that must be present to overwrite it)
    "window_id": ("w.id", "window"), "accepted_at": ("s.accepted_at", "accepted_at"),
    # a scalar subquery rather than a join, so that each row is one probe of the unique key whatever the
    # (never analysed) stage's estimate: a hash join would scan every contact of the hall per chunk
    "contact_id": ("(SELECT c.id FROM contacts c WHERE c.hall_id = :hall AND c.phone = s.phone)", "phone"),
    "phone_raw": ("s.phone_raw", "phone"), "phone_kind": ("s.phone_kind", "phone"),
    "promised_at": ("s.promised_at", "promised_at"), "completed_at": ("s.completed_at", "completed_at"),
    "item_name": ("s.item_name", "item_name"), "item_kind": ("s.item_kind", "item_kind"),
    "applicant": ("s.applicant", "applicant"), "staff_id": ("st.id", "staff"),
}


class _CopyWriter(_ChunkWriter):
    """PostgreSQL: COPY each chunk into a temporary staging table and merge it with set-based SQL.

    One INSERT … ON CONFLICT DO UPDATE … WHERE row_hash differs classifies every row: `xmax = 0` marks a fresh
    insert, any other returned row an update, and rows not returned are unchanged.
    """

    def __init__(self, session: Session, hall_id: int, batch_id: int, now: datetime) -> None:
        super().__init__(session, hall_id, batch_id, now)
        cols = ", ".join(f"{c} {'timestamptz' if c.endswith('_at') else 'text'}" for c in _STAGE_COLUMNS)
        self.session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS ledger_stage ({cols}) ON COMMIT DROP"))
        # The import is one transaction; losing its commit in a server crash only means importing the file again.
        # JIT compilation costs more than it saves on these per-batch statements. The staging table is never
        # analysed (it was, per chunk, at ~15 µs a row), so the plans are pinned instead: hash joins on windows and
        # staff (the only joins), and a plain index probe (no bitmap) of the contacts and cases unique keys per
        # staged row in the scalar subqueries.
        self.planner = self.session.execute(text(
            "SELECT current_setting('enable_nestloop'), current_setting('enable_bitmapscan')")).one()
        for setting in ("synchronous_commit = off", "jit = off", "enable_nestloop = off", "enable_bitmapscan = off"):
            self.session.execute(text(f"SET LOCAL {setting}"))
        self.merges = 0
        self.unchanged_seen = True
        self.parts: list[CopyPart] = []  # the batch being gathered: same fields, distinct case numbers
        self.case_nos: set[str] = set()
        self.known_names: tuple[set[str], set[str]] = (set(), set())  # windows, staff already inserted

    def add(self, chunk: ValidatedChunk, summary: ImportSummary) -> None:
        """Gather COPY parts into batches of about COPY_BATCH_ROWS rows. A part that carries other fields, or
        repeats a case number of the batch, starts a new batch: one merge cannot touch a row twice."""
        summary.unchanged += chunk.superseded
        for part in chunk.parts:
            if self.parts and (part.present != self.parts[0].present or not self.case_nos.isdisjoint(part.case_nos)):
                self.flush(summary)
            self.parts.append(part)
            self.case_nos.update(part.case_nos)
            if len(self.case_nos) >= COPY_BATCH_ROWS:
                self.flush(summary)

    def flush(self, summary: ImportSummary) -> None:
        parts, rows = self.parts, len(self.case_nos)
        if not parts:
            return
        self.parts, self.case_nos = [], set()
        self._stage(b"".join(part.payload for part in parts))
        inserted, updated = self._merge(parts)
        summary.imported += inserted
        summary.updated += updated
        summary.unchanged += rows - inserted - updated

    def close(self) -> None:
        """Give the caller's transaction its planner settings back (the import may not be all it does)."""
        self.session.execute(text("SELECT set_config('enable_nestloop', :loop, true), "
                                  "set_config('enable_bitmapscan', :bitmap, true)"),
                             {"loop": self.planner[0], "bitmap": self.planner[1]})

    def _prefilter(self) -> bool:
        """Whether to take unchanged rows out before merging. A pure optimisation (the merge leaves unchanged
        rows alone too): worth it on re-imports, a wasted probe per row on new data, so it is skipped while the
        file brings only new or changed rows, and tried again every PREFILTER_RETRY batches."""
        self.merges += 1
        return self.unchanged_seen or self.merges % PREFILTER_RETRY == 1

    def _stage(self, payload: bytes) -> None:
        self.session.execute(text("TRUNCATE ledger_stage"))
        raw = self.session.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY ledger_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
            copy.write(payload)

    def _new_names(self, parts: list[CopyPart]) -> list[str]:
        """The name inserts the batch needs: none once every window and staff name it uses has been inserted."""
        used = (set().union(*(part.windows for part in parts)), set().union(*(part.staff for part in parts)))
        statements = []
        for statement, names, known in zip(_NAME_INSERTS, used, self.known_names, strict=True):
            if not names <= known:
                statements.append(statement)
                known.update(names)
        return statements

    def _merge(self, parts: list[CopyPart]) -> tuple[int, int]:
        present = parts[0].present
        params = {"hall": self.hall_id, "batch": self.batch_id, "now": self.now}
        if self._prefilter():
            # Unchanged rows (same hash) leave the stage first: one index probe each, instead of a contact insert
            # attempt, the joins and a conflicting-row lock in the merge. Counted as unchanged by the caller.
            # a scalar subquery, not a join: always one probe of the unique key per staged row, whatever the
            # (never analysed) stage's estimate — a join here turned into a scan of all cases on large tables
            removed = self.session.execute(text(
                "DELETE FROM ledger_stage s WHERE s.row_hash = "
                "(SELECT c.row_hash FROM cases c WHERE c.hall_id = :hall AND c.case_no = s.case_no)"), params).rowcount
            self.unchanged_seen = removed > 0
        for statement in (*self._new_names(parts), _CONTACT_INSERT):
            self.session.execute(text(statement), params)
        updates = [f"{col} = EXCLUDED.{col}" for col, (_, field_) in _CASE_UPDATES.items() if field_ in present]
        updates += ["row_hash = EXCLUDED.row_hash", "import_batch_id = EXCLUDED.import_batch_id",
                    "updated_at = EXCLUDED.updated_at"]
        columns = ", ".join(_CASE_UPDATES)
        values = ", ".join(expr for expr, _ in _CASE_UPDATES.values())
        result = self.session.execute(text(f"""
            WITH merged AS (
              INSERT INTO cases (hall_id, case_no, {columns}, row_hash, import_batch_id, created_at, updated_at)
              SELECT :hall, s.case_no, {values}, s.row_hash, :batch, :now, :now
              FROM ledger_stage s
              JOIN windows w ON w.hall_id = :hall AND w.name = s.window_name
              LEFT JOIN staff st ON st.hall_id = :hall AND st.name = s.staff
              ON CONFLICT (hall_id, case_no) DO UPDATE SET {", ".join(updates)}
              WHERE cases.row_hash IS DISTINCT FROM EXCLUDED.row_hash
              RETURNING (xmax = 0) AS inserted)
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"""), params)
        inserted, updated = result.one()
        return inserted, updated


_NAME_INSERTS = (  # windows, staff
    "INSERT INTO windows (hall_id, name, created_at) SELECT DISTINCT :hall, window_name, CAST(:now AS timestamptz) "
    "FROM ledger_stage ON CONFLICT DO NOTHING",
    "INSERT INTO staff (hall_id, name, created_at) SELECT DISTINCT :hall, staff, CAST(:now AS timestamptz) "
    "FROM ledger_stage WHERE staff IS NOT NULL ON CONFLICT DO NOTHING",
)
_CONTACT_INSERT = (
    "INSERT INTO contacts (hall_id, phone, kind, created_at) "
    "SELECT DISTINCT ON (phone) :hall, phone, phone_kind, CAST(:now AS timestamptz) FROM ledger_stage "
    "WHERE phone IS NOT NULL ORDER BY phone ON CONFLICT DO NOTHING"
)
