"""Workflow runs/s from Python: a four-stage saga (reserve -> pay -> ship -> notify, three
compensations, JSON values, stages as in-process coroutines) through the engine with an in-memory
journal and with a SQLite file, next to the same four steps as a plain coroutine chain, in one run.
64 runs in flight and 1 at a time; interleaved rounds, median kept."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from typing import Any, Awaitable, Callable

from omnitron import WorkflowEngine, define_workflow


async def reserve(o: dict[str, Any]) -> dict[str, Any]:
    return {"reservation": f"r-{o['id']}", "qty": o["qty"]}


async def pay(r: dict[str, Any]) -> dict[str, Any]:
    return {"payment": f"p-{r['reservation']}", "amount": r["qty"] * 10}


async def ship(p: dict[str, Any]) -> dict[str, Any]:
    return {"shipment": f"s-{p['payment']}"}


async def notify(s: dict[str, Any]) -> dict[str, Any]:
    return {"sent": s["shipment"]}


async def undo(_: Any) -> None:
    return None


async def plain(o: dict[str, Any]) -> dict[str, Any]:
    r = await reserve(o)
    p = await pay(r)
    s = await ship(p)
    return {"reserve": r, "pay": p, "ship": s, "notify": await notify(s)}


SAGA = (
    define_workflow("saga")
    .stage("reserve", reserve)
    .stage("pay", pay, depends_on="reserve")
    .stage("ship", ship, depends_on="pay")
    .stage("notify", notify, depends_on="ship")
    .compensate("reserve", undo)
    .compensate("pay", undo)
    .compensate("ship", undo)
    .build()
)


async def rate(in_flight: int, total: int, one: Callable[[int], Awaitable[Any]]) -> float:
    nxt = 0

    async def worker() -> None:
        nonlocal nxt
        while nxt < total:
            i = nxt
            nxt += 1
            await one(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return total / (time.perf_counter() - t0)


async def main() -> None:
    d = tempfile.mkdtemp(prefix="omni-wf-bench-")
    memory = WorkflowEngine.in_memory()
    file = await WorkflowEngine.open(os.path.join(d, "journal.db"))
    memory.register(SAGA)
    file.register(SAGA)

    def order(i: int) -> dict[str, Any]:
        return {"id": i, "sku": "book", "qty": 1 + i % 5}

    cases: list[tuple[str, Callable[[int], Awaitable[Any]], int]] = [
        ("plain coroutine chain", lambda i: plain(order(i)), 20_000),
        ("engine, in-memory journal", lambda i: memory.run("saga", order(i)), 2_000),
        ("engine, SQLite file", lambda i: file.run("saga", order(i)), 1_000),
    ]
    for _, f, n in cases:  # warm up
        await rate(64, min(n, 500), f)
    many: dict[str, list[float]] = {c[0]: [] for c in cases}
    one: dict[str, list[float]] = {c[0]: [] for c in cases}
    for _ in range(5):
        for name, f, n in cases:
            many[name].append(await rate(64, n, f))
            one[name].append(await rate(1, max(50, n // 10), f))
    base = statistics.median(many["plain coroutine chain"])
    print("\nWorkflows from Python: a four-stage saga, runs/s (median of 5 interleaved rounds)")
    print(f"{'case':<28}{'runs/s, 64 in flight':>22}{'vs plain':>10}{'runs/s, 1 in flight':>22}{'us/run, 1':>12}")
    for name, _, _ in cases:
        m, o = statistics.median(many[name]), statistics.median(one[name])
        print(f"{name:<28}{m:>22.0f}{base / m:>9.1f}x{o:>22.0f}{1e6 / o:>12.1f}")
    await memory.close()
    await file.close()
    shutil.rmtree(d, ignore_errors=True)


asyncio.run(main())
