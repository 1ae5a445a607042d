"""Validate a large ledger on every core: the main process reads raw rows (the csv module is fast), worker
processes turn them into case rows and PostgreSQL COPY lines, and the main process writes them in order while
the workers validate the next chunks. Small files skip the pool."""

from __future__ import annotations

import csv
import io
import itertools
import multiprocessing
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from callback.ledger.headers import HeaderMap, find_header_row
from callback.ledger.reader import CsvRows, UnreadableFile, data_records, open_rows, picker, records
from callback.ledger.records import (
    CaseRow,
    CopyFields,
    Rejected,
    build_case_row,
    build_copy_fields,
    copy_fields,
    present_fields,
)

PARALLEL_MIN_BYTES = 8 * 1024 * 1024
RAW_CHUNK_ROWS = 5000
IN_FLIGHT_PER_WORKER = 4  # tasks queued per worker: enough to keep it busy while the writer waits on the database,
# little enough to keep memory flat
BLOCK_BYTES = 512 * 1024  # a CSV block, a few thousand rows
MAX_BLOCK_BYTES = 16 * 1024 * 1024  # a quote that never closes: cut anyway, and let the csv module report it


class CopyPart(NamedTuple):
    """Valid rows of a chunk that carry the same ledger fields, rendered for PostgreSQL COPY on the worker's core,
    so that the process writing to the database only looks up three ids a row. Lists are parallel, one entry per
    row; equal names are one object, so a chunk pickles small."""

    present: frozenset[str]  # the fields these rows carried
    case_nos: list[str]  # distinct: the last row of each case number in the chunk
    windows: list[str]
    staff: list[str | None]
    phones: list[str | None]
    tails: list[str]  # the rest of each row as COPY text (records.COPY_TAIL_COLUMNS)
    kinds: dict[str, str]  # phone → mobile | landline | invalid, for the contacts the rows need
    window_names: frozenset[str]
    staff_names: frozenset[str]


class ValidatedChunk(NamedTuple):
    """One chunk of records, validated: as CaseRow objects (`rows`, for writers without COPY) or as COPY parts
    (`parts`, PostgreSQL), which keeps what crosses the process boundary to a few strings and bytes a chunk."""

    count: int  # records seen
    rejected: list[tuple[int, str]]  # (row number, reason)
    rows: list[CaseRow] | None  # every valid row in file order, or None when COPY parts were asked for
    parts: list[CopyPart]  # empty unless COPY parts were asked for
    superseded: int  # valid rows left out of `parts` for a later row of the chunk with the same case number


class _Settings(NamedTuple):
    """What a worker needs to turn raw rows (or CSV bytes) into validated chunks."""

    header: HeaderMap
    text_only: bool
    for_copy: bool
    encoding: str = ""  # CSV blocks: how to decode them
    delimiter: str = ","


class _Block(NamedTuple):
    """A stretch of a CSV file that starts and ends on a record boundary, read as bytes by the main process."""

    data: bytes
    first_line: int  # the physical line it starts on (1-based), for error messages


class _BlockResult(NamedTuple):
    chunk: ValidatedChunk  # row numbers counted from the block's start (1 = its first record)
    records: int  # records in the block, blank ones included


_worker: tuple[_Settings, Any, frozenset[str]] | None = None  # a worker's settings, picker and the fields present


def _init_worker(settings: _Settings) -> None:
    global _worker
    _worker = settings, picker(settings.header, settings.text_only), present_fields(settings.header.columns)


def _validate_raw(chunk: list[tuple[int, list[Any]]]) -> ValidatedChunk:
    assert _worker is not None
    settings, pick, present = _worker
    return validate_records(data_records(settings.header, pick, chunk), for_copy=settings.for_copy, present=present)


