"""Evaluator presses into the database: a file or API records → validated presses → one row each, idempotent.

The ledger import's guarantees (callback.ledger.importer): a file that cannot be read or lacks a required column
raises before anything is written; a bad row is rejected with its row number (as Excel shows it) and its reason,
and the good rows land; importing the same presses again adds none (they count as unchanged; a press whose level
now reads differently, after a changed ``--digits`` say, is updated); the caller owns the one transaction.
Windows and staff are the hall's, created on first use like a ledger import creates them.

Public API:
    import_file(session, hall, path, *, levels=Levels(), sheet=None, now=None) -> ImportSummary
    import_records(session, hall, rows, *, levels=Levels(), source, now=None) -> ImportSummary
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from callback.evaluator.levels import Levels, Rejected
from callback.evaluator.records import EVALUATOR, PressRow, build_press, press_key
from callback.ledger.importer import ImportSummary
from callback.ledger.reader import records
from callback.models import Case, EvaluatorPress, Hall, ImportBatch, Staff, Window, utcnow
from callback.responses.receipts import dialect_insert

CHUNK_ROWS = 1000  # presses looked up and written at a time (one IN list of keys each)
SOURCE_PREFIX = "evaluator:"  # import_batches.source of an evaluator import, e.g. "evaluator:评价器导出.csv"
_IMPORT_LOCK = 0xE7A1  # pg_advisory_xact_lock(_IMPORT_LOCK, hall id): one evaluator import per hall at a time


def import_file(session: Session, hall: Hall, path: Path, *, levels: Levels | None = None, sheet: str | None = None,
                now: datetime | None = None) -> ImportSummary:
    """Import a CSV/XLSX evaluator export. Raises UnreadableFile / MissingColumns before writing anything."""
    _, rows = records(path, sheet, vocabulary=EVALUATOR)
    return import_records(session, hall, rows, levels=levels, source=path.name, now=now)


def import_records(session: Session, hall: Hall, rows: Iterable[tuple[int, dict[str, Any]]], *,
                   levels: Levels | None = None, source: str, now: datetime | None = None) -> ImportSummary:
    """Import numbered records ({field: raw value}, fields of callback.evaluator.records.FIELDS); the caller
    commits. `now` stamps the batch and any window or staff row created."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":  # imports of one hall take turns, each counts what it found
        session.execute(text("SELECT pg_advisory_xact_lock(:lock, :hall)"), {"lock": _IMPORT_LOCK, "hall": hall.id})
    batch = ImportBatch(hall_id=hall.id, source=(SOURCE_PREFIX + source)[:300], started_at=now)
    session.add(batch)
    session.flush()
    directory, occurrences, summary = Directory(session, hall.id, now), Counter[str](), ImportSummary()
    for chunk in _chunks(rows, CHUNK_ROWS):
        presses = list(_resolved(chunk, levels or Levels(), directory, occurrences, summary))
        _store(session, hall.id, batch.id, presses, summary, directory)
    batch.rows, batch.imported, batch.updated = summary.rows, summary.imported, summary.updated
    batch.unchanged, batch.rejected, batch.finished_at = summary.unchanged, summary.rejected[:1000], now
    return summary


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@dataclass(frozen=True)
class _Press:
    key: str
    row: PressRow
    window_id: int
    staff_id: int | None


def _resolved(chunk: list[tuple[int, dict[str, Any]]], levels: Levels, directory: Directory,
              occurrences: Counter[str], summary: ImportSummary) -> Iterator[_Press]:
    """The chunk's good records as presses with their keys and ids; a bad one is rejected with its row number."""
    for number, record in chunk:
        summary.rows += 1
        try:
            row = build_press(record, levels)
            window_id = directory.window_id(row.window)
            staff_id = directory.staff_id(row.staff, row.staff_no)
        except Rejected as exc:
            summary.reject(number, str(exc))
            continue
        occurrence = 1
        if not row.record_id:  # the n-th identical press of this file or request
            first = press_key(row, 1)
            occurrences[first] += 1
            occurrence = occurrences[first]
        yield _Press(press_key(row, occurrence), row, window_id, staff_id)


def _values(press: _Press, directory: Directory) -> dict[str, Any]:
    """What a re-import may correct on a press found by its key."""
    row = press.row
    return {"rating": row.rating.value, "level": row.level, "staff_id": directory.current(press.staff_id),
            "case_no": row.case_no}


def _store(session: Session, hall_id: int, batch_id: int, presses: list[_Press], summary: ImportSummary,
           directory: Directory) -> None:
    """New presses are inserted, known ones left alone (unchanged) or corrected (updated)."""
    by_key: dict[str, _Press] = {}
    for press in presses:
        summary.unchanged += press.key in by_key  # the same device record twice in one chunk: the last one counts
        by_key[press.key] = press
    table = EvaluatorPress.__table__
    known = {} if not by_key else {
        key: (press_id, {"rating": rating, "level": level, "staff_id": staff_id, "case_no": case_no})
        for key, press_id, rating, level, staff_id, case_no in session.execute(
            select(table.c.press_key, table.c.id, table.c.rating, table.c.level, table.c.staff_id, table.c.case_no)
            .where(table.c.hall_id == hall_id, table.c.press_key.in_(by_key)))}
    new = [{"hall_id": hall_id, "press_key": key, "pressed_at": p.row.pressed_at, "window_id": p.window_id,
            "record_id": p.row.record_id, "import_batch_id": batch_id, "created_at": utcnow(), **_values(p, directory)}
           for key, p in by_key.items() if key not in known]
    if new:
        session.execute(insert(table), new)
    for key, (press_id, stored) in known.items():
        values = _values(by_key[key], directory)
        if values == stored:
            summary.unchanged += 1
            continue
        session.execute(update(table).where(table.c.id == press_id).values(**values, import_batch_id=batch_id))
        summary.updated += 1
    summary.imported += len(new)


