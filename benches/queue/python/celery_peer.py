"""Celery 5 (Redis broker), the queue a Python user would otherwise pick, measured as the Omnitron
runner is (see common.py); its workers run in their own process, as Celery runs them::

    python celery_peer.py <case> --store redis://127.0.0.1:6379/9 [--n N] [--concurrency C]

- ``add-bulk``: a ``group`` of N signatures sent at once (Celery has no bulk add; for information).
- ``process``: N tasks put in the queue first (see ``prefill``), then ``celery worker`` with the solo pool at concurrency 1, the
  threads pool above it; from the worker's start (ready, or its first task) to the end of the Nth.
- ``pickup``: an idle ``celery worker`` (solo pool), a ``stamp`` task every few ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import PICKUP_GAP, PICKUP_WARMUP, args, done, percentiles, rate

HERE = Path(__file__).resolve().parent


def worker(store: str, n: int, concurrency: int) -> subprocess.Popen[bytes]:
    pool = ["-P", "solo"] if concurrency == 1 else ["-P", "threads", "-c", str(concurrency)]
    argv = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", *pool, "-Q", "bench", "-l", "warning",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    env = {**os.environ, "BENCH_REDIS": store, "BENCH_N": str(n)}
    return subprocess.Popen(argv, cwd=HERE, env=env, stdout=subprocess.DEVNULL, start_new_session=True)


def prefill(n: int) -> None:
    """Puts `n` `noop` tasks in the queue, untimed: one sent by Celery, then n - 1 copies of its
    message (fresh ids, its own argument) pushed in one pipeline, as kombu's Redis transport pushes
    them (LPUSH onto the queue's list). Celery sends about a thousand a second here: this keeps the
    run short."""
    import base64
    import json
    import uuid

    from celery_app import _report as r
    from celery_app import noop

    noop.delay(0)
    template = json.loads(r.lindex("bench", 0))
    args, kwargs, embed = json.loads(base64.b64decode(template["body"]))
    pipe = r.pipeline(transaction=False)
    for i in range(1, n):
        m = json.loads(json.dumps(template))
        task_id = str(uuid.uuid4())
        m["body"] = base64.b64encode(json.dumps([[i], kwargs, embed]).encode()).decode()
        m["headers"].update(id=task_id, root_id=task_id, argsrepr=f"({i},)")
        m["properties"].update(correlation_id=task_id, delivery_tag=str(uuid.uuid4()))
        pipe.lpush("bench", json.dumps(m))
    pipe.execute()


def pop(r: Any, key: str, timeout: float) -> bytes | None:
    """BLPOP in one-second slices: redis-py 8 gives up on a socket silent for 5 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = r.blpop([key], timeout=1)
        if got is not None:
            return got[1]  # type: ignore[no-any-return]
    return None


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


def main() -> None:
    a = args()
    os.environ["BENCH_REDIS"] = a.store
    from celery import group

    from celery_app import _report as r
    from celery_app import noop, stamp

    result: dict[str, Any]
    if a.case == "add-bulk":
        sigs = group(noop.s(i) for i in range(a.n))
        t0 = time.monotonic_ns()
        sigs.apply_async()
        result = rate(a.n, t0)
    elif a.case == "add-one":
        t0 = time.monotonic_ns()
        for i in range(a.n):
            noop.delay(i)
        result = rate(a.n, t0)
    elif a.case == "process":
        prefill(a.n)
        proc = worker(a.store, a.n, a.concurrency)
        try:
            got = pop(r, "bench:done", 600)
            if got is None:
                raise RuntimeError("the Celery worker did not finish")
            t0, t1 = (int(x) for x in got.split())
            result = {"rate": a.n / ((t1 - t0) / 1e9)}
        finally:
            stop(proc)
    elif a.case == "pickup":
        proc = worker(a.store, 0, 1)
        try:
            if pop(r, "bench:ready", 60) is None:
                raise RuntimeError("the Celery worker did not start")
            time.sleep(0.3)
            samples: list[float] = []
            for i in range(a.n + PICKUP_WARMUP):
                stamp.delay(time.monotonic_ns())
                got = pop(r, "bench:lat", 30)
                if got is None:
                    raise RuntimeError("a stamp task did not run")
                if i >= PICKUP_WARMUP:
                    samples.append(int(got) / 1000)
                time.sleep(PICKUP_GAP)
            result = percentiles(samples)
        finally:
            stop(proc)
    else:
        raise SystemExit(f"celery_peer: no case {a.case!r} (Celery has no leases)")
    done(result)


if __name__ == "__main__":
    main()
