"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the fixed-rate run and the
read benchmark (wrk measures throughput; it has no constant arrival rate). Standard library
only, so it costs little CPU next to the server on a 2-core machine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            self.writer = None
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, close = None, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and "close" in value.lower():
                close = True
        data = (
            await self.reader.readexactly(length)
            if length is not None
            else await self.reader.read()
        )
        if close or length is None:
            self.writer.close()
            self.writer = None
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)  # from the scheduled send time
    service_ms: list[float] = field(default_factory=list)  # from the actual send time
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0


async def _fixed_rate(
    host: str,
    port: int,
    make: Callable[[int], tuple[str, str, bytes]],
    rate: float,
    seconds: float,
    pool_size: int,
) -> Samples:
    samples = Samples()
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool_size):
        pool.put_nowait(Connection(host, port))
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        method, path, body = make(i)
        conn = await pool.get()
        sent = loop.time()
        try:
            status, _ = await conn.request(method, path, body)
            samples.statuses[status] = samples.statuses.get(status, 0) + 1
        except Exception:
            samples.errors += 1
            conn.close()
        finally:
            pool.put_nowait(conn)
        done = loop.time()
        samples.latencies_ms.append((done - scheduled) * 1000)
        samples.service_ms.append((done - sent) * 1000)

    await asyncio.gather(*(one(i) for i in range(total)))
    while not pool.empty():
        pool.get_nowait().close()
    return samples


def fixed_rate(
    host: str,
    port: int,
    make: Callable[[int], tuple[str, str, bytes]],
    rate: float,
    seconds: float,
    pool_size: int = 8,
) -> Samples:
    """Open loop: request i is due at start + i/rate whatever happened before, and its latency
    is counted from that due time (no coordinated omission)."""
    return asyncio.run(_fixed_rate(host, port, make, rate, seconds, pool_size))


async def _closed_loop(
    host: str,
    port: int,
    make: Callable[[int], tuple[str, str, bytes]],
    clients: int,
    seconds: float,
) -> tuple[Samples, float]:
    samples = Samples()
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        conn = Connection(host, port)
        while loop.time() < deadline:
            method, path, body = make(next(counter))
            t0 = loop.time()
            try:
                status, _ = await conn.request(method, path, body)
                samples.statuses[status] = samples.statuses.get(status, 0) + 1
            except Exception:
                samples.errors += 1
                conn.close()
            samples.latencies_ms.append((loop.time() - t0) * 1000)
        conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return samples, loop.time() - start


def closed_loop(
    host: str,
    port: int,
    make: Callable[[int], tuple[str, str, bytes]],
    clients: int,
    seconds: float,
) -> tuple[Samples, float]:
    """``clients`` connections, each sending its next request as soon as the last is answered,
    for ``seconds``; returns the samples and the elapsed time."""
    return asyncio.run(_closed_loop(host, port, make, clients, seconds))


async def _interleaved(
    host: str, port: int, paths: dict[str, str], count: int, warmup: int
) -> dict[str, Samples]:
    samples = {name: Samples() for name in paths}
    conn = Connection(host, port)
    for i in range(warmup + count):
        for name, path in paths.items():
            t0 = time.perf_counter()
            status, _ = await conn.request("GET", path)
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= warmup:
                one = samples[name]
                one.latencies_ms.append(elapsed)
                one.statuses[status] = one.statuses.get(status, 0) + 1
    conn.close()
    return samples


def interleaved(
    host: str, port: int, paths: dict[str, str], count: int, warmup: int = 20
) -> dict[str, Samples]:
    """``count`` GETs of every path, taken in turn on one keep-alive connection, so that
    whatever else the machine does touches every path alike."""
    return asyncio.run(_interleaved(host, port, paths, count, warmup))


def get_json(host: str, port: int, path: str) -> tuple[int, Any]:
    async def go() -> tuple[int, Any]:
        conn = Connection(host, port)
        status, data = await conn.request("GET", path)
        conn.close()
        try:
            return status, orjson.loads(data) if data else None
        except orjson.JSONDecodeError:
            return status, data

    return asyncio.run(go())