def _validate_block(block: _Block) -> _BlockResult:
    """Decode and parse a CSV block on the worker's core (the main process only reads bytes), then validate it."""
    assert _worker is not None
    settings, pick, present = _worker
    try:
        text = block.data.decode(settings.encoding)
    except UnicodeDecodeError as err:
        raise _unreadable(block.first_line + block.data.count(b"\n", 0, err.start), settings.encoding, err) from err
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=settings.delimiter)
    counted: list[int] = []
    try:
        chunk = validate_records(data_records(settings.header, pick, _numbered(reader, counted)),
                                 for_copy=settings.for_copy, present=present)
    except csv.Error as err:
        # line_num counts the line the csv module was reading when it failed
        raise _unreadable(block.first_line + reader.line_num - 1, settings.encoding, err) from err
    return _BlockResult(chunk, counted[0])


def _numbered(rows: Iterable[list[Any]], counted: list[int]) -> Iterator[tuple[int, list[Any]]]:
    """Rows numbered from 1; once they are exhausted, `counted` holds how many there were."""
    numbers = itertools.count(1)
    yield from zip(numbers, rows, strict=False)  # endless numbers
    counted.append(next(numbers) - 2)  # zip drew one number more before it found the rows exhausted


def _unreadable(line: int, encoding: str, err: Exception) -> UnreadableFile:
    return UnreadableFile(f"第 {line} 行附近无法读取（编码 {encoding}）：{err}",
                          f"cannot read near line {line} (encoding {encoding}): {err}")


def validate_records(rows: Iterable[tuple[int, Any]], *, for_copy: bool = False,
                     present: frozenset[str] | None = None) -> ValidatedChunk:
    """Validate numbered {field: value} records into CaseRows, or (`for_copy`) into COPY parts.

    `present`: the ledger fields every record carries, when the caller knows (a file: its header's), which lets
    COPY parts be built in one pass."""
    if for_copy and present is not None:
        return _validate_uniform(rows, present)
    build = build_copy_fields if for_copy else build_case_row
    good: list[Any] = []  # CaseRow, or CopyFields for_copy
    rejected: list[tuple[int, str]] = []
    count = 0
    for number, record in rows:
        count += 1
        try:
            good.append(build(record))
        except Rejected as exc:
            rejected.append((number, str(exc)))
    if not for_copy:
        return ValidatedChunk(count, rejected, good, [], 0)
    parts = _copy_parts(good)
    return ValidatedChunk(count, rejected, None, parts, len(good) - sum(len(part.case_nos) for part in parts))


def _validate_uniform(rows: Iterable[tuple[int, Any]], present: frozenset[str]) -> ValidatedChunk:
    """validate_records for COPY when every record carries the same fields: the part's lists are filled as the
    records go by (a later row of a case replaces the earlier one in its place, as a dict would keep it)."""
    case_nos: list[str] = []
    windows: list[str] = []
    staff: list[str | None] = []
    phones: list[str | None] = []
    kinds: list[str] = []
    tails: list[str] = []
    position: dict[str, int] = {}
    names: dict[str, str] = {}  # one object per window or staff name: a chunk pickles small
    rejected: list[tuple[int, str]] = []
    count = superseded = 0
    for number, record in rows:
        count += 1
        try:
            case_no, window, member, phone, kind, tail = copy_fields(record)
        except Rejected as exc:
            rejected.append((number, str(exc)))
            continue
        window = names.setdefault(window, window)
        member = names.setdefault(member, member) if member else None
        at = position.get(case_no)
        if at is None:
            position[case_no] = len(case_nos)
            case_nos.append(case_no)
            windows.append(window)
            staff.append(member)
            phones.append(phone)
            kinds.append(kind)
            tails.append(tail)
        else:
            superseded += 1
            windows[at], staff[at], phones[at], kinds[at], tails[at] = window, member, phone, kind, tail
    if not case_nos:
        return ValidatedChunk(count, rejected, None, [], superseded)
    phone_kinds = dict(zip(phones, kinds, strict=True))
    phone_kinds.pop(None, None)  # type: ignore[call-overload]
    part = CopyPart(present, case_nos, windows, staff, phones, tails, phone_kinds,  # type: ignore[arg-type]
                    frozenset(windows), frozenset(staff) - {None})  # type: ignore[arg-type]
    return ValidatedChunk(count, rejected, None, [part], superseded)


