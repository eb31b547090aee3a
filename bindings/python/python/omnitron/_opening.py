"""What an async constructor returns: awaited, it gives the object (``engine = await
WorkflowEngine.open(path)``); used with ``async with``, it gives the object and closes it at the end
(``async with WorkflowEngine.open(path) as engine:``), as ``aiosqlite.connect`` does. Nothing runs
until it is awaited or entered, so it can be made outside a running loop."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Generator, Generic, Protocol, TypeVar


class _Closable(Protocol):
    async def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)


class Opening(Generic[T]):
    __slots__ = ("_make", "_what", "_value")

    def __init__(self, make: Callable[[], Awaitable[T]], what: str) -> None:
        self._make = make
        self._what = what
        self._value: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._make().__await__()

    async def __aenter__(self) -> T:
        self._value = await self._make()
        return self._value

    async def __aexit__(self, *exc: object) -> None:
        if self._value is not None:
            await self._value.close()

    def __getattr__(self, name: str) -> Any:
        # `engine = WorkflowEngine.in_memory()` without `await` (it was sync before): say so.
        raise AttributeError(f"{self._what} is async: use `await {self._what}` (or `async with {self._what} as ...`) before '.{name}'")

    def __repr__(self) -> str:
        return f"<awaitable {self._what}>"
