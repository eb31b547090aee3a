"""Busy polling before the event loop sleeps (``omnitron::rpc::BusyPoll``; docs/decisions/0020).

With one call in flight, each message wakes a sleeping process, and on a virtual machine whose idle
vCPUs halt that wake-up costs tens of microseconds. A loop that reads Omnitron connections wraps
its selector: before the selector blocks, the descriptor is polled (without the GIL) for a short,
adaptive while, so an answer or a request that comes a few microseconds later finds the loop
awake. Loops without a selector of their own (uvloop, say) are left alone."""

from __future__ import annotations

import asyncio
import selectors
from typing import Any, Optional

from . import _native
from .errors import InvalidArgumentError

MAX_BUSY_POLL_MICROS = 1_000_000


class PollingSelector:
    """A loop's selector, polled before it blocks while the loop reads Omnitron connections."""

    __slots__ = ("_inner", "_fd", "poll", "readers")

    def __init__(self, inner: selectors.BaseSelector) -> None:
        self._inner = inner
        self._fd: int = inner.fileno()  # type: ignore[attr-defined]
        self.poll = _native.NativeBusyPoll()
        self.readers = 0  # Omnitron connections this loop reads

    def select(self, timeout: Optional[float] = None) -> Any:
        if not self.readers:
            return self._inner.select(timeout)
        # The time spent polling comes off the wait (a timer is not made later).
        left = self.poll.before_wait(self._fd, timeout)
        try:
            return self._inner.select(left)
        finally:
            self.poll.after_wait()

    # The rest of the selector, as is (asyncio uses these).
    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def selector_of(loop: asyncio.AbstractEventLoop) -> Optional[PollingSelector]:
    """The loop's polling selector, installed on first use; None for a loop that has no selector
    with a descriptor (it is not polled)."""
    inner = getattr(loop, "_selector", None)
    if isinstance(inner, PollingSelector):
        return inner
    if inner is None or not hasattr(inner, "fileno") or not hasattr(inner, "select"):
        return None
    try:
        wrapped = PollingSelector(inner)
    except (OSError, ValueError):
        return None
    loop._selector = wrapped  # type: ignore[attr-defined]
    return wrapped


def busy_poll(max_micros: Optional[int] = None, *, loop: Optional[asyncio.AbstractEventLoop] = None) -> int:
    """Sets, when given, the most the event loop (the running one by default) polls before each
    wait while it reads Omnitron connections, in microseconds (0 turns polling off); returns the
    setting (0 for a loop that cannot poll). The budget adapts below it: a loop whose messages come
    further apart than this does not poll. A loop's first value comes from the
    ``OMNITRON_BUSY_POLL_US`` environment variable (default 100)."""
    if max_micros is not None and (
        isinstance(max_micros, bool) or not isinstance(max_micros, int) or not 0 <= max_micros <= MAX_BUSY_POLL_MICROS
    ):
        raise InvalidArgumentError(f"busy_poll takes a whole number of microseconds from 0 to {MAX_BUSY_POLL_MICROS}, got {max_micros!r}")
    sel = selector_of(loop if loop is not None else asyncio.get_running_loop())
    if sel is None:
        return 0
    if max_micros is not None:
        sel.poll.max_micros = max_micros
    return int(sel.poll.max_micros)
