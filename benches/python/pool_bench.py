"""Process pools from Python: trivial tasks through an omnitron Pool of 2 Python worker processes,
next to multiprocessing.Pool(2) and concurrent.futures.ProcessPoolExecutor(2), in one run; then
spawn-to-ready time of a Python, a C and a Rust child. Pool.map is timed for a `def` method (as
multiprocessing's function is) and an `async def` one, median of 5 maps each; the ratio of a map
is against multiprocessing.Pool.map, of exec x N against apply_async and submit.

Run by `make -C benches python` (the C and Rust workers are used if built: target/ctest/c_worker,
target/<host>/release|debug/calc-worker)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import multiprocessing
import os
import statistics
import sys
import time

from omnitron import Pool
from pool_service import Bench, noop

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BULK = 20_000
ONE = 2_000


def row(what: str, lib: str, per_s: float, p50_us: float | None, ours: float | None) -> None:
    ratio = "" if ours is None else f"{ours / per_s:.2f}x"
    p50 = "" if p50_us is None else f"{p50_us:9.1f}"
    print(f"{what:<30}{lib:<28}{per_s:>12,.0f}{p50:>12}   {ratio}")


def sequential(f: object, n: int) -> tuple[float, float]:
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        f(i)  # type: ignore[operator]
        lat.append((time.perf_counter() - t) * 1e6)
    return n / (time.perf_counter() - t0), statistics.median(lat)


async def ours() -> dict[str, tuple[float, float | None]]:
    pool = await Pool.start(
        [sys.executable, "-m", "omnitron.worker", "pool_service:Bench"], name="bench", size=2, cwd=HERE, queue_limit=1_000_000
    )
    out: dict[str, tuple[float, float | None]] = {}
    try:
        for _ in range(500):
            await pool.exec("noop", 1)
        lat = []
        t0 = time.perf_counter()
        for i in range(ONE):
            t = time.perf_counter()
            await pool.exec("noop", i)
            lat.append((time.perf_counter() - t) * 1e6)
        out["one"] = (ONE / (time.perf_counter() - t0), statistics.median(lat))
        items = list(range(BULK))
        for key, method in (("map", "noop"), ("map def", "noop_sync")):
            await pool.map(items, method)
            rates = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = await pool.map(items, method)
                rates.append(BULK / (time.perf_counter() - t0))
                assert r == items
            out[key] = (statistics.median(rates), None)
        t0 = time.perf_counter()
        await asyncio.gather(*(pool.exec("noop", i) for i in range(BULK)))
        out["exec"] = (BULK / (time.perf_counter() - t0), None)
    finally:
        await pool.close()
    return out


def peers() -> dict[str, tuple[float, float | None]]:
    out: dict[str, tuple[float, float | None]] = {}
    with multiprocessing.Pool(2) as p:
        p.map(noop, range(1000))
        out["mp one"] = sequential(lambda i: p.apply(noop, (i,)), ONE)
        t0 = time.perf_counter()
        rs = [p.apply_async(noop, (i,)) for i in range(BULK)]
        for r in rs:
            r.get()
        out["mp apply_async"] = (BULK / (time.perf_counter() - t0), None)
        p.map(noop, range(BULK))
        rates = []
        for _ in range(5):
            t0 = time.perf_counter()
            p.map(noop, range(BULK))
            rates.append(BULK / (time.perf_counter() - t0))
        out["mp map"] = (statistics.median(rates), None)
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        list(ex.map(noop, range(1000)))
        out["ppe one"] = sequential(lambda i: ex.submit(noop, i).result(), ONE)
        t0 = time.perf_counter()
        fs = [ex.submit(noop, i) for i in range(BULK)]
        for f in fs:
            f.result()
        out["ppe submit"] = (BULK / (time.perf_counter() - t0), None)
    return out


async def spawn_to_ready(command: list[str], cwd: str) -> float:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        pool = await Pool.start(command, name="spawn", size=1, cwd=cwd)
        times.append((time.perf_counter() - t0) * 1000)
        await pool.close()
    return statistics.median(times)


def first(pattern: str) -> str | None:
    found = sorted(glob.glob(os.path.join(ROOT, pattern)))
    return found[0] if found else None


async def main() -> None:
    mine = await ours()
    theirs = peers()
    print("\nProcess pool, 2 workers, trivial tasks (tasks/s; p50 in us with one in flight; ratio = omnitron / peer)")
    print(f"{'case':<30}{'library':<28}{'tasks/s':>12}{'p50 us':>12}   omnitron vs peer")
    one, p50 = mine["one"]
    row("one in flight", "omnitron Pool.exec", one, p50, None)
    row("one in flight", "multiprocessing.Pool.apply", *theirs["mp one"], one)
    row("one in flight", "ProcessPoolExecutor", *theirs["ppe one"], one)
    m, _ = mine["map"]
    md, _ = mine["map def"]
    e, _ = mine["exec"]
    row(f"bulk ({BULK:,})", "omnitron Pool.map (def)", md, None, None)
    row(f"bulk ({BULK:,})", "omnitron Pool.map (async)", m, None, None)
    row(f"bulk ({BULK:,})", "omnitron Pool.exec x N", e, None, None)
    row(f"bulk ({BULK:,})", "multiprocessing.Pool.map", theirs["mp map"][0], None, md)
    for k, label in (("mp apply_async", "multiprocessing apply_async"), ("ppe submit", "ProcessPoolExecutor.submit")):
        row(f"bulk ({BULK:,})", label, theirs[k][0], None, e)
    print("\nSpawn to ready (ms, median of 5; through Pool.start with size 1)")
    py = await spawn_to_ready([sys.executable, "-m", "omnitron.worker", "pool_service:Bench"], HERE)
    print(f"  Python worker   {py:8.1f}")
    c = first("target/ctest/c_worker")
    if c:
        print(f"  C worker        {await spawn_to_ready([c], HERE):8.1f}")
    rust = first("target/*/release/calc-worker") or first("target/*/debug/calc-worker")
    if rust:
        print(f"  Rust worker     {await spawn_to_ready([rust], HERE):8.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
