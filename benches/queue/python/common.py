"""What the Python runners (omnitron_peer.py, celery_peer.py) share: the command line, the clocks
and the results' shape, so that both measure the same thing the same way. Each runner is one
process per case::

    python <runner>.py <case> --store <url> [--n N] [--concurrency C] [--seconds S]

and prints one JSON line (see ../run.py for the cases).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

#: The spacing between two pickup samples, and the samples taken before those kept.
PICKUP_GAP = 0.005
PICKUP_WARMUP = 20

def args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--store", required=True)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=6.0)
    return ap.parse_args()


def cpu_ms() -> float:
    """This process's CPU time, ms: the time on CPU of each of its threads, in nanoseconds, from
    /proc/self/task/<tid>/schedstat (/proc/self/stat counts 10 ms ticks, too coarse for a few
    seconds)."""
    ns = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                ns += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # the thread ended meanwhile
    return ns / 1e6


def rate(n: int, t0_ns: int) -> dict[str, float]:
    return {"rate": n / ((time.monotonic_ns() - t0_ns) / 1e9)}


def percentiles(samples_us: list[float]) -> dict[str, Any]:
    s = sorted(samples_us)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, int(len(s) * p))]

    return {"p50_us": pct(0.50), "p99_us": pct(0.99), "samples": len(s)}


def done(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    # Held handlers and workers never end: leave without waiting for them.
    os._exit(0)
