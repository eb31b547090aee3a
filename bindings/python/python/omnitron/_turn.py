"""Writing the calls of one event-loop turn together (``omnitron::transport::begin_turn``): they go
out in slices of 16 and the rest when the turn ends, written by the loop's thread, instead of waking
an engine thread at the first."""

from __future__ import annotations

import asyncio

from . import _native


class Turn:
    """The turns of one caller (a peer, a pool) on its event loop."""

    __slots__ = ("_loop", "_open")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._open = False

    def open(self) -> None:
        """Before a call made on the loop's thread: opens a turn, ended by a ``call_soon`` callback.
        Kept per caller, not per thread: a turn left open on this thread by a loop that stopped
        before its end (``asyncio.run`` returning) is closed by the next caller's first turn."""
        if not self._open:
            self._open = True
            _native.begin_turn()
            self._loop.call_soon(self.end)

    def end(self) -> None:
        """Ends the turn now: what its calls queued is written."""
        self._open = False
        _native.end_turn()
