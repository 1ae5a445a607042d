"""Validate a large ledger on every core: the main process reads raw rows (the csv module is fast), worker
processes turn them into CaseRows, and the main process writes them in order. Small files skip the pool."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from callback.ledger.headers import HeaderMap, find_header_row
from callback.ledger.reader import _picker, _repeats_header, open_rows, records
from callback.ledger.records import CaseRow, Rejected, build_case_row, copy_line

PARALLEL_MIN_BYTES = 8 * 1024 * 1024
RAW_CHUNK_ROWS = 5000

ValidatedChunk = tuple[int, list[CaseRow], list[tuple[int, str]], list[str]]
"""(records seen, valid rows, [(row number, reason)], the valid rows as PostgreSQL COPY text lines)"""

_worker_header: HeaderMap | None = None
_worker_pick: Any = None


def _init_worker(header: HeaderMap) -> None:
    global _worker_header, _worker_pick
    _worker_header, _worker_pick = header, _picker(header)


def _validate_raw(chunk: list[tuple[int, list[Any]]]) -> ValidatedChunk:
    assert _worker_header is not None
    return validate_records((n, _worker_pick(v)) for n, v in chunk
                            if any(x != "" for x in v) and not _repeats_header(v, _worker_header))


def validate_records(rows: Any) -> ValidatedChunk:
    """Validate numbered {field: value} records. COPY lines are rendered here, on the worker's core."""
    good: list[CaseRow] = []
    rejected: list[tuple[int, str]] = []
    count = 0
    for number, record in rows:
        count += 1
        try:
            good.append(build_case_row(record))
        except Rejected as exc:
            rejected.append((number, str(exc)))
    return count, good, rejected, [copy_line(row) for row in good]


def validated_chunks(path: Path, sheet: str | None = None, workers: int | None = None) -> Iterator[ValidatedChunk]:
    """Validated chunks of a ledger file, in file order. Raises UnreadableFile / MissingColumns before yielding."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers < 2 or path.stat().st_size < PARALLEL_MIN_BYTES:
        _header, rows = records(path, sheet)
        return (validate_records(chunk) for chunk in _chunks(rows, RAW_CHUNK_ROWS))
    return _parallel(path, sheet, workers)


def _parallel(path: Path, sheet: str | None, workers: int) -> Iterator[ValidatedChunk]:
    source = open_rows(path, sheet)
    rows = source.pairs()
    scanned = list(itertools.islice(rows, 10))
    index, header = find_header_row((values for _, values in scanned), 10)
    data = itertools.chain(scanned[index + 1 :], rows)
    return _run_pool(source, header, data, workers)


def _run_pool(source: Any, header: HeaderMap, data: Iterator[Any], workers: int) -> Iterator[ValidatedChunk]:
    context = multiprocessing.get_context("spawn")  # never fork a process holding database connections
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(header,)) as pool:
            # map() keeps file order; it submits ahead, so bound the window to keep memory flat
            for window in _chunks(_chunks(data, RAW_CHUNK_ROWS), workers * 2):
                yield from pool.map(_validate_raw, window)
    finally:
        source.close()


def _chunks(rows: Any, size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