def _copy_parts(rows: list[CopyFields]) -> list[CopyPart]:
    """The last row of each case number, grouped by the fields the rows carry."""
    if not rows:
        return []
    last = {row.case_no: row for row in rows}  # a later row of the same case replaces the earlier
    groups: dict[frozenset[str], list[CopyFields]] = {}
    for row in last.values():
        groups.setdefault(row.present, []).append(row)
    return [_copy_part(present, group) for present, group in groups.items()]


def _copy_part(present: frozenset[str], rows: list[CopyFields]) -> CopyPart:
    windows = [row.window for row in rows]
    staff = [row.staff for row in rows]
    kinds = {row.phone: row.kind for row in rows if row.phone is not None}
    return CopyPart(present, [row.case_no for row in rows], windows, staff, [row.phone for row in rows],
                    [row.tail for row in rows], kinds, frozenset(windows), frozenset(s for s in staff if s))


def validated_chunks(path: Path, sheet: str | None = None, workers: int | None = None, *,
                     for_copy: bool = False) -> Iterator[ValidatedChunk]:
    """Validated chunks of a ledger file, in file order. Raises UnreadableFile / MissingColumns before yielding.

    `for_copy=True` gives COPY parts instead of CaseRow objects (see ValidatedChunk)."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers < 2 or path.stat().st_size < PARALLEL_MIN_BYTES:
        header, rows = records(path, sheet)
        present = present_fields(header.columns)
        return (validate_records(chunk, for_copy=for_copy, present=present) for chunk in _chunks(rows, RAW_CHUNK_ROWS))
    return _parallel(path, sheet, workers, for_copy)


def _parallel(path: Path, sheet: str | None, workers: int, for_copy: bool) -> Iterator[ValidatedChunk]:
    source = open_rows(path, sheet)
    try:
        rows = source.pairs()
        scanned = list(itertools.islice(rows, 10))
        index, header = find_header_row((values for _, values in scanned), 10)
    except BaseException:
        source.close()
        raise
    if isinstance(source, CsvRows) and _splittable(path, source.encoding):
        source.close()
        settings = _Settings(header, True, for_copy, source.encoding, source.delimiter)
        offset, line = _after_records(path, settings, index + 1)
        return _run_pool(settings, _csv_blocks(path, offset, line + 1, settings), workers,
                         first_number=index + 2)
    data = itertools.chain(scanned[index + 1 :], rows)
    return _run_pool(_Settings(header, source.text_only, for_copy), _chunks(data, RAW_CHUNK_ROWS), workers,
                     closing=source)


def _splittable(path: Path, encoding: str) -> bool:
    """Whether the file can be cut into blocks at b"\\n" bytes: in UTF-8 and GB18030 that byte is always a line
    feed (never part of a multi-byte character); UTF-16 is not, and a file that ends lines with a bare CR (old Mac)
    has none to cut at."""
    if encoding not in ("utf-8-sig", "gb18030"):
        return False
    with path.open("rb") as f:
        head = f.read(BLOCK_BYTES)
    return head.count(b"\r") == head.count(b"\r\n")


def _after_records(path: Path, settings: _Settings, count: int) -> tuple[int, int]:
    """(byte offset, physical lines) just past the first `count` CSV records: where the data below the header
    starts. The csv module takes lines one at a time, so the lines it took are exactly those records'."""
    taken = [0, 0]

    def lines() -> Iterator[str]:
        with path.open("rb") as f:
            for raw in f:
                taken[0] += len(raw)
                taken[1] += 1
                yield raw.decode(settings.encoding)

    reader = csv.reader(lines(), delimiter=settings.delimiter)
    for _ in range(count):
        next(reader)
    return taken[0], taken[1]


def _csv_blocks(path: Path, offset: int, first_line: int, settings: _Settings) -> Iterator[_Block]:
    """The file from `offset` in blocks of about BLOCK_BYTES, each ending where a record ends (_record_end)."""
    with path.open("rb") as f:
        f.seek(offset)
        carry = b""
        while data := f.read(BLOCK_BYTES):
            carry += data
            end = _record_end(carry, settings)
            if end == 0 and len(carry) >= MAX_BLOCK_BYTES:  # a quote that never closes: the csv module reports it
                end = carry.rfind(b"\n") + 1
            if end == 0:
                continue
            block, carry = carry[:end], carry[end:]
            yield _Block(block, first_line)
            first_line += block.count(b"\n")
        if carry:
            yield _Block(carry, first_line)


