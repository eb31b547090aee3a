"""The worker's side of a pool's ``map``: the reserved method ``$batch`` (docs/PROTOCOL.md,
"Batches"), which ``Peer.expose`` adds to every service it exposes.

A pool sends a chunk of items as one call, ``$batch(method, [args, args, ...])`` (or
``$batch(method, [arg, arg, ...], 1)`` when each item has one argument), and gets one answer,
``[values, errors]``: a value per item (None where it failed), and None when every item succeeded,
else ``[[index, {code, message, data}], ...]``, each error as a call of that item alone would have
answered it. The loop over the items runs here, in Python. A ``def`` method's chunk runs in one
thread-pool job that answers from there (off the event loop, as its single calls run) until its
items were measured to take microseconds (under ``INLINE_ITEM_SECONDS``); from then on its chunks
run on the event loop (cheaper than the thread hop), the rest of one handed to a thread should it
still run past ``INLINE_SECONDS``. An ``async def`` method's items are started each as a handler of
its own (its own context and current task, as a single call's), and the chunk is answered when the
last one is done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import itertools
import time
from typing import Any, Callable, Coroutine, Iterator, Optional

from .errors import OmnitronError

BATCH = "$batch"
#: How long a chunk of a ``def`` method runs on the event loop before the rest goes to a thread.
INLINE_SECONDS = 0.002
#: A ``def`` method's chunks run on the loop only once its items were measured below this.
INLINE_ITEM_SECONDS = 0.00005
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

    # Seconds an item of each `def` method took, as measured (a moving average).
    speed: dict[str, float] = {}

    def batch_dispatch(method: str, args: list[Any], call: Any) -> Any:
        if method != BATCH:
            return dispatch(method, args, call)
        name, chunk, *single = args
        fn = table.get(name)
        if fn is None:
            e = {"code": "RPC002", "message": f"no public method '{name}' (methods: {', '.join(sorted(table))})"}
            call.ok([[None] * len(chunk), [[i, e] for i in range(len(chunk))]])
            return None
        one = bool(single and single[0])
        if is_async[name]:
            return _start_async(fn, chunk, one, call, start)
        per_item = speed.get(name)
        if per_item is None or per_item > INLINE_ITEM_SECONDS:
            # Not measured yet, or slow: the whole chunk in one thread-pool job (off the loop, as
            # a single call of a `def` method runs), which answers from there.
            # In this context: the call's trace goes with it.
            ctx = contextvars.copy_context()
            threads().submit(ctx.run, _answer_rest, fn, chunk, iter(chunk), one, [], None, call, speed, name)
            return None
        # Items measured to take microseconds run here, on the loop: a chunk of them costs less
        # than the thread hop would. Should the chunk still run past INLINE_SECONDS, the rest goes
        # to the thread pool, so the loop (health pings, cancels, other calls) is not held.
        values: list[Any] = []
        errors: Optional[list[Any]] = None
        rest = iter(chunk)
        began = time.perf_counter()
        deadline = began + INLINE_SECONDS
        step = 1  # doubling up to INLINE_STEP between looks at the clock
        while True:
            done, errors = _run_some(fn, rest, one, values, errors, step)
            if done:
                _measured(speed, name, time.perf_counter() - began, len(values))
                _answer(call, [values, errors])
                return None
            if time.perf_counter() > deadline:
                speed[name] = INLINE_SECONDS  # slower than measured: chunks go to threads again
                ctx = contextvars.copy_context()
                threads().submit(ctx.run, _answer_rest, fn, chunk, rest, one, values, errors, call, None, name)
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
    fn: Callable[..., Any],
    chunk: Chunk,
    rest: Iterator[Any],
    single: bool,
    values: list[Any],
    errors: Optional[list[Any]],
    call: Any,
    speed: Optional[dict[str, float]],
    name: str,
) -> None:
    """In a thread-pool thread: the rest (``rest``, an iterator over ``chunk``) of a chunk, then its
    answer; with ``speed``, the time its items took is recorded (the whole chunk ran here)."""
    began = time.perf_counter()
    _done, errors = _run_some(fn, rest, single, values, errors, None)
    if speed is not None:
        _measured(speed, name, time.perf_counter() - began, len(values))
    _answer(call, [values, errors])


def _measured(speed: dict[str, float], name: str, seconds: float, items: int) -> None:
    if items:
        per_item = seconds / items
        before = speed.get(name)
        speed[name] = per_item if before is None else 0.5 * (before + per_item)


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
            errors.append([len(values), wire_error(e)])
            values.append(None)
            if n is not None:
                n -= len(values) - before
                if n <= 0:
                    return False, errors
            continue
        if n is None or len(values) - before < n:
            return True, errors
        return False, errors


def _start_async(
    fn: Callable[..., Coroutine[Any, Any, Any]],
    chunk: Chunk,
    single: bool,
    call: Any,
    start: Callable[[Coroutine[Any, Any, None]], Any],
) -> Optional[Callable[[], None]]:
    """Starts each item of a chunk of an ``async def`` method as a handler of its own (``start``:
    its own context and current task, as a single call's; those that do not wait finish here) and
    answers once the last one is done. None when all finished here; else what cancels the others."""
    n = len(chunk)
    values: list[Any] = [None] * n
    errors: list[Any] = []
    left = [n]

    def finished() -> None:
        left[0] -= 1
        if left[0] == 0:
            errors.sort(key=lambda e: e[0])
            _answer(call, [values, errors or None])

    async def item(i: int, args: Any) -> None:
        try:
            values[i] = await (fn(args) if single else fn(*args))
        except OmnitronError as e:  # An engine error (E005 included) is the item's own failure.
            errors.append([i, wire_error(e)])
        except asyncio.CancelledError:
            errors.append([i, {"code": "E005", "message": "the call was cancelled"}])
            raise
        except BaseException as e:  # noqa: BLE001 - every failure goes back to its item
            errors.append([i, wire_error(e)])
        finally:
            finished()

    cancels = [c for c in (start(item(i, args)) for i, args in enumerate(chunk)) if c is not None]
    if not cancels:
        return None

    def cancel_all() -> None:
        for c in cancels:
            c()

    return cancel_all


def wire_error(e: BaseException) -> dict[str, Any]:
    """A handler's failure as the caller gets it (a single call's, ``rpc._answer_error``, and a
    chunk item's): an ``OmnitronError`` keeps its code, message and data; anything else is RPC008
    with its class's name."""
    if isinstance(e, OmnitronError):
        out: dict[str, Any] = {"code": e.code, "message": e.message}
        data = getattr(e, "data", None)
        if data is not None:
            out["data"] = data
        return out
    name = type(e).__name__
    return {"code": "RPC008", "message": f"{name}: {e}", "data": {"type": name}}


__all__ = ["BATCH", "wire_error", "wrap"]
