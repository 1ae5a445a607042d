"""Ledger import into the database: streaming, chunked, idempotent (upsert by hall + case number).

A bad row is rejected with its row number and reason and the good rows still land; a file that cannot be read or
lacks a required column raises before anything is written. The whole import is one transaction owned by the
caller, so a failure half-way through a file leaves the ledger as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callback.ledger.parallel import CopyPart, ValidatedChunk, validate_records, validated_chunks
from callback.ledger.records import COPY_TAIL_COLUMNS, CaseRow, copy_text, row_hash_of_tail
from callback.models import Case, Contact, Hall, ImportBatch, Staff, Window, utcnow

CHUNK_ROWS = 5000
COPY_BATCH_ROWS = 20_000  # rows per COPY + merge on PostgreSQL: fewer statements, each over more rows
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
    try:
        for chunk in chunks:
            summary.rows += chunk.count
            for number, reason in chunk.rejected:
                summary.reject(number, reason)
            writer.add(chunk, summary)
            if progress:
                progress(chunk.count)
        writer.flush(summary)
        writer.close()
    except BaseException:
        writer.discard()
        raise
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

    def discard(self) -> None:
        """Called instead of close when the import fails."""

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


# The staging table for rows that change existing cases: the names the writer resolves, then the tail every
# COPY row carries (records.COPY_TAIL_COLUMNS).
_STAGE_COLUMNS = ("window_name", "staff", "phone", *COPY_TAIL_COLUMNS)
_CASE_COLUMNS = ("hall_id", "import_batch_id", "created_at", "updated_at", "window_id", "staff_id", "contact_id",
                 *COPY_TAIL_COLUMNS)
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
_IMPORT_LOCK = 0x1ED6E  # pg_advisory_xact_lock(_IMPORT_LOCK, hall id): one import per hall at a time


class _CopyWriter(_ChunkWriter):
    """PostgreSQL: new cases are COPied straight into `cases`; rows that change a case go through a staging table
    and one set-based merge; unchanged rows are only looked at.

    Per batch of about COPY_BATCH_ROWS rows: one probe of the cases unique key tells new, changed and unchanged
    rows apart; one INSERT … ON CONFLICT DO NOTHING RETURNING gives the new rows' contact ids; one COPY writes
    them. Window and staff ids come from caches. Imports of one hall take turns (an advisory lock), so that no
    other import can insert a case number between the probe and the COPY.

    In a hall's first import (nearly every row new) the probe asks only about the rows `_Written` flags, and the
    statements run in a thread of their own while this process prepares the next ones (see
    `_queue_first_import_batch`).
    """

    def __init__(self, session: Session, hall_id: int, batch_id: int, now: datetime) -> None:
        super().__init__(session, hall_id, batch_id, now)
        self.session.execute(text("SELECT pg_advisory_xact_lock(:lock, :hall)"), {"lock": _IMPORT_LOCK,
                                                                                "hall": hall_id})
        self.raw = self.session.connection().connection.driver_connection
        # The import is one transaction; losing its commit in a server crash only means importing the file again.
        # JIT compilation costs more than it saves on these per-batch statements. The reference checks of migration
        # 0003 read each statement's new rows from a transition table, kept in memory with work_mem 64 MB.
        for setting in ("synchronous_commit = off", "jit = off", "work_mem = '64MB'"):
            self.session.execute(text(f"SET LOCAL {setting}"))
        self.staged = False
        self.parts: list[CopyPart] = []  # the batch being gathered: same fields, distinct case numbers
        self.case_nos: set[str] = set()
        stamp = now.isoformat()
        self.prefix = f"{hall_id}\t{batch_id}\t{stamp}\t{stamp}\t"  # _CASE_COLUMNS up to window_id
        self.window_ids: dict[str, str] = {}  # name → id as COPY text
        self.staff_ids: dict[str | None, str] = {None: "\\N"}
        had_cases = self.session.execute(text("SELECT EXISTS (SELECT FROM cases WHERE hall_id = :hall)"),
                                         {"hall": hall_id}).scalar()
        self.written = None if had_cases else _Written()
        self.database: _InOrder | None = None  # a first import's statements
        self.merges: list[tuple[list[CopyPart], Future[int]]] = []  # counted once they are all done
        self.queued: tuple[list[CopyPart], Future[Any], Future[Any] | None] | None = None  # batch awaiting its probe
        self.summary = ImportSummary()

    def add(self, chunk: ValidatedChunk, summary: ImportSummary) -> None:
        """Gather COPY parts into batches of about COPY_BATCH_ROWS rows. A part that carries other fields, or
        repeats a case number of the batch, starts a new batch: one batch writes a case at most once."""
        summary.unchanged += chunk.superseded
        for part in chunk.parts:
            if self.parts and (part.present != self.parts[0].present or not self.case_nos.isdisjoint(part.case_nos)):
                self.flush(summary)
            self.parts.append(part)
            self.case_nos.update(part.case_nos)
            if len(self.case_nos) >= COPY_BATCH_ROWS:
                self.flush(summary)

    def flush(self, summary: ImportSummary) -> None:
        parts, case_nos = self.parts, self.case_nos
        if not parts:
            return
        self.parts, self.case_nos = [], set()
        if self.written is not None:
            self._queue_first_import_batch(parts, case_nos, summary)
            return
        self._ensure_ids(parts)
        existing = self._existing_hashes(list(case_nos))
        new, changed = (parts, []) if not existing else self._split(parts, existing, summary)
        if new:
            self._copy(self._render(new, self._contact_ids(_kinds(new))))
        summary.imported += sum(len(part.case_nos) for part in new)
        if changed:
            self._count_merged(changed, self._merge_changed(changed), summary)

    def close(self) -> None:
        """Write what is still queued, and wait for it."""
        if self.database is None:
            return
        self._finish_queued(self.summary)
        database, self.database = self.database, None
        database.wait()
        for changed, merged in self.merges:
            self._count_merged(changed, merged.result(), self.summary)

    def discard(self) -> None:
        """The import failed: nothing may touch the connection once the caller rolls back."""
        if self.database is not None:
            self.database.cancel()
            self.database = None

    # A hall's first import: nearly every row is new. The batches' statements go to one thread in order, so that
    # the server always has the next one while this process renders lines, checks the bitmap and gathers the next
    # batch from the workers. Per batch: its contacts; the previous batch's COPY (its lines rendered meanwhile,
    # with its contact ids); a probe of the rows the bitmap flags, which comes after every earlier COPY and so
    # sees all rows written before. The probe's answer is used at the next batch: new rows are COPY-ed then,
    # changed rows merged.

    def _queue_first_import_batch(self, parts: list[CopyPart], case_nos: set[str], summary: ImportSummary) -> None:
        assert self.written is not None
        if self.database is None:
            self.database = _InOrder()
            self.summary = summary
        run = self.database.run
        run(self._ensure_ids, parts).result()  # rare: names are cached; waited for, they are few
        ids = run(self._contact_ids, _kinds(parts))
        self._finish_queued(summary)
        flagged = self.written.flagged(case_nos)
        self.written.add(case_nos)
        probe = run(self._existing_hashes, flagged) if flagged else None
        self.queued = parts, ids, probe

    def _finish_queued(self, summary: ImportSummary) -> None:
        """Split the queued batch by its probe, render its new rows and queue their COPY; queue the merge of its
        changed rows."""
        if self.queued is None or self.database is None:
            return
        parts, ids, probe = self.queued
        self.queued = None
        existing = probe.result() if probe is not None else {}
        new, changed = (parts, []) if not existing else self._split(parts, existing, summary)
        if new:
            self.database.run(self._copy, self._render(new, ids.result()))
            summary.imported += sum(len(part.case_nos) for part in new)
        if changed:
            self.merges.append((changed, self.database.run(self._merge_changed, changed)))

    @staticmethod
    def _count_merged(changed: list[CopyPart], updated: int, summary: ImportSummary) -> None:
        summary.updated += updated
        summary.unchanged += sum(len(part.case_nos) for part in changed) - updated

    def _ensure_ids(self, parts: list[CopyPart]) -> None:
        windows = set().union(*(part.window_names for part in parts)) - self.window_ids.keys()
        staff = set().union(*(part.staff_names for part in parts)) - self.staff_ids.keys()
        if windows:
            self._ensure_names(Window, self.windows, windows)
            self.window_ids.update((name, str(self.windows[name])) for name in windows)
        if staff:
            self._ensure_names(Staff, self.staff, staff)  # type: ignore[arg-type]
            self.staff_ids.update((name, str(self.staff[name])) for name in staff)  # type: ignore[index]

    def _existing_hashes(self, case_nos: list[str]) -> dict[str, str]:
        """The stored row hash of each of these case numbers that the hall already has."""
        with self.raw.cursor() as cur:
            cur.execute("SELECT string_agg(case_no, E'\\n'), string_agg(row_hash, E'\\n') FROM cases "
                        "WHERE hall_id = %s AND case_no = ANY(string_to_array(%s, E'\\n'))",
                        (self.hall_id, _lines(case_nos)))
            return _pairs(cur.fetchone())

    def _split(self, parts: list[CopyPart], existing: dict[str, str],
               summary: ImportSummary) -> tuple[list[CopyPart], list[CopyPart]]:
        """Parts of the new rows and parts of the changed rows; unchanged rows are counted and dropped."""
        new, changed = [], []
        for part in parts:
            fresh, differ = [], []
            for index, case_no in enumerate(part.case_nos):
                stored = existing.get(case_no)
                if stored is None:
                    fresh.append(index)
                elif stored != row_hash_of_tail(part.tails[index]):
                    differ.append(index)
            summary.unchanged += len(part.case_nos) - len(fresh) - len(differ)
            new += [_subset(part, fresh)] if fresh else []
            changed += [_subset(part, differ)] if differ else []
        return new, changed

    def _render(self, parts: list[CopyPart], contact_ids: dict[str | None, str]) -> list[str]:
        """The parts' rows as COPY text for cases, one string a part."""
        prefix, window_ids, staff_ids = self.prefix, self.window_ids, self.staff_ids
        return ["".join([f"{prefix}{window_ids[window]}\t{staff_ids[staff]}\t{contact_ids[phone]}\t{tail}"
                         for window, staff, phone, tail in zip(part.windows, part.staff, part.phones, part.tails,
                                                               strict=True)])
                for part in parts]

    def _copy(self, lines: list[str]) -> None:
        with self.raw.cursor() as cur, cur.copy(f"COPY cases ({', '.join(_CASE_COLUMNS)}) FROM STDIN") as copy:
            for text_ in lines:
                copy.write(text_)

    def _contact_ids(self, kinds: dict[str, str]) -> dict[str | None, str]:
        """The contact id (COPY text) of each phone, creating the contacts the hall does not have yet."""
        ids: dict[str | None, str] = {None: "\\N"}
        if not kinds:
            return ids
        with self.raw.cursor() as cur:
            cur.execute(
                "WITH added AS (INSERT INTO contacts (hall_id, phone, kind, created_at) "
                "SELECT %s, phone, kind, %s FROM unnest(string_to_array(%s, E'\\n'), string_to_array(%s, E'\\n')) "
                "AS n (phone, kind) ON CONFLICT (hall_id, phone) DO NOTHING RETURNING phone, id) "
                "SELECT string_agg(phone, E'\\n'), string_agg(id::text, E'\\n') FROM added",
                (self.hall_id, self.now, *_sorted_lines(kinds)))
            ids.update(_pairs(cur.fetchone()))
            if len(ids) <= len(kinds):  # some were there already
                cur.execute("SELECT string_agg(phone, E'\\n'), string_agg(id::text, E'\\n') FROM contacts "
                            "WHERE hall_id = %s AND phone = ANY(string_to_array(%s, E'\\n'))",
                            (self.hall_id, _lines([phone for phone in kinds if phone not in ids])))
                ids.update(_pairs(cur.fetchone()))
        return ids

    def _merge_changed(self, parts: list[CopyPart]) -> int:
        """Stage the changed rows and update their cases in one statement; returns how many it updated."""
        if not self.staged:
            cols = ", ".join(f"{c} {'timestamptz' if c.endswith('_at') else 'text'}" for c in _STAGE_COLUMNS)
            self.session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS ledger_stage ({cols}) ON COMMIT DROP"))
            self.staged = True
        self.session.execute(text("TRUNCATE ledger_stage"))
        with self.raw.cursor() as cur, cur.copy(f"COPY ledger_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
            for part in parts:
                copy.write("".join([
                    f"{copy_text(window)}\t{copy_text(staff)}\t{copy_text(phone)}\t{tail}"
                    for window, staff, phone, tail in zip(part.windows, part.staff, part.phones, part.tails,
                                                          strict=True)]))
        params = {"hall": self.hall_id, "batch": self.batch_id, "now": self.now}
        self.session.execute(text(_CONTACT_INSERT), params)
        present = parts[0].present
        updates = [f"{col} = EXCLUDED.{col}" for col, (_, field_) in _CASE_UPDATES.items() if field_ in present]
        updates += ["row_hash = EXCLUDED.row_hash", "import_batch_id = EXCLUDED.import_batch_id",
                    "updated_at = EXCLUDED.updated_at"]
        columns = ", ".join(_CASE_UPDATES)
        values = ", ".join(expr for expr, _ in _CASE_UPDATES.values())
        # The rows exist (the probe found them) and this hall's imports take turns, so every row conflicts; the
        # INSERT form is what lets one statement update each case from its staged row.
        return self.session.execute(text(f"""
            INSERT INTO cases (hall_id, case_no, {columns}, row_hash, import_batch_id, created_at, updated_at)
            SELECT :hall, s.case_no, {values}, s.row_hash, :batch, :now, :now
            FROM ledger_stage s
            JOIN windows w ON w.hall_id = :hall AND w.name = s.window_name
            LEFT JOIN staff st ON st.hall_id = :hall AND st.name = s.staff
            ON CONFLICT (hall_id, case_no) DO UPDATE SET {", ".join(updates)}
            WHERE cases.row_hash IS DISTINCT FROM EXCLUDED.row_hash"""), params).rowcount


class _InOrder:
    """Statements run one after another in a thread of their own, in the order they were queued. A failed one
    aborted the transaction: the next `run` raises its error, and so does `wait`."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="import-writer")
        self.jobs: list[Future[Any]] = []

    def run(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        for job in self.jobs:
            if job.done() and job.exception() is not None:
                raise job.exception()  # type: ignore[misc]
        self.jobs = [job for job in self.jobs if not job.done()]
        job = self.pool.submit(fn, *args)
        self.jobs.append(job)
        return job

    def wait(self) -> None:
        """Every queued statement done; the first failure raised."""
        try:
            for job in self.jobs:
                job.result()
        finally:
            self.pool.shutdown()

    def cancel(self) -> None:
        """Drop the queued statements and wait for the running one."""
        self.pool.shutdown(cancel_futures=True)


class _Written:
    """The case numbers an import has written so far, as a one-hash bitmap (8 MB, whatever the file's size).

    In a hall that had no cases, a case number can only exist already if this import wrote it: the probe then
    asks about the rows the bitmap flags (about 1.5% of a million-row file are false alarms) instead of every
    row. Imports of one hall take turns, so no other writer adds cases meanwhile."""

    BITS = 1 << 26

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)

    def flagged(self, case_nos: Iterable[str]) -> list[str]:
        bits, mask = self.bits, self.BITS - 1
        return [no for no in case_nos if bits[(h := hash(no) & mask) >> 3] >> (h & 7) & 1]

    def add(self, case_nos: Iterable[str]) -> None:
        bits, mask = self.bits, self.BITS - 1
        for no in case_nos:
            h = hash(no) & mask
            bits[h >> 3] |= 1 << (h & 7)


def _kinds(parts: list[CopyPart]) -> dict[str, str]:
    """The phones of the parts' rows, with their kinds."""
    kinds: dict[str, str] = {}
    for part in parts:
        kinds.update(part.kinds)
    return kinds


def _lines(values: list[str]) -> str:
    """A text[] parameter for `string_to_array(%s, E'\\n')`: values joined by line feeds and split by the server
    cost a fraction of psycopg adapting a list element by element (it was the writer's largest cost). Case numbers
    and E.164 numbers never hold a line feed (records rejects such case numbers)."""
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1:
        raise ValueError("a value holds a line feed")
    return joined


def _sorted_lines(kinds: dict[str, str]) -> tuple[str, str]:
    """Phones and their kinds as two _lines, in phone order: the unique index takes sorted keys much faster."""
    phones = sorted(kinds)
    return _lines(phones), _lines([kinds[phone] for phone in phones])


def _pairs(row: tuple[str | None, str | None] | None) -> dict[str, str]:
    """Two line-feed-joined aggregates (keys, values) back into a dict."""
    if row is None or row[0] is None or row[1] is None:
        return {}
    return dict(zip(row[0].split("\n"), row[1].split("\n"), strict=True))


def _subset(part: CopyPart, indexes: list[int]) -> CopyPart:
    """The rows of `part` at `indexes` (the names sets are kept: they only need to cover the rows)."""
    if len(indexes) == len(part.case_nos):
        return part
    pick = [part.case_nos[i] for i in indexes], [part.windows[i] for i in indexes], [
        part.staff[i] for i in indexes], [part.phones[i] for i in indexes], [part.tails[i] for i in indexes]
    return part._replace(case_nos=pick[0], windows=pick[1], staff=pick[2], phones=pick[3], tails=pick[4])


_CONTACT_INSERT = (
    "INSERT INTO contacts (hall_id, phone, kind, created_at) "
    "SELECT DISTINCT ON (phone) :hall, phone, phone_kind, CAST(:now AS timestamptz) FROM ledger_stage "
    "WHERE phone IS NOT NULL ORDER BY phone ON CONFLICT DO NOTHING"
)
