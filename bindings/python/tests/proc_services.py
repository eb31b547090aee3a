"""Services the process tests run in real Python worker processes."""

import asyncio
import contextvars
import os
import sys
import threading
import time
from typing import Any

from omnitron import current_trace, public, service

ITEM: contextvars.ContextVar[int] = contextvars.ContextVar("ITEM")


def _chunk() -> int:
    """The length of the chunk (``$batch``, omnitron/_batch.py) this item came in: 1 for a call on
    its own. Read from the batch loop's frame: what the pool sent, seen from the worker."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "omnitron._batch" and "chunk" in frame.f_locals:
            return len(frame.f_locals["chunk"])
        frame = frame.f_back  # type: ignore[assignment]
    return 1


@service("echo@1.0.0")
class Echo:
    @public
    async def echo(self, value: object) -> object:
        return value

    @public
    def trace(self, _x: object = None) -> object:
        """The trace this call runs in (its traceparent), or None."""
        t = current_trace()
        return t[0] if t else None

    @public
    def pid(self) -> int:
        return os.getpid()

    @public
    def sleep(self, seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    @public
    async def wait_cancel(self, marker: str) -> None:
        # Says it started (`marker`.started), waits until cancelled, then says so in `marker`.
        with open(marker + ".started", "w") as f:
            f.write("started")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            with open(marker, "w") as f:
                f.write("cancelled")
            raise

    @public
    def env(self, key: str) -> object:
        return os.environ.get(key)

    @public
    def fail(self, message: str) -> None:
        raise ValueError(message)

    @public
    def chunk(self, x: int) -> list[Any]:
        """``[x, pid, chunk length]``."""
        return [x, os.getpid(), _chunk()]

    @public
    async def achunk(self, x: int) -> list[Any]:
        """:meth:`chunk` for an ``async def``; every third item waits a little before it answers."""
        n = _chunk()
        if x % 3 == 0:
            await asyncio.sleep(0.001)
        return [x, os.getpid(), n]

    @public
    def echo_sync(self, value: object) -> object:
        return value

    @public
    async def own_context(self, x: int) -> int:
        """Sets a context variable, waits, and reads it back: another item's value would leak."""
        ITEM.set(x)
        await asyncio.sleep(0.001 * (x % 3))
        return ITEM.get()

    @public
    async def times_out_if_odd(self, x: int) -> str:
        """An ``asyncio.timeout`` of its own: odd items wait past it."""
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1 if x % 2 else 0)
            return "ok"
        except TimeoutError:
            return "timed out"

    @public
    def thread_of(self, seconds: float) -> str:
        """Sleeps, then names the thread that ran it (a chunk's items on the loop or in a thread)."""
        time.sleep(seconds)
        return threading.current_thread().name

    @public
    def maybe_fail(self, x: int) -> int:
        if x % 7 == 3:
            raise ValueError(f"item {x} is bad")
        return 2 * x

    @public
    async def amaybe_fail(self, x: int) -> int:
        if x % 2 == 0:
            await asyncio.sleep(0)
        return self.maybe_fail(x)

    @public
    def die_once(self, item: list[Any]) -> int:
        """``item`` is ``[x, marker]``: exits this worker (as a crash would) the first time item 50
        reaches any worker (the file ``marker`` records that it happened)."""
        x, marker = item
        if x == 50:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return x
            os.close(fd)
            os._exit(9)
        return x
