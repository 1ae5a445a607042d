"""Validate a large ledger on every core: the main process reads raw rows (the csv module is fast), worker
processes turn them into case rows and PostgreSQL COPY lines, and the main process writes them in order while
the workers validate the next chunks. Small files skip the pool."""

from __future__ import annotations

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
from callback.ledger.reader import data_records, open_rows, picker, records
from callback.ledger.records import CaseRow, Rejected, build_case_row_and_line

PARALLEL_MIN_BYTES = 8 * 1024 * 1024
RAW_CHUNK_ROWS = 5000
IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: enough to keep it busy, little enough to keep memory flat


class CopyPart(NamedTuple):
    """Valid rows of a chunk that carry the same ledger fields, rendered for PostgreSQL COPY on the worker's core,
    so that the process writing to the database only passes bytes on."""

    present: frozenset[str]  # the fields these rows carried
    case_nos: list[str]  # distinct: the last row of each case number in the chunk
    payload: bytes  # their COPY text lines (see records.build_case_row_and_line), UTF-8
    windows: frozenset[str]  # the window names they use
    staff: frozenset[str]  # the staff names they use


class ValidatedChunk(NamedTuple):
    """One chunk of records, validated: as CaseRow objects (`rows`, for writers without COPY) or as COPY parts
    (`parts`, PostgreSQL), which keeps what crosses the process boundary to a few strings and bytes a chunk."""

    count: int  # records seen
    rejected: list[tuple[int, str]]  # (row number, reason)
    rows: list[CaseRow] | None  # every valid row in file order, or None when COPY parts were asked for
    parts: list[CopyPart]  # empty unless COPY parts were asked for
    superseded: int  # valid rows left out of `parts` for a later row of the chunk with the same case number


_worker_header: HeaderMap | None = None
_worker_pick: Any = None
_worker_for_copy = False


def _init_worker(header: HeaderMap, text_only: bool, for_copy: bool) -> None:
    global _worker_header, _worker_pick, _worker_for_copy
    _worker_header, _worker_pick, _worker_for_copy = header, picker(header, text_only), for_copy


def _validate_raw(chunk: list[tuple[int, list[Any]]]) -> ValidatedChunk:
    assert _worker_header is not None
    return validate_records(data_records(_worker_header, _worker_pick, chunk), for_copy=_worker_for_copy)


def validate_records(rows: Iterable[tuple[int, Any]], *, for_copy: bool = False) -> ValidatedChunk:
    """Validate numbered {field: value} records into CaseRows, or (`for_copy`) into COPY parts."""
    good: list[Any] = []  # CaseRow, or (CaseRow, COPY line) for_copy
    rejected: list[tuple[int, str]] = []
    count = 0
    for number, record in rows:
        count += 1
        try:
            row, line = build_case_row_and_line(record)
        except Rejected as exc:
            rejected.append((number, str(exc)))
            continue
        good.append((row, line) if for_copy else row)
    if not for_copy:
        return ValidatedChunk(count, rejected, good, [], 0)
    parts = _copy_parts(good)
    return ValidatedChunk(count, rejected, None, parts, len(good) - sum(len(part.case_nos) for part in parts))


def _copy_parts(rows: list[tuple[CaseRow, str]]) -> list[CopyPart]:
    """The last row of each case number, grouped by the fields the rows carry (a file's rows all carry the
    same: one part), each group's lines rendered as one payload."""
    if not rows:
        return []
    first = rows[0][0].present
    if all(row.present is first for row, _ in rows):
        return [_copy_part(first, rows)]
    last = {row.case_no: (row, line) for row, line in rows}  # a later row of the same case replaces the earlier
    groups: dict[frozenset[str], list[tuple[CaseRow, str]]] = {}
    for item in last.values():
        groups.setdefault(item[0].present, []).append(item)
    return [_copy_part(present, group) for present, group in groups.items()]


def _copy_part(present: frozenset[str], rows: list[tuple[CaseRow, str]]) -> CopyPart:
    last = {row.case_no: line for row, line in rows}  # a later row of the same case replaces the earlier
    if len(last) < len(rows):  # the names are those of the rows kept: the writer trusts them to exist
        rows = list({row.case_no: (row, line) for row, line in rows}.values())
    return CopyPart(present, list(last), "".join(last.values()).encode(), frozenset({row.window for row, _ in rows}),
                    frozenset({row.staff for row, _ in rows if row.staff}))


def validated_chunks(path: Path, sheet: str | None = None, workers: int | None = None, *,
                     for_copy: bool = False) -> Iterator[ValidatedChunk]:
    """Validated chunks of a ledger file, in file order. Raises UnreadableFile / MissingColumns before yielding.

    `for_copy=True` gives COPY parts instead of CaseRow objects (see ValidatedChunk)."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers < 2 or path.stat().st_size < PARALLEL_MIN_BYTES:
        _header, rows = records(path, sheet)
        return (validate_records(chunk, for_copy=for_copy) for chunk in _chunks(rows, RAW_CHUNK_ROWS))
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
    data = itertools.chain(scanned[index + 1 :], rows)
    return _run_pool(source, (header, source.text_only, for_copy), data, workers)


def _run_pool(source: Any, init: tuple[HeaderMap, bool, bool], data: Iterator[Any],
              workers: int) -> Iterator[ValidatedChunk]:
    """Results in file order. A feeder thread reads and submits raw chunks, a bounded number ahead, so that
    reading the file, validating (workers) and writing (the caller, waiting on the database) all overlap.

    Spawned workers take seconds to start (they import the application); until the first one is ready, the
    feeder hands raw chunks to this process, which validates them itself."""
    context = multiprocessing.get_context("spawn")  # never fork a process holding database connections
    queued: queue.Queue[Future[ValidatedChunk] | list[Any] | BaseException | None] = queue.Queue(
        workers * IN_FLIGHT_PER_WORKER)
    stop = threading.Event()
    header, text_only, for_copy = init
    pick = picker(header, text_only)
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=init) as pool:
            ready = pool.submit(_ready)  # starts the workers
            feeder = threading.Thread(target=_feed, args=(pool, ready, data, queued, stop), daemon=True)
            feeder.start()
            try:
                while (item := queued.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    if isinstance(item, list):
                        yield validate_records(data_records(header, pick, item), for_copy=for_copy)
                    else:
                        yield item.result()
            finally:  # done, or the caller gave up (an error while writing): stop reading, drop queued work
                stop.set()
                _cancel_queued(queued)
                feeder.join()
                _cancel_queued(queued)
    finally:
        source.close()


def _ready() -> None:
    """A no-op task: done once a worker has started."""


def _feed(pool: ProcessPoolExecutor, ready: Future[None], data: Iterator[Any], queued: queue.Queue[Any],
          stop: threading.Event) -> None:
    try:
        for chunk in _chunks(data, RAW_CHUNK_ROWS):
            if stop.is_set():
                return
            # blocks while enough chunks are queued; raw chunks go to the consumer while no worker is up yet
            queued.put(pool.submit(_validate_raw, chunk) if ready.done() else chunk)
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
