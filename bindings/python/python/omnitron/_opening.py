"""What every async constructor of the package returns (``Pool.start``, ``Pool.of``, ``Peer.listen``,
``Peer.connect``, ``Omnitron.create``, ``WorkflowEngine.open`` and ``in_memory``, a testing module's
``compile``): awaited, it gives the object (``pool = await Pool.start(...)``); used with ``async
with``, it gives the object and closes it at the end (``async with Pool.start(...) as pool:``), as
``aiosqlite.connect`` does. It is a coroutine, so ``asyncio.create_task`` and ``gather`` take it too.
Nothing runs until it is awaited or entered, so it can be made outside a running loop."""

from __future__ import annotations

import functools
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generator, Optional, Protocol, TypeVar


class _Closable(Protocol):
    async def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)
if TYPE_CHECKING or sys.version_info >= (3, 10):
    from typing import ParamSpec

    P = ParamSpec("P")
else:  # Python 3.9 has no ParamSpec; the annotations using it are strings at run time.
    P = TypeVar("P")


class Opening(Coroutine[Any, Any, T]):
    """A coroutine (``await`` it, or ``asyncio.create_task`` / ``gather`` / ``wait_for`` it) that is
    also an async context manager closing what it made."""

    __slots__ = ("_make", "_what", "_coro", "_value")

    def __init__(self, make: Callable[[], Awaitable[T]], what: str) -> None:
        self._make = make
        self._what = what
        self._coro: Optional[Coroutine[Any, Any, T]] = None
        self._value: Optional[T] = None

    def _started(self) -> Coroutine[Any, Any, T]:
        if self._coro is None:
            made = self._make()
            self._coro = made if isinstance(made, Coroutine) else _wait(made)
        return self._coro

    def __await__(self) -> Generator[Any, None, T]:
        return self._started().__await__()

    def send(self, value: Any) -> Any:
        return self._started().send(value)

    def throw(self, *args: Any) -> Any:
        return self._started().throw(*args)

    def close(self) -> None:
        if self._coro is not None:
            self._coro.close()

    async def __aenter__(self) -> T:
        self._value = await self._started()
        return self._value

    async def __aexit__(self, *exc: object) -> None:
        if self._value is not None:
            await self._value.close()

    def __getattr__(self, name: str) -> Any:
        # `pool = Pool.start(...)` without `await`: say so.
        raise AttributeError(f"{self._what} is async: use `await {self._what}` (or `async with {self._what} as ...`) before '.{name}'")

    def __repr__(self) -> str:
        return f"<awaitable {self._what}>"


async def _wait(aw: Awaitable[T]) -> T:
    return await aw


def opening(what: str) -> Callable[[Callable[P, Coroutine[Any, Any, T]]], Callable[P, Opening[T]]]:
    """Makes an ``async def`` constructor return an :class:`Opening` (``what``: its name for
    messages, ``"Pool.start()"``)."""

    def wrap(make: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Opening[T]]:
        @functools.wraps(make)
        def constructor(*args: P.args, **kwargs: P.kwargs) -> Opening[T]:
            return Opening(lambda: make(*args, **kwargs), what)

        return constructor

    return wrap
