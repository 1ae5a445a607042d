"""Ledger import into the database: streaming, chunked, idempotent (upsert by hall + case number).

A bad row is rejected with its row number and reason and the good rows still land; a file that cannot be read or
lacks a required column raises before anything is written. The whole import is one transaction owned by the
caller, so a failure half-way through a file leaves the ledger as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callback.ledger.reader import records
from callback.ledger.records import CaseRow, Rejected, build_case_row
from callback.models import Case, Contact, Hall, ImportBatch, Staff, Window, utcnow

CHUNK_ROWS = 5000
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
                progress: Callable[[int], None] | None = None) -> ImportSummary:
    """Import a CSV/XLSX ledger file. Raises UnreadableFile / MissingColumns before writing anything."""
    _header, rows = records(path, sheet)
    return import_records(session, hall, rows, source=path.name, progress=progress)


def import_records(session: Session, hall: Hall, rows: Iterable[tuple[int, dict[str, Any]]], *, source: str,
                   progress: Callable[[int], None] | None = None) -> ImportSummary:
    """Import numbered records ({field: raw value}); the caller commits."""
    batch = ImportBatch(hall_id=hall.id, source=source[:300])
    session.add(batch)
    session.flush()
    writer = _ChunkWriter(session, hall.id, batch.id)
    summary = ImportSummary()
    for chunk in _chunks(rows, CHUNK_ROWS):
        good = _validate(chunk, summary)
        writer.write(good, summary)
        if progress:
            progress(len(chunk))
    _finish(batch, summary)
    return summary


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _validate(chunk: list[tuple[int, dict[str, Any]]], summary: ImportSummary) -> dict[str, CaseRow]:
    """Valid rows of a chunk keyed by case number; a number repeated within the chunk keeps its last row."""
    good: dict[str, CaseRow] = {}
    for number, record in chunk:
        summary.rows += 1
        try:
            row = build_case_row(record)
        except Rejected as exc:
            summary.reject(number, str(exc))
            continue
        if row.case_no in good:
            summary.unchanged += 1  # superseded by a later row of the same file
        good[row.case_no] = row
    return good


def _finish(batch: ImportBatch, summary: ImportSummary) -> None:
    batch.rows, batch.imported, batch.updated = summary.rows, summary.imported, summary.updated
    batch.unchanged, batch.rejected = summary.unchanged, summary.rejected[:1000]
    batch.finished_at = utcnow()


def _dialect_insert(session: Session, table: Any) -> Any:
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


class _ChunkWriter:
    """Writes validated rows chunk by chunk, resolving windows, staff and contacts with small caches."""

    def __init__(self, session: Session, hall_id: int, batch_id: int) -> None:
        self.session, self.hall_id, self.batch_id = session, hall_id, batch_id
        self.windows: dict[str, int] = {}
        self.staff: dict[str, int] = {}

    def write(self, rows: dict[str, CaseRow], summary: ImportSummary) -> None:
        if not rows:
            return
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
        now = utcnow()
        self.session.execute(stmt, [{"hall_id": self.hall_id, "name": n, "created_at": now} for n in missing])
        found = self.session.execute(
            select(model.name, model.id).where(model.hall_id == self.hall_id, model.name.in_(missing)))
        cache.update({name: id_ for name, id_ in found})

    def _contacts(self, phones: set[tuple[str, str]]) -> dict[str, int]:
        if not phones:
            return {}
        stmt = _dialect_insert(self.session, Contact).on_conflict_do_nothing(index_elements=["hall_id", "phone"])
        now = utcnow()
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
            now = utcnow()
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
            values["updated_at"] = utcnow()
        return values
