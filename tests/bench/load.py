"""The load process: a raw-asyncio HTTP/1.1 client that costs little CPU, driven by a JSON plan.

`python -m tests.bench.load` reads one JSON plan per line on stdin and answers each with one JSON line on stdout.
It is its own process (on uvloop when installed), so the server's CPU and the client's are measured apart, and
it lives for the whole bench run, so no plan pays for an interpreter's start. Kinds of plan:

- `burst`: `count` calls at once (or `concurrency` at a time), each on a fresh connection (the LLM burst);
- `closed`: one keep-alive connection per target, each sending its next request when the last is answered,
  for `duration` seconds after `warmup` (or until `count` requests in all);
- `paced`: open loop, one keep-alive connection per target, each sending every `period` seconds at its own
  phase; latency counts from the scheduled time, so a late answer is charged to every request behind it;
- `sequential`: `count` requests, one after the other, on one keep-alive connection.

A body or path may hold `{i}` (the call's number) and `{n}` (the target's request counter), so every call
can carry a distinct prompt.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """One client: where it sends and with which headers, cycling through `bodies`."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Plan:
    kind: str
    host: str
    port: int
    method: str
    targets: list[Target]
    bodies: list[str]
    count: int = 0
    duration: float = 0.0
    warmup: float = 0.0
    period: float = 1.0
    timeout: float = 120.0
    concurrency: int = 0

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Plan:
        targets = [Target(**t) for t in raw.pop("targets")]
        return cls(targets=targets, **raw)


class Recorder:
    """Latencies (ms) of answered requests, and counts by status or error."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.outcomes: Counter[str] = Counter()
        self.recording = True

    def add(self, outcome: str, seconds: float) -> None:
        if not self.recording:
            return
        self.outcomes[outcome] += 1
        if outcome == "200":
            self.latencies.append(seconds * 1000.0)


class Connection:
    """One HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.plan.host, self.plan.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, raw: bytes) -> str:
        """Send one request, read its whole answer; the status as text."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head[9:12].decode()
        lowered = head.lower()
        if b"transfer-encoding: chunked" in lowered:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            start = lowered.find(b"content-length:")
            if start >= 0:
                length = int(lowered[start + 15 : lowered.index(b"\r\n", start)])
                await self.reader.readexactly(length)
        if b"connection: close" in lowered:
            self.close()
        return status


def request_bytes(plan: Plan, target: Target, body: str | None) -> bytes:
    lines = [f"{plan.method} {target.path} HTTP/1.1", f"Host: {plan.host}:{plan.port}"]
    lines += [f"{name}: {value}" for name, value in target.headers.items()]
    payload = b""
    if body is not None:
        payload = body.encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def filled(text: str, i: int, n: int) -> str:
    return text.replace("{i}", str(i)).replace("{n}", str(n))


def build(plan: Plan, target: Target, i: int, n: int) -> bytes:
    body = filled(plan.bodies[n % len(plan.bodies)], i, n) if plan.bodies else None
    return request_bytes(plan, Target(filled(target.path, i, n), target.headers), body)


async def timed(connection: Connection, raw: bytes, limit: float) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        status = await asyncio.wait_for(connection.send(raw), limit)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        connection.close()
        status = f"error:{type(exc).__name__}"
    return status, time.perf_counter() - started


async def run_burst(plan: Plan, recorder: Recorder) -> None:
    gate = asyncio.Semaphore(plan.concurrency or plan.count or 1)

    async def one(i: int) -> None:
        async with gate:
            connection = Connection(plan)
            started = time.perf_counter()
            try:
                await connection.open()
            except OSError as exc:
                recorder.add(f"error:{type(exc).__name__}", time.perf_counter() - started)
                return
            target = plan.targets[i % len(plan.targets)]
            status, _ = await timed(connection, build(plan, target, i, i), plan.timeout)
            connection.close()
            recorder.add(status, time.perf_counter() - started)

    await asyncio.gather(*(one(i) for i in range(plan.count)))


async def open_all(plan: Plan) -> list[Connection]:
    connections = [Connection(plan) for _ in plan.targets]
    gate = asyncio.Semaphore(200)  # opening thousands at once only fills the backlog

    async def opened(connection: Connection) -> None:
        async with gate:
            await connection.open()

    await asyncio.gather(*(opened(c) for c in connections))
    return connections


async def run_closed(plan: Plan, recorder: Recorder) -> None:
    connections = await open_all(plan)
    sent = 0
    limit = plan.count or None
    recorder.recording = plan.warmup <= 0
    stop_at = time.perf_counter() + plan.warmup + (plan.duration or 1e9)

    async def client(index: int) -> None:
        nonlocal sent
        target, connection, n = plan.targets[index], connections[index], 0
        while time.perf_counter() < stop_at and (limit is None or sent < limit):
            sent += 1
            status, seconds = await timed(connection, build(plan, target, index, n), plan.timeout)
            recorder.add(status, seconds)
            n += 1

    async def end_warmup() -> None:
        await asyncio.sleep(plan.warmup)
        recorder.recording = True

    warm = asyncio.ensure_future(end_warmup()) if plan.warmup > 0 else None
    await asyncio.gather(*(client(i) for i in range(len(connections))))
    if warm is not None:
        warm.cancel()
    for connection in connections:
        connection.close()


async def run_paced(plan: Plan, recorder: Recorder) -> None:
    connections = await open_all(plan)
    players = len(connections)
    origin = time.perf_counter() + 0.2
    end = origin + plan.warmup + plan.duration

    async def player(index: int) -> None:
        target, connection = plan.targets[index], connections[index]
        phase = plan.period * index / players
        n = 0
        while True:
            scheduled = origin + phase + n * plan.period
            if scheduled >= end:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status, _ = await timed(connection, build(plan, target, index, n), plan.timeout)
            if scheduled >= origin + plan.warmup:
                recorder.add(status, time.perf_counter() - scheduled)
            n += 1

    await asyncio.gather(*(player(i) for i in range(players)))
    for connection in connections:
        connection.close()


async def run_sequential(plan: Plan, recorder: Recorder) -> None:
    connection = Connection(plan)
    target = plan.targets[0]
    for n in range(plan.count):
        status, seconds = await timed(connection, build(plan, target, 0, n), plan.timeout)
        recorder.add(status, seconds)
    connection.close()


RUNNERS = {"burst": run_burst, "closed": run_closed, "paced": run_paced, "sequential": run_sequential}


async def run(plan: Plan) -> dict[str, Any]:
    recorder = Recorder()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await RUNNERS[plan.kind](plan, recorder)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_seconds": wall,
        "outcomes": dict(recorder.outcomes),
        "latencies_ms": recorder.latencies,
        "client_cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
    }


async def serve_plans() -> None:
    """One plan per line on stdin, one result per line on stdout, until stdin closes."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        result = await run(Plan.from_json(json.loads(line)))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 65536:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY else hard, hard))
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a Linux dependency of the project
        asyncio.run(serve_plans())
    else:
        uvloop.run(serve_plans())
    return 0


if __name__ == "__main__":
    sys.exit(main())
