"""How a container resolves: ``_Resolver``, the base class of
:class:`~omnitron.di.container.Container`, compiles the engine's plan into one closure per provider
and builds instances on the sync path (a provider that turns out to be async is the engine's DI005)
and on the async path, keeping singletons and scoped instances. The state it works on is made by
``Container.__init__``."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any, Optional, Sequence

from .. import _native
from ..errors import DIError, OmnitronError
from .plan import (
    DEP_ABSENT,
    DEP_MANY_BASE,
    KIND_ALIAS,
    KIND_CLASS,
    KIND_CONTEXT,
    KIND_VALUE,
    SCOPED,
    SINGLETON,
    ABSENT,
    _MISSING,
    Build,
    _await,
    _building,
    _call,
    _caching,
    _cause_text,
    _defer,
    _dep_fn,
    _has_destroy,
    _Ready,
    _run_destroy_hooks,
    _ScopeState,
    _WentAsync,
)
from .providers import Entry
from .tokens import token_key, token_name


class _Resolver:
    """What :class:`~omnitron.di.container.Container` resolves with. Not used on its own."""

    # Made by Container.__init__.
    _graph: _native.NativeGraph
    _lock: threading.RLock
    _local: threading.local
    _entries: dict[int, Entry]
    _tokens: dict[int, Any]
    _plan: Optional[dict[str, Any]]
    _build: list[Build]
    _root: dict[Any, list[int]]
    _ready: _Ready
    _singletons: dict[int, Any]
    _pending: dict[int, "asyncio.Future[Any]"]
    _created: list[tuple[int, Any]]
    _disposed: bool
    _context: Any

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
