"""The worker's side of a pool's ``map``: the reserved method ``$batch`` (docs/PROTOCOL.md,
"Batches"), which ``Peer.expose`` adds to every service it exposes.

A pool sends a chunk of items as one call, ``$batch(method, [args, args, ...])`` (or
``$batch(method, [arg, arg, ...], 1)`` when each item has one argument), and gets one answer,
``[values, errors]``: a value per item (None where it failed), and None when every item succeeded,
else ``[[index, {code, message, data}], ...]``, each error as a call of that item alone would have
answered it. The loop over the items runs here, in Python: a ``def`` method's items run on the event
loop for up to ``INLINE_SECONDS`` (trivial items: the whole chunk, cheaper than a thread hop), the rest
in one thread-pool job that answers from there (off the event loop, as its single calls run); an
``async def`` method has each item's first step run in turn on the loop, and the items that wait
are then awaited together.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import time
from typing import Any, Callable, Coroutine, Generator, Iterator, Optional

from .errors import OmnitronError

BATCH = "$batch"
#: How long a chunk of a ``def`` method runs on the event loop before the rest goes to a thread.
INLINE_SECONDS = 0.002
#: The most items run between two looks at the clock.
INLINE_STEP = 64

Chunk = list[list[Any]]
Answer = list[Any]


def wrap(
    dispatch: Callable[[str, list[Any], Any], Any],
    methods: dict[str, Callable[..., Any]],
    threads: Callable[[], concurrent.futures.Executor],
    start: Callable[[Coroutine[Any, Any, None]], Any],
) -> Callable[[str, list[Any], Any], Any]:
    """``Peer.expose``'s ``dispatch(method, args, call)`` over ``methods`` (a service's unary
    methods), taking ``$batch`` too; ``$batch`` is added to ``methods`` (what is registered).
    ``threads()`` is the pool ``def`` methods run in, ``start`` what starts a handler coroutine on
    the loop. A service without unary methods gets none."""
    if not methods:
        return dispatch
    table = dict(methods)
    is_async = {name: inspect.iscoroutinefunction(fn) for name, fn in table.items()}

    def batch_dispatch(method: str, args: list[Any], call: Any) -> Any:
        if method != BATCH:
            return dispatch(method, args, call)
        name, chunk, *single = args
        fn = table.get(name)
        if fn is None:
            e = {"code": "RPC002", "message": f"no public method '{name}' (methods: {', '.join(sorted(table))})"}
            call.ok([[None] * len(chunk), [[i, e] for i in range(len(chunk))]])
            return None
        if is_async[name]:
            # Started here, as a single call's handler is: the items that do not wait are answered
            # before this read returns.
            return start(_answer_async(fn, chunk, bool(single and single[0]), call))
        # Items that take microseconds run here, on the loop: a chunk of them costs less than the
        # thread hop would. Once the chunk has run for INLINE_SECONDS, the rest goes to the
        # thread pool (one job, which answers from there), so a slow chunk does not hold the loop
        # (its health pings, cancels and other calls).
        one = bool(single and single[0])
        values: list[Any] = []
        errors: Optional[list[Any]] = None
        rest = iter(chunk)
        deadline = time.perf_counter() + INLINE_SECONDS
        step = 1  # doubling up to INLINE_STEP: a slow first item alone is enough to hand over
        while True:
            done, errors = _run_some(fn, rest, one, values, errors, step)
            if done:
                _answer(call, [values, errors])
                return None
            if time.perf_counter() > deadline:
                threads().submit(_answer_rest, fn, rest, one, values, errors, call)
                return None
            step = min(2 * step, INLINE_STEP)

    methods[BATCH] = _reserved
    return batch_dispatch


def _reserved(*args: Any) -> Any:
    """``$batch`` as the service lists it; calls to it go through :func:`wrap`'s dispatcher."""
    raise NotImplementedError(BATCH)


def _answer(call: Any, answer: Answer) -> None:
    try:
        call.ok(answer)
    except TypeError:
        pass  # `ok` already answered with the encoding error (a value that cannot be sent)


