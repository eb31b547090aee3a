"""The Celery app the Celery runner (celery_peer.py) sends to and starts workers of. Celery 5 with
the Redis broker, results ignored (no result backend: nothing to store per job), its other
settings as shipped (prefetch multiplier 4, acknowledged before the task runs).

The worker reports through Redis, in the benchmark's database (``BENCH_REDIS``):
- ``bench:ready``: pushed once the worker is ready;
- ``bench:done``: ``<t0> <t1>`` (CLOCK_MONOTONIC ns) once ``BENCH_N`` tasks have run, from the
  worker's start (ready, or its first task if that came first) to the end of the last;
- ``bench:lat``: per ``stamp`` task, CLOCK_MONOTONIC at its start less the ``t0`` it carries.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import redis
from celery import Celery, signals

BROKER = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
N = int(os.environ.get("BENCH_N", "0"))

app = Celery("bench", broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    task_default_queue="bench",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_report = redis.Redis.from_url(BROKER)
_lock = threading.Lock()
_ran = 0
_t0: int | None = None


@app.task(name="noop")
def noop(i: int) -> None:
    return None


@app.task(name="stamp")
def stamp(t0: int) -> None:
    _report.rpush("bench:lat", time.monotonic_ns() - t0)


def _start(now: int) -> None:
    global _t0
    with _lock:
        if _t0 is None:
            _t0 = now


@signals.worker_ready.connect
def _ready(**_: Any) -> None:
    _start(time.monotonic_ns())
    _report.rpush("bench:ready", 1)


@signals.task_prerun.connect
def _prerun(**_: Any) -> None:
    if _t0 is None:
        _start(time.monotonic_ns())


@signals.task_postrun.connect
def _postrun(**_: Any) -> None:
    global _ran
    with _lock:
        _ran += 1
        last = _ran == N
    if last:
        _report.rpush("bench:done", f"{_t0} {time.monotonic_ns()}")