class Directory:
    """The hall's windows and staff, found by name (staff also by 工号) and created on first use, as a ledger
    import creates them. Loaded once per import: a hall has tens of windows and staff, not thousands.

    Staff, in order: a 工号 already known names its staff member (a row naming someone else is rejected); else
    the name finds or creates the staff member and, given a 工号 they have none of, records it (a different one
    is rejected); a 工号 alone creates a staff member called by it, who takes the name a later row gives — or,
    when that name is already a staff member's without a 工号, merges into them (their presses move over)."""

    def __init__(self, session: Session, hall_id: int, now: datetime) -> None:
        self.session, self.hall_id, self.now = session, hall_id, now
        self.windows: dict[str, int] = {name: id_ for name, id_ in session.execute(
            select(Window.name, Window.id).where(Window.hall_id == hall_id))}
        staff = session.scalars(select(Staff).where(Staff.hall_id == hall_id)).all()
        self.by_name = {member.name: member for member in staff}
        self.by_no = {member.staff_no: member for member in staff if member.staff_no}
        self.moved: dict[int, int] = {}  # staff id known by 工号 alone → the staff member it was merged into

    def current(self, staff_id: int | None) -> int | None:
        """A staff id resolved earlier in this import, after any merge since."""
        return self.moved.get(staff_id, staff_id) if staff_id is not None else None

    def window_id(self, name: str) -> int:
        if name not in self.windows:
            self._insert(Window, name)
            self.windows[name] = self.session.scalar(
                select(Window.id).where(Window.hall_id == self.hall_id, Window.name == name))
        return self.windows[name]

    def staff_id(self, name: str | None, staff_no: str | None) -> int | None:
        member = self.by_no.get(staff_no) if staff_no else None
        if member is not None:
            return self._named(member, name).id
        if name is None and staff_no is None:
            return None
        member = self.by_name.get(name or staff_no) or self._new_staff(name or staff_no)  # type: ignore[arg-type]
        if staff_no:
            self._number(member, staff_no)
        return member.id

    def _named(self, member: Staff, name: str | None) -> Staff:
        """The staff member a known 工号 names, renamed from their 工号 to the name a row gives, if they had none."""
        if name is None or name == member.name:
            return member
        other = self.by_name.get(name)
        if member.name != member.staff_no or (other is not None and other.staff_no is not None):
            raise Rejected(f"工号“{member.staff_no}”属于“{member.name}”，与本行的工作人员“{name}”不符"
                           f" / staff number {member.staff_no} belongs to someone else")
        if other is not None:
            return self._merge(member, other)
        del self.by_name[member.name]
        member.name = name
        self.by_name[name] = member
        return member

    def _merge(self, known_by_number: Staff, named: Staff) -> Staff:
        """Someone first known by 工号 alone is a staff member the ledger knows by name: one staff member."""
        if self.session.scalar(select(Case.id).where(Case.hall_id == self.hall_id,
                                                     Case.staff_id == known_by_number.id).limit(1)) is not None:
            raise Rejected(f"工号“{known_by_number.staff_no}”与工作人员“{named.name}”各有办件，无法自动合并"
                           f" / cannot merge two staff members who both have cases")
        self.session.execute(update(EvaluatorPress).where(EvaluatorPress.hall_id == self.hall_id,
                                                          EvaluatorPress.staff_id == known_by_number.id)
                             .values(staff_id=named.id))
        staff_no = known_by_number.staff_no
        del self.by_name[known_by_number.name]
        self.session.delete(known_by_number)
        self.session.flush()  # the 工号 is free again before the named member takes it
        named.staff_no = staff_no
        self.by_no[staff_no] = named  # type: ignore[index]
        self.moved[known_by_number.id] = named.id
        return named

    def _number(self, member: Staff, staff_no: str) -> None:
        if member.staff_no is None:
            member.staff_no = staff_no
            self.by_no[staff_no] = member
        elif member.staff_no != staff_no:
            raise Rejected(f"工作人员“{member.name}”的工号是“{member.staff_no}”，与本行的工号“{staff_no}”不符"
                           f" / {member.name} has another staff number")

    def _new_staff(self, name: str) -> Staff:
        self._insert(Staff, name)
        member = self.session.scalars(select(Staff).where(Staff.hall_id == self.hall_id, Staff.name == name)).one()
        self.by_name[name] = member
        return member

    def _insert(self, model: type[Window] | type[Staff], name: str) -> None:
        """INSERT … ON CONFLICT DO NOTHING: a ledger import of the same hall may create the same name meanwhile."""
        dialect = dialect_insert(self.session)
        if dialect is None:
            self.session.add(model(hall_id=self.hall_id, name=name, created_at=self.now))
            self.session.flush()
            return
        self.session.execute(dialect(model).values(hall_id=self.hall_id, name=name, created_at=self.now)
                             .on_conflict_do_nothing(index_elements=["hall_id", "name"]))
