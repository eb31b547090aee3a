"""The container: the engine decides (graph, checks, plan, order, every error message); this file
only runs the plan. A compiled plan becomes one small closure per provider, so a resolve is a dict
lookup and a call: it never crosses into native code on the hot path.

A container may be used from several threads: registration, compilation and the building of
singletons and scoped instances take the container's lock (re-entrant, so dependencies build inside
it); resolving something already built takes none."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import threading
import warnings
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, Sequence, TypeVar, overload

from .. import _native
from .._options import checked_keywords
from ..errors import DIError, InvalidArgumentError, OmnitronError, from_code
from .modules import collect_modules
from .providers import _UNSET, Entry, class_entry, provider_entry
from .scope import ScopeName
from .tokens import CONTEXT, Token, describe, token_key, token_name

if TYPE_CHECKING:
    from .decorators import Provide

T = TypeVar("T")

_C = _native.plan_codes()
KIND_CLASS: int = _C["kind_class"]
KIND_VALUE: int = _C["kind_value"]
KIND_FACTORY: int = _C["kind_factory"]
KIND_ALIAS: int = _C["kind_alias"]
KIND_CONTEXT: int = _C["kind_context"]
SINGLETON: int = _C["scope_singleton"]
SCOPED: int = _C["scope_scoped"]
DEP_ABSENT: int = _C["dep_absent"]
DEP_MANY_BASE: int = _C["dep_many_base"]

_MISSING: Any = object()
#: An optional dependency with no provider, for a parameter that keeps its own default.
ABSENT: Any = object()

Build = Callable[[Optional["_ScopeState"]], Any]

#: (container id, provider id) pairs being built asynchronously in this context (runtime loops).
_building: contextvars.ContextVar[tuple[tuple[int, int], ...]] = contextvars.ContextVar("omnitron_building", default=())
#: Ids of the containers whose ``initialize()`` runs in this context (a hook calling it again).
_initializing: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("omnitron_initializing", default=())


def _cause_text(e: BaseException) -> str:
    """What an exception says, for the engine's message (with its class unless it is plain)."""
    return str(e) if type(e) is Exception else f"{type(e).__name__}: {e}"


class _ScopeState:
    __slots__ = ("instances", "pending", "created", "disposed", "context")

    def __init__(self, context: Any) -> None:
        self.instances: dict[int, Any] = {}
        self.pending: dict[int, "asyncio.Future[Any]"] = {}
        self.created: list[tuple[int, Any]] = []
        self.disposed = False
        self.context = context


class _WentAsync(Exception):
    """Raised inside the sync path when a factory returned an awaitable: the provider turned out to
    be async. The sync API turns it into the engine's DI005 error; the async API awaits ``future``
    (or builds on the async path when no event loop was running)."""

    def __init__(self, pid: int, future: Optional["asyncio.Future[Any]"]) -> None:
        super().__init__(pid)
        self.pid = pid
        self.future = future


