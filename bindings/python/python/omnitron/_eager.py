"""Starting a coroutine at once, the way Python 3.12's eager tasks do (on 3.11, the same by hand;
before 3.11, which cannot give a task a context, the usual way).

A request's handler runs up to its first real wait right where the request was read. One that
never waits (most do not) has answered before the read returns: the answer leaves in the same
write as the others of that read, with no loop turn in between, and the engine needs no task to
finish the call. One that does wait goes on in its task, like any other.

While the first step runs, ``asyncio.current_task()`` is that task and the step runs in the task's
own copy of the context, as it would inside the task.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from typing import Any, Coroutine, Generator

_NATIVE = sys.version_info >= (3, 12)
_EMULATED = sys.version_info >= (3, 11)


def start(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
    """A task running ``coro``, whose first step has already run (unless a task is running now:
    then it starts the usual way, on the loop's next turn)."""
    if not _EMULATED or asyncio.current_task(loop) is not None:
        return loop.create_task(coro)
    if _NATIVE:
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    ctx = contextvars.copy_context()
    first = _FirstStep(coro)
    task = loop.create_task(first.rest(), context=ctx)
    asyncio.tasks._enter_task(loop, task)
    try:
        ctx.run(first.step)
    finally:
        asyncio.tasks._leave_task(loop, task)
    return task


class _FirstStep:
    __slots__ = ("coro", "waiting_on", "finished", "result", "error")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.waiting_on: Any = None
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None

    def step(self) -> None:
        try:
            self.waiting_on = self.coro.send(None)
        except StopIteration as e:
            self.finished, self.result = True, e.value
        except BaseException as e:  # noqa: BLE001 - raised again by the task, as it would have been
            self.finished, self.error = True, e

    async def rest(self) -> Any:
        if not self.finished:
            return await _Resume(self)
        if self.error is not None:
            raise self.error
        return self.result


class _Resume:
    """Hands the task what the first step was waiting on, then drives the coroutine on (what
    ``yield from`` would do, had it started there)."""

    __slots__ = ("first",)

    def __init__(self, first: _FirstStep) -> None:
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self.first.coro
        waiting_on = self.first.waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as e:  # noqa: BLE001 - thrown in by the task (cancellation)
                try:
                    waiting_on = coro.throw(e)
                except StopIteration as s:
                    return s.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as s:
                    return s.value
