"""The container: the engine decides (graph, checks, plan, order, every error message); Python
only runs the plan. A compiled plan becomes one small closure per provider, so a resolve is a dict
lookup and a call: it never crosses into native code on the hot path.

A container may be used from several threads: registration, compilation and the building of
singletons and scoped instances take the container's lock (re-entrant, so dependencies build inside
it); resolving something already built takes none.

This file holds what users call: :class:`Container` (registration, resolution, lifecycle) and
:class:`ContainerScope`. How a container resolves (the compiled closures, the sync and async paths)
is its base class in ``resolver.py``; the pieces those closures are made of are in ``plan.py``."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import warnings
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TypeVar, overload

from .. import _native
from .._options import checked_keywords
from ..errors import DIError, InvalidArgumentError, OmnitronError, from_code
from .modules import collect_modules
from .providers import _UNSET, KIND_CLASS, Entry, class_entry, provider_entry
from .resolver import _Resolver
from .scope import ScopeName
from .tokens import CONTEXT, Token, describe

# What was importable from here before ``plan.py`` and ``resolver.py`` were split from this module
# stays importable (standard library names aside).
from .plan import (
    _C as _C,
    ABSENT as ABSENT,
    DEP_ABSENT as DEP_ABSENT,
    DEP_MANY_BASE as DEP_MANY_BASE,
    KIND_ALIAS as KIND_ALIAS,
    KIND_CLASS as KIND_CLASS,
    KIND_CONTEXT as KIND_CONTEXT,
    KIND_FACTORY as KIND_FACTORY,
    KIND_VALUE as KIND_VALUE,
    SCOPED as SCOPED,
    SINGLETON as SINGLETON,
    _MISSING as _MISSING,
    Build as Build,
    _absent as _absent,
    _await as _await,
    _building as _building,
    _call as _call,
    _caching as _caching,
    _cause_text as _cause_text,
    _defer as _defer,
    _dep_fn as _dep_fn,
    _has_destroy as _has_destroy,
    _has_init as _has_init,
    _hashable as _hashable,
    _initializing as _initializing,
    _none as _none,
    _Ready as _Ready,
    _run_destroy_hooks as _run_destroy_hooks,
    _ScopeState as _ScopeState,
    _WentAsync as _WentAsync,
)
from .tokens import token_key as token_key, token_name as token_name

if TYPE_CHECKING:
    from .decorators import Provide

T = TypeVar("T")


class Container(_Resolver):
    """A dependency-injection container. Close it with ``await container.close()``, or use it as an
    async context manager.

    ::

        c = Container()
        c.register(Config, use_value=Config())
        c.register(UserService)
        users = c.resolve(UserService)
    """

    @checked_keywords("Container()")
    def __init__(self, *, context: Any = None) -> None:
        self._graph = _native.NativeGraph()
        self._lock = threading.RLock()
        self._local = threading.local()
        self._entries: dict[int, Entry] = {}
        self._tokens: dict[int, Any] = {CONTEXT.key: CONTEXT}
        self._plan: Optional[dict[str, Any]] = None
        self._build: list[Build] = []
        self._root: dict[Any, list[int]] = {}
        self._ready = _Ready()
        self._ready.roots = {}
        self._ready.slow = self._resolve_root
        self._singletons: dict[int, Any] = {}
        self._pending: dict[int, "asyncio.Future[Any]"] = {}
        self._created: list[tuple[int, Any]] = []
        self._disposed = False
        self._dispose_task: Optional["asyncio.Future[None]"] = None
        #: ``id()`` of the instances whose ``on_init`` has run (singletons, kept alive by the container).
        self._inited: set[int] = set()
        #: The ``initialize()`` running now, if any; the next one waits for it.
        self._init_running: Optional["asyncio.Future[None]"] = None
        self._context = context

    # ---- registration -------------------------------------------------------------------------

    @checked_keywords("Container.register()")
    def register(
        self,
        token: Any,
        *,
        use_class: Any = _UNSET,
        use_value: Any = _UNSET,
        use_factory: Any = _UNSET,
        use_existing: Any = _UNSET,
        inject: Optional[Sequence[Any]] = None,
        scope: ScopeName = _UNSET,
        multi: bool = False,
        override: bool = False,
        is_async: Optional[bool] = None,
    ) -> "Container":
        """Registers a provider: ``register(UserService)`` for a class (``@injectable``, or one
        whose ``__init__`` takes no parameters or only type-hinted ones), or ``register(token,
        use_value=... | use_class=... | use_factory=..., inject=[...] | use_existing=other)`` with
        ``scope`` (a :class:`Scope` or its name), ``multi`` and ``override``."""
        self._check_alive()
        if use_class is _UNSET and use_value is _UNSET and use_factory is _UNSET and use_existing is _UNSET:
            entry = class_entry(token, scope=scope, multi=multi, override=override)
        else:
            entry = provider_entry(
                token,
                use_class=use_class,
                use_value=use_value,
                use_factory=use_factory,
                use_existing=use_existing,
                inject=inject,
                scope=scope,
                multi=multi,
                override=override,
                is_async=is_async,
            )
        with self._lock:
            pid = self._graph.register(entry.spec)
            self._remember(entry)
            self._entries[pid] = entry
            self._invalidate()
        return self

    def load_module(self, module: Any) -> "Container":
        """Loads a ``@module`` class (or a dynamic module) and everything it imports."""
        return self._load(module, False)

    def _load_root_module(self, module: Any, swap: Optional[Callable[[Any], Any]] = None) -> "Container":
        """``Omnitron.create`` and testing modules: the module's whole inside view becomes
        resolvable; ``swap`` replaces modules wherever they are imported (``override_module``)."""
        return self._load(module, True, swap)

    def _override_provider(self, replacement: Provide) -> "Container":
        """A testing module's ``override_provider(token)``: ``replacement`` takes the place of every
        provider of its token, in whichever module declared it (the engine's override: each keeps
        its module and exports), or is registered in the container when nothing provides it. Made
        before anything is built."""
        self._check_alive()
        entry = provider_entry(replacement.token, **replacement.kwargs)
        with self._lock:
            ids = self._graph.override_provider(entry.spec) or [self._graph.register(entry.spec)]
            self._remember(entry)
            for pid in ids:
                self._entries[pid] = entry
                self._singletons.pop(pid, None)
            self._invalidate()
        return self

    def _load(self, module: Any, as_entry: bool, swap: Optional[Callable[[Any], Any]] = None) -> "Container":
        self._check_alive()
        with self._lock:
            entry_key, specs, entries = collect_modules(module, self._graph.has_module, swap)
            ids = self._graph.load_modules(entry_key, specs, as_entry)
            for module_ids, module_entries in zip(ids, entries):
                for pid, e in zip(module_ids, module_entries):
                    self._remember(e)
                    self._entries[pid] = e
            self._invalidate()
        return self

    def _remember(self, e: Entry) -> None:
        self._tokens[e.spec["token"]] = e.token
        for d in e.spec["deps"]:
            self._tokens.setdefault(d["token"], d["name"])

    def _invalidate(self) -> None:
        self._plan = None
        self._ready.clear()
        self._ready.roots = {}

    # ---- resolution ---------------------------------------------------------------------------

    @overload
    def resolve(self, token: type[T]) -> T: ...
    @overload
    def resolve(self, token: Token[T]) -> T: ...
    @overload
    def resolve(self, token: str) -> Any: ...

    def resolve(self, token: Any) -> Any:
        """Resolves a token synchronously. Never runs ``on_init`` (``initialize()`` does); raises
        DI005 only when building it needs an async factory that has not run yet."""
        try:
            return self._ready[token]
        except _WentAsync as e:
            raise self._graph.explain_async(e.pid) from None
        except TypeError:
            if _hashable(token):
                raise
            raise InvalidArgumentError(f"invalid injection token {describe(token)}: it is not hashable") from None

    get = resolve

    async def resolve_async(self, token: Any) -> Any:
        """Resolves a token, awaiting async factories. Never runs ``on_init`` (``initialize()``
        does)."""
        if self._disposed:
            raise _native.disposed_error()
        self._ensure_plan()
        return await _await(self._get_async(self._root_id(token), None))

    async def _class_instances(self, keep: Callable[[type], bool]) -> list[Any]:
        """The instances of the class providers whose class ``keep`` accepts (a module's
        controllers, health indicators), built by provider, whether visible from the root or not,
        in registration order."""
        if self._disposed:
            raise _native.disposed_error()
        self._ensure_plan()
        with self._lock:
            picked = [pid for pid, e in sorted(self._entries.items()) if e.kind == KIND_CLASS and isinstance(e.make, type) and keep(e.make)]
        return [await _await(self._get_async(pid, None)) for pid in picked]

    def resolve_optional(self, token: Any) -> Any:
        """Resolves a token, or ``None`` when nothing provides it."""
        return self.resolve(token) if self.has(token) else None

    def resolve_all(self, token: Any) -> list[Any]:
        """Every provider of a multi token, in registration order (``[]`` when there is none)."""
        return self._all(token, None)

    resolve_many = resolve_all

    def has(self, token: Any) -> bool:
        """Whether something visible from the container provides ``token``."""
        if self._disposed:
            return False
        self._ensure_plan()
        return self._ids_of(token) is not None

    def create_scope(self, context: Any = None) -> "ContainerScope":
        """A scope: scoped providers get one instance per scope; ``CONTEXT`` gives ``context``."""
        self._check_alive()
        return ContainerScope(self, _ScopeState(context))

    async def initialize(self) -> None:
        """Builds every singleton not built yet and runs the ``on_init`` hooks of the instances not
        yet initialized, in dependency order (a provider's dependencies are built and initialized
        before it is built), awaiting async factories and hooks.

        Resolving never runs ``on_init``: only this does, once per singleton instance; transient and
        scoped instances are never initialized. Calling it again does only what is left
        (singletons registered, or built by a resolve, since). A failing hook raises DI012
        (``LifecycleError``, from the hook's exception); that hook runs again on the next call."""
        if self._disposed:
            raise _native.disposed_error()
        if id(self) in _initializing.get():
            raise _native.initialize_reentered_error()
        while self._init_running is not None:
            try:
                await asyncio.shield(self._init_running)
            except Exception:
                pass  # the other call reports its own failure
        done: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self._init_running = done
        token = _initializing.set((*_initializing.get(), id(self)))
        try:
            await self._initialize_once()
        finally:
            _initializing.reset(token)
            self._init_running = None
            done.set_result(None)

    async def _initialize_once(self) -> None:
        order = list(self._ensure_plan()["init_order"])
        for pid in order:
            if self._disposed:
                raise _native.disposed_error()
            self._ensure_plan()  # a hook may have registered something meanwhile
            v = await _await(self._get_async(pid, None))
            if not _has_init(v) or id(v) in self._inited:
                continue
            try:
                r = v.on_init()
                if inspect.isawaitable(r):
                    await r
            except DIError:
                raise
            except Exception as e:
                raise self._failed(pid, "on_init", e, ()) from e
            self._inited.add(id(v))
            if self._disposed:  # a hook disposed the container
                raise _native.disposed_error()

    async def close(self) -> None:
        """Runs every ``on_destroy`` (dependents first) and closes the container. A failing hook
        does not stop the others: all failures are raised together (``errors`` holds each).
        Idempotent; concurrent calls wait for the first."""
        if self._dispose_task is None:
            self._dispose_task = asyncio.ensure_future(self._dispose_once())
        await asyncio.shield(self._dispose_task)

    async def dispose(self) -> None:
        """Deprecated: use :meth:`close`."""
        warnings.warn("Container.dispose() is deprecated; use close()", DeprecationWarning, stacklevel=2)
        await self.close()

    async def __aenter__(self) -> "Container":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def disposed(self) -> bool:
        return self._disposed

    async def _dispose_once(self) -> None:
        with self._lock:
            self._disposed = True
            self._graph.mark_disposed()
            self._ready.clear()
            self._ready.roots = {}
            created, self._created = self._created, []
        await _run_destroy_hooks(self._graph, created, "container", self._name)

    def export_graph(self, format: str = "json") -> Any:
        """The dependency graph: a dict (``json``) or Mermaid text (``mermaid``)."""
        text = self._graph.export_graph(format)
        return json.loads(text) if format == "json" else text


class ContainerScope:
    """A scope of a container (a request, a job): scoped providers get one instance per scope. Close
    it with ``await scope.close()``, or use it as an async context manager. (The scope constants,
    ``Scope.TRANSIENT`` and the like, are :class:`~omnitron.di.Scope`.)"""

    def __init__(self, container: Container, state: _ScopeState) -> None:
        self._container = container
        self._state = state

    @property
    def context(self) -> Any:
        return self._state.context

    def resolve(self, token: Any) -> Any:
        if self._state.disposed:
            raise _scope_disposed()
        return self._container._resolve_in(token, self._state)

    get = resolve

    async def resolve_async(self, token: Any) -> Any:
        if self._state.disposed:
            raise _scope_disposed()
        c = self._container
        if c._disposed:
            raise _native.disposed_error()
        c._ensure_plan()
        return await _await(c._get_async(c._root_id(token), self._state))

    def resolve_all(self, token: Any) -> list[Any]:
        if self._state.disposed:
            raise _scope_disposed()
        return self._container._all(token, self._state)

    async def close(self) -> None:
        """Runs ``on_destroy`` on this scope's instances (dependents first). Idempotent."""
        await self._container._dispose_scope(self._state)

    async def dispose(self) -> None:
        """Deprecated: use :meth:`close`."""
        warnings.warn("ContainerScope.dispose() is deprecated; use close()", DeprecationWarning, stacklevel=2)
        await self.close()

    async def __aenter__(self) -> "ContainerScope":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _scope_disposed() -> OmnitronError:
    return from_code("DI008", "this scope has been disposed; create a new scope")


__all__ = ["Container", "ContainerScope"]