def _defer(pid: int, awaitable: Awaitable[Any], failed: Callable[[Exception], BaseException]) -> _WentAsync:
    """A provider went async: schedule the rest on the running loop, if there is one. ``failed``
    turns what the awaitable raises into the error to report."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # nothing can ever await it here
        return _WentAsync(pid, None)

    async def finish() -> Any:
        try:
            return await awaitable
        except (_WentAsync, DIError):
            raise
        except Exception as e:
            raise failed(e) from e

    fut = asyncio.ensure_future(finish())
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no "never retrieved" noise
    return _WentAsync(pid, fut)


def _has_destroy(v: Any) -> bool:
    return not isinstance(v, type) and callable(getattr(v, "on_destroy", None))


def _has_init(v: Any) -> bool:
    return not isinstance(v, type) and callable(getattr(v, "on_init", None))


def _hashable(token: Any) -> bool:
    try:
        hash(token)
        return True
    except TypeError:
        return False


class _Ready(dict):  # type: ignore[type-arg]
    """Root-resolved singletons by token. A miss calls the token's compiled root function (which
    stores singletons back here), or the full path when the token is unknown to the plan."""

    __slots__ = ("roots", "slow")
    roots: dict[Any, Callable[[Optional[_ScopeState]], Any]]
    slow: Callable[[Any], Any]

    def __missing__(self, token: Any) -> Any:
        fn = self.roots.get(token)
        if fn is not None:
            return fn(None)
        return self.slow(token)


class Container:
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

    # ---- internals shared with Scope ----------------------------------------------------------

    def _resolve_root(self, token: Any) -> Any:
        """The full path of a root resolve: checks, (re)compiles, then the compiled root function."""
        if self._disposed:
            raise _native.disposed_error()
        self._ensure_plan()
        fn = self._ready.roots.get(token)
        if fn is None:
            fn = self._build[self._root_id(token)]
        return self._sync(fn, None)

    def _sync(self, fn: Build, s: Optional[_ScopeState]) -> Any:
        """Builds synchronously; a provider that turns out to be async is the engine's DI005."""
        try:
            return fn(s)
        except _WentAsync as e:
            raise self._graph.explain_async(e.pid) from None

    def _resolve_in(self, token: Any, s: Optional[_ScopeState]) -> Any:
        if self._disposed:
            raise _native.disposed_error()
        self._ensure_plan()
        return self._sync(self._build[self._root_id(token)], s)

    def _root_id(self, token: Any) -> int:
        ids = self._ids_of(token)
        if ids is None:
            raise self._graph.explain_missing(token_key(token), token_name(token))
        return ids[0]

    def _ids_of(self, token: Any) -> Optional[list[int]]:
        try:
            ids = self._root.get(token)
        except TypeError:
            ids = None
        if ids is not None:
            return ids
        key = token_key(token)
        known = self._tokens.get(key, _MISSING)
        return self._root.get(known) if known is not _MISSING and known is not token else None

    def _all(self, token: Any, s: Optional[_ScopeState]) -> list[Any]:
        if self._disposed:
            raise _native.disposed_error()
        self._ensure_plan()
        return [self._sync(self._build[pid], s) for pid in (self._ids_of(token) or ())]

    def _failed(self, pid: int, what: str, e: BaseException, path: Sequence[int]) -> BaseException:
        """What a failed factory, constructor or hook raises (``from`` the original): DI011 / DI012
        naming the provider, the resolution path and the module path."""
        err: BaseException = self._graph.explain_failure(pid, what, list(path), _cause_text(e))
        return err

    def _name(self, pid: int) -> str:
        e = self._entries.get(pid)
        return str(e.spec["name"]) if e else "CONTEXT"

    def _check_alive(self) -> None:
        if self._disposed:
            raise _native.disposed_error()

    async def _dispose_scope(self, s: _ScopeState) -> None:
        if s.disposed:
            return
        s.disposed = True
        created, s.created = s.created, []
        s.instances.clear()
        if not self._disposed:
            await _run_destroy_hooks(self._graph, created, "scope", self._name)

    def _discard(self, v: Any) -> OmnitronError:
        """An instance finished after its container (or scope) was disposed: destroy it, report
        DI008."""
        if _has_destroy(v):
            try:
                r = v.on_destroy()
                if inspect.iscoroutine(r):
                    r.close()
            except Exception:  # nothing left to report it to
                pass
        e: OmnitronError = _native.disposed_error()  # type: ignore[assignment]
        return e

    # ---- compiling the plan into closures -----------------------------------------------------

    def _ensure_plan(self) -> dict[str, Any]:
        plan = self._plan
        if plan is not None:
            return plan
        with self._lock:
            if self._plan is not None:
                return self._plan
            plan = self._graph.compile()
            n = len(plan["kinds"])
            build: list[Build] = [None] * n  # type: ignore[list-item]
            # Dependencies first, so a builder can hold its dependencies' builders directly.
            ranks = plan["ranks"]
            for pid in sorted(range(n), key=ranks.__getitem__):
                build[pid] = self._builder(pid, plan, build)
            root: dict[Any, list[int]] = {}
            roots: dict[Any, Build] = {}
            ready = self._ready
            for key, ids in plan["root"]:
                tok = self._tokens.get(key, _MISSING)
                if tok is _MISSING:
                    continue
                root[tok] = ids
                pid = ids[0]
                if plan["scopes"][pid] == SINGLETON and plan["kinds"][pid] != KIND_ALIAS and not plan["failed"][pid]:
                    roots[tok] = _caching(self, ready, tok, build[pid])
                else:
                    roots[tok] = build[pid]
            self._build = build
            self._root = root
            ready.roots = roots
            self._plan = plan
            return plan

    def _builder(self, pid: int, plan: dict[str, Any], build: list[Build]) -> Build:
        kind = plan["kinds"][pid]
        graph = self._graph
        if kind == KIND_CONTEXT:
            root_context = self._context
            return lambda s: root_context if s is None else s.context
        if plan["failed"][pid]:
            def failed(s: Optional[_ScopeState]) -> Any:
                raise graph.explain(pid)
            return failed
        scope = plan["scopes"][pid]
        if kind == KIND_ALIAS:
            target: int = plan["deps"][pid][0]
            return build[target]
        singletons = self._singletons
        if plan["is_async"][pid]:
            def built_or_async(s: Optional[_ScopeState]) -> Any:
                if scope == SINGLETON and pid in singletons:
                    return singletons[pid]
                if scope == SCOPED and s is not None and pid in s.instances:
                    return s.instances[pid]
                raise graph.explain_async(pid)
            return built_or_async
        if scope == SINGLETON:
            if pid in singletons:
                v = singletons[pid]
                return lambda s: v
            create = self._creator(pid, plan, build)
            lock = self._lock
            pending = self._pending
            cell: list[Any] = []

            def singleton(s: Optional[_ScopeState]) -> Any:
                if cell:
                    return cell[0]
                with lock:
                    if cell:
                        return cell[0]
                    if pid in singletons:  # built on the async path
                        cell.append(singletons[pid])
                        return cell[0]
                    fut = pending.get(pid)
                    if fut is not None:
                        raise _WentAsync(pid, fut)
                    try:
                        v = create(None)
                    except _WentAsync as e:
                        if e.pid == pid and e.future is not None:
                            self._settle(pid, None, e.future)
                        raise
                    self._keep(pid, None, v)
                    cell.append(v)
                    return v
            return singleton
        create = self._creator(pid, plan, build)
        if scope == SCOPED:
            lock = self._lock

            def scoped(s: Optional[_ScopeState]) -> Any:
                if s is None:
                    raise graph.explain_needs_scope(pid)
                try:
                    return s.instances[pid]
                except KeyError:
                    pass
                with lock:
                    if pid in s.instances:
                        return s.instances[pid]
                    fut = s.pending.get(pid)
                    if fut is not None:
                        raise _WentAsync(pid, fut)
                    try:
                        v = create(s)
                    except _WentAsync as e:
                        if e.pid == pid and e.future is not None:
                            self._settle(pid, s, e.future)
                        raise
                    return self._keep(pid, s, v)
            return scoped
        if plan["needs_scope"][pid]:
            def transient_in_scope(s: Optional[_ScopeState]) -> Any:
                if s is None:
                    raise graph.explain_needs_scope(pid)
                return create(s)
            return transient_in_scope
        return create

    def _keep(self, pid: int, s: Optional[_ScopeState], v: Any) -> Any:
        """Stores a freshly built singleton (``s is None``) or scoped instance."""
        if s is None:
            if self._disposed:
                raise self._discard(v)
            self._singletons[pid] = v
            if _has_destroy(v):
                self._created.append((pid, v))
        else:
            if self._disposed or s.disposed:
                raise self._discard(v)
            s.instances[pid] = v
            if _has_destroy(v):
                s.created.append((pid, v))
        return v

    def _settle(self, pid: int, s: Optional[_ScopeState], fut: "asyncio.Future[Any]") -> "asyncio.Future[Any]":
        """Caches an async build once it finishes; concurrent callers share the future."""
        pending = self._pending if s is None else s.pending
        pending[pid] = fut

        def done(f: "asyncio.Future[Any]") -> None:
            pending.pop(pid, None)
            if not f.cancelled() and f.exception() is None:
                v = f.result()
                with self._lock:
                    try:
                        self._keep(pid, s, v)
                    except OmnitronError:
                        pass  # disposed meanwhile: _keep destroyed it
                    if s is None:
                        self._build[pid] = lambda _s: v

        fut.add_done_callback(done)
        return fut

    def _creator(self, pid: int, plan: dict[str, Any], build: list[Build]) -> Build:
        """A function building a fresh instance of provider ``pid``."""
        entry = self._entries[pid]
        if entry.kind == KIND_VALUE:
            value = entry.make
            return lambda s: value
        fns = [_dep_fn(code, plan, build) for code in plan["deps"][pid]]
        make = _call(entry.make, fns, entry.names, entry.defaults)
        is_class = entry.kind == KIND_CLASS
        what = "constructor" if is_class else "factory"
        local = self._local
        graph = self._graph
        failed = self._failed
        me = id(self)

        def building() -> list[int]:
            """The providers being built on the async path around this synchronous build."""
            return [p for c, p in _building.get() if c == me]

        # A factory's result may be awaitable: then the provider went async (the async path awaits;
        # the sync path is DI005). What the constructor or factory raises is reported naming this
        # provider (dependencies' failures are reported by their own builders, as DI errors). The
        # per-thread stack of providers being built catches a factory that resolves what is being
        # built (a runtime loop) before it recurses away.
        def create(s: Optional[_ScopeState]) -> Any:
            try:
                stack: list[int] = local.stack
            except AttributeError:
                stack = local.stack = []
            if pid in stack:
                raise graph.explain_loop([*stack[stack.index(pid):], pid])
            stack.append(pid)
            try:
                v = make(s)
                if not is_class and inspect.isawaitable(v):
                    path = building() + stack
                    raise _defer(pid, v, lambda e: failed(pid, what, e, path))
                return v
            except (_WentAsync, DIError):
                raise
            except Exception as e:
                raise failed(pid, what, e, building() + stack) from e
            finally:
                stack.pop()

        return create

    # ---- async path ---------------------------------------------------------------------------

    def _get_async(self, pid: int, s: Optional[_ScopeState]) -> Any:
        """The instance, or an awaitable of it when building it must be awaited."""
        plan = self._plan
        assert plan is not None
        if not plan["is_async"][pid]:
            try:
                return self._build[pid](s)
            except _WentAsync as e:
                if e.pid == pid and e.future is not None:
                    return asyncio.shield(e.future)
                return self._get_async_slow(pid, s)
        return self._get_async_slow(pid, s)

    def _get_async_slow(self, pid: int, s: Optional[_ScopeState]) -> Any:
        plan = self._plan
        assert plan is not None
        if plan["failed"][pid]:
            raise self._graph.explain(pid)
        if plan["kinds"][pid] == KIND_ALIAS:
            return self._get_async(plan["deps"][pid][0], s)
        me = (id(self), pid)
        chain = _building.get()
        if me in chain:
            path = [p for c, p in chain if c == id(self)]
            raise self._graph.explain_loop([*path[path.index(pid):], pid])
        scope = plan["scopes"][pid]
        if scope == SINGLETON:
            if pid in self._singletons:
                return self._singletons[pid]
            fut = self._pending.get(pid)
            if fut is None:
                fut = self._settle(pid, None, asyncio.ensure_future(self._create_async(pid, None)))
            return asyncio.shield(fut)
        if scope == SCOPED:
            if s is None:
                raise self._graph.explain_needs_scope(pid)
            if pid in s.instances:
                return s.instances[pid]
            fut = s.pending.get(pid)
            if fut is None:
                fut = self._settle(pid, s, asyncio.ensure_future(self._create_async(pid, s)))
            return asyncio.shield(fut)
        if plan["needs_scope"][pid] and s is None:
            raise self._graph.explain_needs_scope(pid)
        return self._create_async(pid, s)

    async def _create_async(self, pid: int, s: Optional[_ScopeState]) -> Any:
        chain = (*_building.get(), (id(self), pid))
        token = _building.set(chain)
        try:
            plan = self._plan
            assert plan is not None
            entry = self._entries[pid]
            args: list[Any] = []
            for code in plan["deps"][pid]:
                if code >= 0:
                    args.append(await _await(self._get_async(code, s)))
                elif code == DEP_ABSENT:
                    name = entry.names[len(args)] if entry.names else None
                    args.append(ABSENT if name in entry.defaults else None)
                elif code <= DEP_MANY_BASE:
                    args.append([await _await(self._get_async(q, s)) for q in plan["many"][DEP_MANY_BASE - code]])
                else:
                    raise self._graph.explain(pid)
            if entry.kind == KIND_VALUE:
                return entry.make
            try:
                if entry.names:
                    v = entry.make(**{n: a for n, a in zip(entry.names, args) if a is not ABSENT})
                else:
                    v = entry.make(*args)
                if inspect.isawaitable(v):
                    v = await v
            except DIError:
                raise
            except Exception as e:
                path = [p for c, p in chain if c == id(self)]
                raise self._failed(pid, "constructor" if entry.kind == KIND_CLASS else "factory", e, path) from e
            if self._disposed or (s is not None and s.disposed):
                raise self._discard(v)
            return v
        finally:
            _building.reset(token)


