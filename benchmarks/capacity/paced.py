"""An open-loop HTTP load generator at a constant offered rate (wrk2's model, in asyncio).

Request i is due at ``start + i / rate`` whether or not earlier ones have been answered, and its latency is measured
from that due time, not from when a connection was free to send it — so a stall shows in the percentiles instead
of quietly lowering the rate (no "coordinated omission"). Connections are kept alive and reused; one idle for
longer than the server's keep-alive is not reused, and a reused connection that the server had closed before
reading the request (a worker recycled after max_requests) is retried once on a new connection and counted.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

TIMEOUT_SECONDS = 10.0
MAX_IDLE_SECONDS = 2.0  # gunicorn_conf keepalive is 5 s
MAX_CONNECTIONS = 128


@dataclass(frozen=True)
class Request:
    path: str
    body: str
    signature: str

    def encode(self, port: int) -> bytes:
        body = self.body.encode()
        head = (f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {self.signature}\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode("latin-1") + body


@dataclass
class LoadResult:
    offered_rate: float
    latencies: list[float] = field(default_factory=list)  # seconds from each request's due time to its answer
    errors: int = 0  # non-200 answers, failed connections, timeouts
    retried: int = 0
    late_sends: int = 0  # requests sent more than 10 ms after they were due (the generator fell behind)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile ``q`` (0–100) of the latencies, in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000


class _Pool:
    def __init__(self, port: int) -> None:
        self.port, self.idle = port, []  # (reader, writer, idle since)
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        now = asyncio.get_running_loop().time()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < MAX_IDLE_SECONDS:
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return reader, writer, False

    def give_back(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.idle.append((reader, writer, asyncio.get_running_loop().time()))

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) of one HTTP/1.1 response, its body read and dropped."""
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split()[1])
    length, keep = 0, True
    while (header := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = header.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            keep = False
    await reader.readexactly(length)
    return status, keep


async def _exchange(pool: _Pool, payload: bytes, result: LoadResult) -> bool:
    """Send one request and read its answer; True for a 200."""
    for attempt in (1, 2):
        reader, writer, reused = await pool.take()
        try:
            writer.write(payload)
            status, keep = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            writer.close()
            stale = reused and isinstance(exc, asyncio.IncompleteReadError) and not exc.partial
            if stale and attempt == 1:
                result.retried += 1
                continue
            return False
        (pool.give_back(reader, writer) if keep else writer.close())
        return status == 200
    return False


async def _one(pool: _Pool, payload: bytes, due: float, result: LoadResult) -> None:
    loop = asyncio.get_running_loop()
    async with pool.slots:
        try:
            ok = await asyncio.wait_for(_exchange(pool, payload, result), TIMEOUT_SECONDS)
        except TimeoutError:
            ok = False
    result.latencies.append(loop.time() - due)
    result.errors += not ok


async def _run(port: int, requests: list[Request], rate: float) -> LoadResult:
    loop, pool, result = asyncio.get_running_loop(), _Pool(port), LoadResult(rate)
    payloads = [r.encode(port) for r in requests]
    start, tasks = loop.time() + 0.05, []
    for i, payload in enumerate(payloads):
        due = start + i / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            result.late_sends += 1
        tasks.append(asyncio.ensure_future(_one(pool, payload, due, result)))
    await asyncio.gather(*tasks)
    result.seconds = loop.time() - start
    pool.close()
    return result


def offer(port: int, requests: list[Request], rate: float) -> LoadResult:
    """Offer ``requests`` to 127.0.0.1:``port`` at ``rate`` a second, in order; wait for every answer."""
    return asyncio.run(_run(port, requests, rate))
