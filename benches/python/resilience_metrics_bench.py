"""Resilience and metrics through the omnitron package, side by side with pybreaker and
prometheus_client, in one run. The breaker figures are the cost a breaker adds to a trivial function
(the plain call's cost subtracted), as issue 3 asks."""

from __future__ import annotations

import asyncio
import sys
import time

import prometheus_client as pc
import pybreaker

import omnitron
from harness import Case, Result, report, run

# ---- circuit breakers around a trivial function ---------------------------------------------------
ours_registry = omnitron.Registry()


def plain(x: int) -> int:
    return x


@omnitron.circuit_breaker(threshold=5, timeout=30.0, registry=ours_registry)
def ours(x: int) -> int:
    return x


_pyb = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)


@_pyb
def theirs(x: int) -> int:
    return x


breaker_results = run(
    [
        Case("plain call", "none", lambda: plain(1)),
        Case("breaker (sync)", "omnitron", lambda: ours(1)),
        Case("breaker (sync)", "pybreaker", lambda: theirs(1)),
    ]
)
base = next(r for r in breaker_results if r.lib == "none").ns_per_op
added = [Result(r.case, r.lib, max(r.ns_per_op - base, 0.1)) for r in breaker_results if r.lib != "none"]
print(f"\nplain call: {base:.1f} ns (subtracted below)")
report("Circuit breaker: ns added per call (lower is better)", added, "omnitron")


# The async decorator, against a plain coroutine (pybreaker has no native asyncio support).
async def plain_async(x: int) -> int:
    return x


@omnitron.circuit_breaker(threshold=5, timeout=30.0, registry=ours_registry)
async def ours_async(x: int) -> int:
    return x


async def timed(f, n: int = 20_000, rounds: int = 9) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            await f(1)
        samples.append((time.perf_counter_ns() - t0) / n)
    samples.sort()
    return samples[len(samples) // 2]


async def async_case() -> None:
    await timed(plain_async, 2000, 1)
    await timed(ours_async, 2000, 1)
    p = await timed(plain_async)
    o = await timed(ours_async)
    print(f"async breaker: plain coroutine {p:.1f} ns, with @circuit_breaker {o:.1f} ns: {o - p:.1f} ns added")


asyncio.run(async_case())

# ---- metrics --------------------------------------------------------------------------------------
reg = omnitron.Registry()
oc = reg.counter("c_total", "c")
ocl = reg.counter("cl_total", "c", labelnames=("method", "code"))
ochild = ocl.labels("GET", "200")
oh = reg.histogram("h_seconds", "h")
ohl = reg.histogram("hl_seconds", "h", labelnames=("method",))
ohchild = ohl.labels("GET")

preg = pc.CollectorRegistry()
pcnt = pc.Counter("c", "c", registry=preg)
pcl = pc.Counter("cl", "c", ("method", "code"), registry=preg)
pchild = pcl.labels("GET", "200")
ph = pc.Histogram("h_seconds", "h", registry=preg)
phl = pc.Histogram("hl_seconds", "h", ("method",), registry=preg)
phchild = phl.labels("GET")

metric_results = run(
    [
        Case("counter inc", "omnitron", oc.inc),
        Case("counter inc", "prometheus_client", pcnt.inc),
        Case("labels(...).inc()", "omnitron", lambda: ocl.labels("GET", "200").inc()),
        Case("labels(...).inc()", "prometheus_client", lambda: pcl.labels("GET", "200").inc()),
        Case("child inc", "omnitron", ochild.inc),
        Case("child inc", "prometheus_client", pchild.inc),
        Case("histogram observe", "omnitron", lambda: oh.observe(0.042)),
        Case("histogram observe", "prometheus_client", lambda: ph.observe(0.042)),
        Case("child hist observe", "omnitron", lambda: ohchild.observe(0.042)),
        Case("child hist observe", "prometheus_client", lambda: phchild.observe(0.042)),
    ]
)
report("Metrics: ns per operation", metric_results, "omnitron")

# A benchmark that lost updates would be wrong: the counts must be there when read back.
assert oc.get() > 0 and "c_total" in reg.generate_latest()
sys.stdout.flush()