async def _await(v: Any) -> Any:
    return await v if inspect.isawaitable(v) else v


def _none(s: Optional[_ScopeState]) -> Any:
    return None


def _absent(s: Optional[_ScopeState]) -> Any:
    return ABSENT


def _dep_fn(code: int, plan: dict[str, Any], build: list[Build]) -> Build:
    if code >= 0:
        return build[code]  # already built: builders are made dependencies first
    if code == DEP_ABSENT:
        return _none
    if code <= DEP_MANY_BASE:
        ids = plan["many"][DEP_MANY_BASE - code]
        return lambda s: [build[q](s) for q in ids]

    def missing(s: Optional[_ScopeState]) -> Any:
        raise OmnitronError("internal: a missing dependency reached the builder", code="E003")
    return missing


def _caching(c: Container, ready: _Ready, token: Any, b: Build) -> Build:
    """A root function for a singleton: builds it once and stores it for the fast path."""

    def root(s: Optional[_ScopeState]) -> Any:
        v = b(s)
        dict.__setitem__(ready, token, v)
        return v
    return root


def _call(f: Callable[..., Any], fns: list[Build], names: tuple[str, ...], defaults: frozenset[str] = frozenset()) -> Build:
    """``f(a, b, ...)``, specialised for small arities. By keyword when ``names`` is given: then an
    optional dependency with no provider leaves a parameter that has a default to its default."""
    if names:
        pairs = [(n, _absent if g is _none and n in defaults else g) for n, g in zip(names, fns)]

        def by_name(s: Optional[_ScopeState]) -> Any:
            kwargs = {}
            for n, g in pairs:
                v = g(s)
                if v is not ABSENT:
                    kwargs[n] = v
            return f(**kwargs)
        return by_name
    n = len(fns)
    if n == 0:
        return lambda s: f()
    if n == 1:
        (a,) = fns
        return lambda s: f(a(s))
    if n == 2:
        a, b = fns
        return lambda s: f(a(s), b(s))
    if n == 3:
        a, b, c = fns
        return lambda s: f(a(s), b(s), c(s))
    return lambda s: f(*[g(s) for g in fns])


async def _run_destroy_hooks(graph: Any, created: list[tuple[int, Any]], what: str, name: Callable[[int], str]) -> None:
    if not created:
        return
    order = graph.dispose_order([pid for pid, _ in created])
    seen: set[int] = set()
    failures: list[tuple[int, BaseException]] = []
    for i in order:
        pid, v = created[i]
        if id(v) in seen:
            continue
        seen.add(id(v))
        try:
            r = v.on_destroy()
            if inspect.isawaitable(r):
                await r
        except Exception as e:  # every hook runs; failures are reported together
            failures.append((pid, e))
    if failures:
        exc = _native.lifecycle_error(what, len(created), [(name(pid), str(e)) for pid, e in failures])
        exc.errors = [e for _, e in failures]
        raise exc from failures[0][1]


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
