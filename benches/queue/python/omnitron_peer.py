"""Omnitron's queues from Python (``omnitron.queue``'s Queue and Worker), as a user writes them:
``async def`` handlers on the default asyncio loop, defaults as shipped (3 attempts, completed jobs
kept an hour, a 30 s lease)::

    python omnitron_peer.py <case> --store <redis://...?prefix=...|sqlite:<file>> [--n N] [--concurrency C]
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Callable

from common import PICKUP_GAP, PICKUP_WARMUP, args, cpu_ms, done, percentiles, rate
from omnitron.queue import Job, Queue, Worker


def jobs(n: int) -> list[tuple[str, Any]]:
    return [("noop", {"i": i}) for i in range(n)]


async def add_bulk(queue: Queue[Any], n: int) -> dict[str, float]:
    all_jobs = jobs(n)
    t0 = time.monotonic_ns()
    await queue.add_many(all_jobs)
    return rate(n, t0)


async def add_one(queue: Queue[Any], n: int) -> dict[str, float]:
    t0 = time.monotonic_ns()
    for i in range(n):
        await queue.add("noop", {"i": i})
    return rate(n, t0)


async def process(queue: Queue[Any], n: int, concurrency: int) -> dict[str, float]:
    await queue.add_many(jobs(n))
    ran = 0
    all_ran = asyncio.Event()

    async def handle(job: Job[Any]) -> None:
        nonlocal ran
        ran += 1
        if ran == n:
            all_ran.set()

    t0 = time.monotonic_ns()
    Worker(queue, handle, concurrency=concurrency)
    await all_ran.wait()
    while (await queue.counts()).completed < n:
        await asyncio.sleep(0.0005)
    return rate(n, t0)


async def pickup(queue: Queue[Any], a: Any) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "pickup-worker", "--store", a.store, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    if (await child.stdout.readline()).strip() != b"ready":
        raise RuntimeError("the pickup worker did not start")
    await asyncio.sleep(0.3)
    samples: list[float] = []
    for i in range(a.n + PICKUP_WARMUP):
        await queue.add("stamp", {"t0": time.monotonic_ns()})
        ns = int(await child.stdout.readline())
        if i >= PICKUP_WARMUP:
            samples.append(ns / 1000)
        await asyncio.sleep(PICKUP_GAP)
    child.kill()
    return percentiles(samples)


async def pickup_worker(queue: Queue[Any]) -> None:
    out = sys.stdout

    async def handle(job: Job[Any]) -> None:
        out.write(f"{time.monotonic_ns() - job.data['t0']}\n")
        out.flush()

    Worker(queue, handle)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def lease(queue: Queue[Any], a: Any) -> dict[str, Any]:
    held = 0

    async def hold(job: Job[Any]) -> None:
        nonlocal held
        held += 1
        await asyncio.Event().wait()

    await asyncio.sleep(0.5)
    base = await cpu_per_second(a.seconds / 2)
    Worker(queue, hold, concurrency=a.concurrency, lease=3)
    await queue.add_many(jobs(a.concurrency))
    while held < a.concurrency:
        await asyncio.sleep(0.01)
    await asyncio.sleep(1)
    busy = await cpu_per_second(a.seconds)
    return {"cpu_ms_per_s": busy - base, "base_ms_per_s": base, "jobs": a.concurrency}


async def cpu_per_second(seconds: float) -> float:
    c0 = cpu_ms()
    await asyncio.sleep(seconds)
    return (cpu_ms() - c0) / seconds


async def main() -> None:
    a = args()
    queue = await Queue.open("bench", store=a.store)
    cases: dict[str, Callable[[], Any]] = {
        "add-bulk": lambda: add_bulk(queue, a.n),
        "add-one": lambda: add_one(queue, a.n),
        "process": lambda: process(queue, a.n, a.concurrency),
        "pickup": lambda: pickup(queue, a),
        "pickup-worker": lambda: pickup_worker(queue),
        "lease": lambda: lease(queue, a),
    }
    done(await cases[a.case]())


if __name__ == "__main__":
    asyncio.run(main())
