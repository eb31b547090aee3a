"""``process_pool(...)``: a pool as a provider's attribute, the Python spelling of the spec's
``@ProcessPool`` property decorator::

    from typing import Any
    from omnitron import Omnitron, Pool, injectable, module, process_pool
    from workers import DataProcessor   # a @service class of an importable module

    @injectable
    class DataProcessingService:
        pool: Pool = process_pool(DataProcessor, size="auto", strategy="round-robin", warmup=True)

        async def process_batch(self, items: list[Any]) -> list[Any]:
            return await self.pool.map(items, "process")

    @module(providers=[DataProcessingService])
    class AppModule: ...

    app = await Omnitron.create(AppModule)   # the pool starts with the container's initialize()
    results = await app.get(DataProcessingService).process_batch([1, 2, 3])
    await app.close()                          # and closes with it

The pools of an instance start in its ``on_init`` phase (before its own ``on_init``, which
``Omnitron.create`` and ``Container.initialize()`` await) and close in ``on_destroy`` (after its own,
on ``app.close()``). Reading the attribute before then raises ``NotRunningError``.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional, Union, overload

from ._options import check_options
from .di.tokens import describe
from .errors import InvalidArgumentError, NotRunningError
from .process import POOL_OPTIONS, Command, Pool, _command

_POOLS = "__omnitron_pools__"


class PoolAttribute:
    """What :func:`process_pool` returns: a class attribute whose instance value is a started
    :class:`Pool`."""

    def __init__(self, services: tuple[Any, ...], command: Optional[Command], options: dict[str, Any]) -> None:
        self.services = services
        self.command = command
        self.options = options
        self.attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name
        own = owner.__dict__.get(_POOLS)
        if own is None:
            own = [*getattr(owner, _POOLS, ())]
            setattr(owner, _POOLS, own)
            _wrap_hooks(owner)
        own.append(self)

    @overload
    def __get__(self, instance: None, owner: type) -> "PoolAttribute": ...
    @overload
    def __get__(self, instance: object, owner: type) -> Pool: ...
    def __get__(self, instance: Optional[object], owner: type) -> Union["PoolAttribute", Pool]:
        if instance is None:
            return self
        # Started pools live in the instance's __dict__, which is read before this descriptor.
        raise NotRunningError(
            f"{owner.__name__}.{self.attr} starts in the instance's on_init phase: "
            "resolve it through Omnitron.create(...) or await container.initialize() first"
        )

    async def start(self) -> Pool:
        if self.services:
            return await Pool.of(*self.services, **self.options)
        assert self.command is not None
        return await Pool.start(self.command, **self.options)


def process_pool(*services: Any, command: Optional[Command] = None, **options: Any) -> Any:
    """A pool of workers hosting ``services`` (``@service`` classes of importable modules), or
    running ``command``, as a class attribute: see the module's documentation. ``options`` are
    those of :meth:`Pool.start`; an unknown one is refused here (E001)."""
    check_options(options, POOL_OPTIONS, "process_pool()")
    if services and command is not None:
        raise InvalidArgumentError("process_pool() takes @service classes or a command, not both")
    if not services and command is None:
        raise InvalidArgumentError("process_pool() needs the @service classes its workers host (or a command=...)")
    if command is not None:
        _command(command)
    for s in services:
        if not isinstance(s, type):
            raise InvalidArgumentError(f"process_pool() takes @service classes, got {describe(s)}")
    return PoolAttribute(services, command, options)


def _wrap_hooks(owner: type) -> None:
    """Gives ``owner`` an ``on_init`` that starts its pools first and an ``on_destroy`` that closes
    them last, around its own (or its base's)."""
    own_init = owner.__dict__.get("on_init")
    own_destroy = owner.__dict__.get("on_destroy")

    async def on_init(self: Any) -> None:
        await _start(self, getattr(type(self), _POOLS, ()))
        hook = own_init.__get__(self) if own_init is not None else getattr(super(owner, self), "on_init", None)
        if hook is not None:
            r = hook()
            if inspect.isawaitable(r):
                await r

    async def on_destroy(self: Any) -> None:
        try:
            hook = own_destroy.__get__(self) if own_destroy is not None else getattr(super(owner, self), "on_destroy", None)
            if hook is not None:
                r = hook()
                if inspect.isawaitable(r):
                    await r
        finally:
            for p in getattr(type(self), _POOLS, ()):
                pool = self.__dict__.pop(p.attr, None)
                if isinstance(pool, Pool):
                    await pool.close()

    setattr(owner, "on_init", on_init)
    setattr(owner, "on_destroy", on_destroy)


async def _start(instance: Any, pools: Any) -> None:
    started: list[Pool] = []
    try:
        for p in pools:
            if isinstance(instance.__dict__.get(p.attr), Pool):
                continue
            pool = await p.start()
            started.append(pool)
            instance.__dict__[p.attr] = pool
    except BaseException:
        for pool in started:
            await pool.close()
        raise