def _record_end(data: bytes, settings: _Settings) -> int:
    """The offset just past the last line feed of `data` (which starts on a record) that ends a record; 0 if none.

    Without a quote byte every line feed ends a record. With quotes, the csv module reads the lines as the serial
    path would: a quote only opens a quoted cell at the start of a cell (inside an unquoted cell it is a plain
    character), so counting quotes cannot tell. A record the reader gives only after the last line ran out is
    cut short, inside a quoted cell that goes on in the next read."""
    last = data.rfind(b"\n") + 1
    if last == 0 or data.find(b'"', 0, last) == -1:
        return last
    taken, ran_out = 0, False

    def lines() -> Iterator[str]:
        nonlocal taken, ran_out
        while taken < last:
            start, taken = taken, data.index(b"\n", taken) + 1
            yield data[start:taken].decode(settings.encoding, errors="replace")  # the worker reports bad bytes
        ran_out = True

    end = 0
    try:
        for _ in csv.reader(lines(), delimiter=settings.delimiter):
            if not ran_out:
                end = taken
    except csv.Error:  # the worker parses the same bytes and reports it with its line
        return last
    return end


def _run_pool(settings: _Settings, tasks: Iterator[Any], workers: int, *, first_number: int = 0,
              closing: Any = None) -> Iterator[ValidatedChunk]:
    """Results in file order. A feeder thread reads and submits tasks (raw row chunks, or CSV blocks), a bounded
    number ahead, so that reading the file, validating (workers) and writing (the caller, waiting on the database)
    all overlap.

    Spawned workers take seconds to start (they import the application); until the first one is ready, the
    feeder hands tasks to this process, which validates them itself. Block results number their rows from the
    block's start; `first_number` is the row number of the first record below the header."""
    context = multiprocessing.get_context("spawn")  # never fork a process holding database connections
    queued: queue.Queue[Future[Any] | tuple[Any, ...] | BaseException | None] = queue.Queue(
        workers * IN_FLIGHT_PER_WORKER)
    stop = threading.Event()
    number = first_number - 1  # records before the next block
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(settings,)) as pool:
            ready = pool.submit(_ready)  # starts the workers
            feeder = threading.Thread(target=_feed, args=(pool, ready, tasks, queued, stop), daemon=True)
            feeder.start()
            try:
                while (item := queued.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    if isinstance(item, Future):
                        result = item.result()
                    else:  # validated here while no worker was up yet
                        if _worker is None or _worker[0] is not settings:
                            _init_worker(settings)
                        result = _validate_block(item) if isinstance(item, _Block) else _validate_raw(item)
                    if isinstance(result, _BlockResult):
                        chunk = result.chunk._replace(rejected=[(number + row, why) for row, why in result.chunk.rejected])
                        number += result.records
                        result = chunk
                    yield result
            finally:  # done, or the caller gave up (an error while writing): stop reading, drop queued work
                stop.set()
                _cancel_queued(queued)
                feeder.join()
                _cancel_queued(queued)
    finally:
        if closing is not None:
            closing.close()


def _ready() -> None:
    """A no-op task: done once a worker has started."""


def _feed(pool: ProcessPoolExecutor, ready: Future[None], tasks: Iterator[Any], queued: queue.Queue[Any],
          stop: threading.Event) -> None:
    task_of = _validate_block
    try:
        for task in tasks:
            if stop.is_set():
                return
            if not isinstance(task, _Block):
                task_of = _validate_raw
            # blocks while enough tasks are queued; tasks go to the consumer while no worker is up yet
            queued.put(pool.submit(task_of, task) if ready.done() else task)
    except BaseException as exc:  # noqa: BLE001 — e.g. UnreadableFile half-way through: re-raised by the consumer
        queued.put(exc)
    finally:
        queued.put(None)


def _cancel_queued(queued: queue.Queue[Any]) -> None:
    while True:
        try:
            item = queued.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, Future):
            item.cancel()


def _chunks(rows: Any, size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
