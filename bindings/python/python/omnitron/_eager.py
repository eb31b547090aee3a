"""Running a request handler's first step right where the request was read, without a task per
request.

A handler runs up to its first real wait right where the request was read. One that never waits
(most do not) has answered before the read returns: the answer leaves in the same write as the
others of that read, with no loop turn in between, and the engine needs no task to finish the call.

Making an ``asyncio.Task`` per request for that (Python 3.12's ``eager_start``, or the same by hand)
cost about 9 us a request on the development VM, more than all the rest of the server's Python
work; running the first step alone costs under 1 us. So a :class:`Starter` keeps one idle *carrier*
task. During a first step the carrier is the current task (``asyncio.current_task()``,
``asyncio.timeout()`` and ``TaskGroup`` work from the first line) and the step runs in its own copy
of the context. A handler that finishes there leaves the carrier idle for the next request. One
that waits is handed to the carrier, which drives it to its end (each step in the handler's
context) and is its task from then on (cancelling it cancels the handler); the next request gets a
new carrier. So a task is made only for handlers that wait, which needed one anyway.

What differs from a task per request: for a handler that finishes without waiting,
``current_task()`` is the carrier, shared with other such handlers; a done-callback added to it
then runs when the carrier ends, not when the handler does. The idle carrier is one pending task
in ``asyncio.all_tasks()`` per peer (cancelled by ``Peer.close()``). A handler cancelled before
its new carrier's first step ran (a CANCEL read with its request) is cancelled when the carrier
starts, not lost. Before 3.11 (no way to run a step as a
given task) every handler gets its own task, started the usual way.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from typing import Any, Callable, Coroutine, Generator, Optional

_CARRIED = sys.version_info >= (3, 11) and hasattr(asyncio.tasks, "_enter_task")

#: ``finish(token, value, error)``: how :meth:`Starter.run` reports a coroutine's end.
Finish = Callable[[Any, Any, Optional[BaseException]], None]
# Looked up once: `_first_step` runs for every request.
_copy_context = contextvars.copy_context
_enter_task: Any = getattr(asyncio.tasks, "_enter_task", None)
_leave_task: Any = getattr(asyncio.tasks, "_leave_task", None)

# How a first step ended (`Starter._first_step`).
_WAITS, _DONE, _RAISED, _CANCELLED = 0, 1, 2, 3


async def _finishing(coro: Coroutine[Any, Any, Any], finish: Finish, token: Any) -> None:
    try:
        value = await coro
    except asyncio.CancelledError as e:
        finish(token, None, e)
        raise
    except BaseException as e:  # noqa: BLE001 - reported to whoever waits for the answer
        finish(token, None, e)
        return
    finish(token, value, None)


class Starter:
    """Starts handler coroutines on one event loop (see the module's documentation)."""

    __slots__ = ("_loop", "_idle")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._idle: Optional[_Carrier] = None

    def start(self, coro: Coroutine[Any, Any, Any]) -> Optional[Callable[[], Any]]:
        """Runs ``coro``'s first step now; ``None`` if it finished there, else what cancels the
        rest. Inside a running task (or before 3.11) it is a plain new task."""
        loop = self._loop
        if not _CARRIED or asyncio.current_task(loop) is not None:
            return loop.create_task(coro).cancel
        carrier, ctx, state, value = self._first_step(coro)
        if state == _RAISED:
            loop.call_exception_handler({"message": "a request handler failed", "exception": value})
        if state != _WAITS:
            return None  # (A handler raising CancelledError has answered E005 already.)
        carrier.take(coro, ctx, value)
        return carrier.cancel

    def run(self, coro: Coroutine[Any, Any, Any], finish: Finish, token: Any) -> Optional[Callable[[], Any]]:
        """:meth:`start`, and ``finish(token, value, None)`` (or ``finish(token, None, error)``)
        once ``coro`` has ended, here or later: for callers that answer with the result (the HTTP
        door) rather than from inside the coroutine."""
        loop = self._loop
        if not _CARRIED or asyncio.current_task(loop) is not None:
            return loop.create_task(_finishing(coro, finish, token)).cancel
        carrier, ctx, state, value = self._first_step(coro)
        if state == _WAITS:
            carrier.take(coro, ctx, value, finish, token)
            return carrier.cancel
        if state == _DONE:
            finish(token, value, None)
        else:
            finish(token, None, value)
        return None

    def _first_step(self, coro: Coroutine[Any, Any, Any]) -> tuple["_Carrier", contextvars.Context, int, Any]:
        """Runs ``coro``'s first step as the idle carrier's task: ``(carrier, context, state,
        value)``: ``_WAITS`` and what it waits on (the carrier is then no longer idle), ``_DONE``
        and its result, ``_RAISED`` or ``_CANCELLED`` and the exception."""
        loop = self._loop
        carrier = self._idle
        if carrier is None or carrier.task.done():
            # (A finished handler may have kept its task and cancelled it later: that one is spent.)
            carrier = self._idle = _Carrier(loop)
        task = carrier.task
        ctx = _copy_context()
        _enter_task(loop, task)
        state = _WAITS
        try:
            value = ctx.run(coro.send, None)
        except StopIteration as s:
            state, value = _DONE, s.value
        except asyncio.CancelledError as e:
            state, value = _CANCELLED, e
        except BaseException as e:  # noqa: BLE001 - what a task would have kept, reported
            state, value = _RAISED, e
        finally:
            _leave_task(loop, task)
            if task.cancelling() or task.done():
                # A finished first step cancelled its (shared) task: that carrier is spent.
                self._idle = None
        if state == _WAITS:
            # It waits: the carrier becomes its task.
            self._idle = None
        return carrier, ctx, state, value

    def close(self) -> None:
        """Lets the idle carrier end."""
        if self._idle is not None:
            self._idle.task.cancel()
            self._idle = None


class _Carrier:
    __slots__ = ("task", "_wake", "_job", "_started", "_cancel_asked")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._wake: asyncio.Future[None] = loop.create_future()
        self._job: Optional[tuple[Coroutine[Any, Any, Any], contextvars.Context, Any, Optional[Finish], Any]] = None
        self._started = False
        self._cancel_asked = False
        self.task = loop.create_task(self._run())

    def cancel(self) -> None:
        """Cancels the handler it carries. Until the carrier's own first step has run, a task's
        cancel would end it before it takes the handler (leaving the handler abandoned): then the
        request is kept and the handler is cancelled when the carrier starts."""
        if self._started:
            self.task.cancel()
        else:
            self._cancel_asked = True

    def take(
        self,
        coro: Coroutine[Any, Any, Any],
        ctx: contextvars.Context,
        waiting_on: Any,
        finish: Optional[Finish] = None,
        token: Any = None,
    ) -> None:
        self._job = (coro, ctx, waiting_on, finish, token)
        if not self._wake.done():  # Cancelled by the first step itself: `_run` sees it.
            self._wake.set_result(None)

    async def _run(self) -> Any:
        self._started = True
        thrown: Optional[BaseException] = None
        try:
            await self._wake
        except asyncio.CancelledError as e:
            if self._job is None:
                return None  # Cancelled while idle (`Starter.close`, the loop ending).
            # Cancelled between the handler's first step and now (a timeout it set, a CANCEL).
            thrown = e
        if thrown is None and self._cancel_asked:
            thrown = asyncio.CancelledError()
        assert self._job is not None
        coro, ctx, waiting_on, finish, token = self._job
        self._job = None
        if finish is None:
            return await _Drive(coro, ctx, waiting_on, thrown)
        try:
            value = await _Drive(coro, ctx, waiting_on, thrown)
        except asyncio.CancelledError as e:
            finish(token, None, e)
            raise
        except BaseException as e:  # noqa: BLE001 - reported to whoever waits for the answer
            finish(token, None, e)
            return None
        finish(token, value, None)
        return None


class _Drive:
    """Drives a started coroutine to its end from inside the carrier's task, each step in the
    coroutine's own context (what ``yield from`` would do, had it started there)."""

    __slots__ = ("coro", "ctx", "waiting_on", "thrown")

    def __init__(self, coro: Coroutine[Any, Any, Any], ctx: contextvars.Context, waiting_on: Any, thrown: Optional[BaseException]) -> None:
        self.coro, self.ctx, self.waiting_on, self.thrown = coro, ctx, waiting_on, thrown

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, ctx, waiting_on = self.coro, self.ctx, self.waiting_on
        try:
            if self.thrown is not None:
                if isinstance(waiting_on, asyncio.Future):
                    waiting_on.cancel()
                waiting_on = ctx.run(coro.throw, self.thrown)
            while True:
                try:
                    sent = yield waiting_on
                except GeneratorExit:
                    coro.close()
                    raise
                except BaseException as e:  # noqa: BLE001 - thrown in by the task (cancellation)
                    waiting_on = ctx.run(coro.throw, e)
                else:
                    waiting_on = ctx.run(coro.send, sent)
        except StopIteration as s:
            return s.value
