"""A small timing harness for a shared, noisy machine: every case is warmed up, then the cases are
timed in interleaved rounds (so a slow moment hits all of them alike) and the median round is kept."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any, Callable, NamedTuple


class Result(NamedTuple):
    case: str
    lib: str
    ns_per_op: float


class Case(NamedTuple):
    case: str
    lib: str
    f: Callable[[], Any]
    batch: int = 50_000


def run(cases: list[Case], rounds: int = 15) -> list[Result]:
    for c in cases:  # warm up
        for _ in range(c.batch):
            c.f()
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(rounds):
        for i, c in enumerate(cases):
            f, n = c.f, c.batch
            t0 = time.perf_counter_ns()
            for _ in range(n):
                f()
            times[i].append((time.perf_counter_ns() - t0) / n)
    return [Result(c.case, c.lib, statistics.median(t)) for c, t in zip(cases, times)]


def report(title: str, results: list[Result], ours: str) -> None:
    print(f"\n{title}")
    print(f"{'case':<24}{'library':<22}{'ns/op':>10}   {ours} vs peer")
    for case in dict.fromkeys(r.case for r in results):
        mine = next(r for r in results if r.case == case and r.lib == ours)
        for r in (x for x in results if x.case == case):
            ratio = "" if r.lib == ours else f"{r.ns_per_op / mine.ns_per_op:.2f}x {'faster' if r.ns_per_op >= mine.ns_per_op else 'slower'}"
            print(f"{case:<24}{r.lib:<22}{r.ns_per_op:>10.1f}   {ratio}")
    sys.stdout.flush()