def _answer_rest(
    fn: Callable[..., Any], rest: Iterator[Any], single: bool, values: list[Any], errors: Optional[list[Any]], call: Any
) -> None:
    _run_some(fn, rest, single, values, errors, None)
    _answer(call, [values, errors])


def _run_some(
    fn: Callable[..., Any], rest: Iterator[Any], single: bool, values: list[Any], errors: Optional[list[Any]], n: Optional[int]
) -> tuple[bool, Optional[list[Any]]]:
    """Runs the next ``n`` items of ``rest`` (all of them with None) onto ``values``, an item that
    raises recorded in ``errors`` (made at the first); ``(whether rest is done, errors)``."""
    while True:
        # The loop runs in C (map, or starmap for items with their arguments arrays); an item that
        # raises stops it with the values so far kept (list.extend keeps what it took), is
        # recorded, and the loop goes on from the next item.
        before = len(values)
        step = rest if n is None else itertools.islice(rest, n)
        try:
            values.extend(map(fn, step) if single else itertools.starmap(fn, step))
        except BaseException as e:  # noqa: BLE001 - every failure goes back to its item
            if errors is None:
                errors = []
            errors.append([len(values), _error(e)])
            values.append(None)
            if n is not None:
                n -= len(values) - before
                if n <= 0:
                    return False, errors
            continue
        if n is None or len(values) - before < n:
            return True, errors
        return False, errors


async def _answer_async(fn: Callable[..., Coroutine[Any, Any, Any]], chunk: Chunk, single: bool, call: Any) -> None:
    try:
        answer = await _run_async(fn, chunk, single)
    except asyncio.CancelledError:
        call.err("E005", "the call was cancelled")
        raise
    _answer(call, answer)


def _error(e: BaseException) -> dict[str, Any]:
    """An item's error as its own call would have answered it (``rpc._answer_error``)."""
    if isinstance(e, OmnitronError):
        out: dict[str, Any] = {"code": e.code, "message": e.message}
        data = getattr(e, "data", None)
        if data is not None:
            out["data"] = data
        return out
    name = type(e).__name__
    return {"code": "RPC008", "message": f"{name}: {e}", "data": {"type": name}}


async def _run_async(fn: Callable[..., Coroutine[Any, Any, Any]], chunk: Chunk, single: bool) -> Answer:
    values: list[Any] = []
    append = values.append
    errors: Optional[list[Any]] = None
    waiting: Optional[list[tuple[int, Coroutine[Any, Any, Any], Any]]] = None
    for i, args in enumerate(chunk):
        # Each item's first step runs here, as the current task's: one that does not wait (most
        # do not) costs no task of its own.
        try:
            coro = fn(args) if single else fn(*args)
            first = coro.send(None)
        except StopIteration as done:
            append(done.value)
            continue
        except BaseException as e:  # noqa: BLE001
            if errors is None:
                errors = []
            errors.append([i, _error(e)])
            append(None)
            continue
        append(None)
        if waiting is None:
            waiting = []
        waiting.append((i, coro, first))
    if waiting:
        results = await asyncio.gather(*(_finish(coro, first) for _, coro, first in waiting), return_exceptions=True)
        for (i, _, _), r in zip(waiting, results):
            if isinstance(r, BaseException):
                if errors is None:
                    errors = []
                errors.append([i, _error(r)])
            else:
                values[i] = r
        if errors:
            errors.sort(key=lambda e: e[0])
    return [values, errors]


class _Resume:
    """Awaiting it drives a coroutine on from the first step it already took (which yielded
    ``first``, what it waits on) in the awaiting task."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting = self._coro, self._first
        while True:
            try:
                sent = yield waiting
            except BaseException as e:  # noqa: BLE001 - a cancellation, passed on to the coroutine
                try:
                    waiting = coro.throw(e)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration as done:
                    return done.value


async def _finish(coro: Coroutine[Any, Any, Any], first: Any) -> Any:
    return await _Resume(coro, first)


__all__ = ["BATCH", "wrap"]
