"""The package leans on two asyncio internals with no public API on Python 3.11: the event loop's
``_selector`` (wrapped to poll briefly before the loop sleeps, ``omnitron/_poll.py``) and
``asyncio.tasks._enter_task`` / ``_leave_task`` (a request handler's first step runs at once, on a
carrier task, ``omnitron/_eager.py``). Without them the package still works, only slower; these
tests fail loudly when a Python release changes them."""

import asyncio
import sys

from omnitron import _eager, _poll


def test_the_selector_that_busy_polling_wraps_is_there() -> None:
    loop = asyncio.new_event_loop()
    try:
        selector = getattr(loop, "_selector", None)
        assert selector is not None and callable(getattr(selector, "select", None))
        assert isinstance(_poll.selector_of(loop), _poll.PollingSelector), "busy polling would be off"
    finally:
        loop.close()


def test_the_task_hooks_that_eager_handlers_use_are_there() -> None:
    if sys.version_info >= (3, 11):
        assert callable(getattr(asyncio.tasks, "_enter_task", None))
        assert callable(getattr(asyncio.tasks, "_leave_task", None))
        assert _eager._CARRIED, "handlers would no longer start eagerly"
