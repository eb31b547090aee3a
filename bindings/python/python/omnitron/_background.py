"""Work the package starts and nobody awaits (an ``async def`` event handler, a supervisor's hook):
kept referenced until it ends (asyncio keeps only weak references to tasks), and a failure logged on
the ``omnitron`` logger, said once, instead of asyncio's "Task exception was never retrieved"."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable

log = logging.getLogger("omnitron")

_running: set[asyncio.Future[Any]] = set()


def spawn(work: Awaitable[Any], what: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Runs ``work`` in the background; ``what`` names it in the log if it fails."""
    task = asyncio.ensure_future(work, loop=loop)
    _running.add(task)

    def ended(t: asyncio.Future[Any]) -> None:
        _running.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("%s failed", what, exc_info=t.exception())

    task.add_done_callback(ended)
