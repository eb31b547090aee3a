"""The container: the engine decides (graph, checks, plan, order, every error message); this file
only runs the plan. A compiled plan becomes one small closure per provider, so a resolve is a dict
lookup and a call: it never crosses into native code on the hot path."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any, Callable, Optional, Sequence, TypeVar, Union, overload

from .. import _native
from ..errors import InvalidArgumentError, OmnitronError
from .modules import collect_modules
from .providers import _UNSET, KIND_ALIAS, KIND_CLASS, KIND_FACTORY, KIND_VALUE, Entry, class_entry, provider_entry
from .tokens import CONTEXT, Token, describe, token_key, token_name

T = TypeVar("T")

KIND_CONTEXT = 4
SINGLETON, TRANSIENT, SCOPED = 0, 1, 2

_MISSING: Any = object()

Build = Callable[[Optional["_ScopeState"]], Any]


class _ScopeState:
    __slots__ = ("instances", "pending", "created", "disposed", "context")

    def __init__(self, context: Any) -> None:
        self.instances: dict[int, Any] = {}
        self.pending: dict[int, "asyncio.Future[Any]"] = {}
        self.created: list[tuple[int, Any]] = []
        self.disposed = False
        self.context = context


def _has_destroy(v: Any) -> bool:
    return callable(getattr(v, "on_destroy", None))


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
    """A dependency-injection container.

    ::

        c = Container()
        c.register(Config, use_value=Config())
        c.register(UserService)
        users = c.resolve(UserService)
    """

    def __init__(self, *, context: Any = None) -> None:
        self._graph = _native.NativeGraph()
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
        self._initialized = False
        self._context = context

    # ---- registration -------------------------------------------------------------------------

    def register(
        self,
        token: Any,
        *,
        use_class: Any = _UNSET,
        use_value: Any = _UNSET,
        use_factory: Any = _UNSET,
        use_existing: Any = _UNSET,
        inject: Optional[Sequence[Any]] = None,
        scope: Optional[str] = None,
        multi: bool = False,
        override: bool = False,
        is_async: Optional[bool] = None,
    ) -> "Container":
        """Registers a provider: ``register(UserService)`` for an ``@injectable`` class, or
        ``register(token, use_value=... | use_class=... | use_factory=..., inject=[...] |
        use_existing=other)`` with ``scope``, ``multi`` and ``override``."""
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
        pid = self._graph.register(entry.spec)
        self._remember(entry)
        self._entries[pid] = entry
        self._invalidate()
        return self

    def load_module(self, module: Any) -> "Container":
        """Loads a ``@module`` class (or a dynamic module) and everything it imports."""
        return self._load(module, False)

    def _load_root_module(self, module: Any) -> "Container":
        return self._load(module, True)

    def _load(self, module: Any, as_entry: bool) -> "Container":
        self._check_alive()
        entry_key, specs, entries = collect_modules(module, self._graph.has_module)
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
        """Resolves a token synchronously."""
        try:
            return self._ready[token]
        except TypeError:
            if _hashable(token):
                raise
            raise InvalidArgumentError(f"invalid injection token {describe(token)}: it is not hashable") from None

    get = resolve

    async def resolve_async(self, token: Any) -> Any:
        """Resolves a token, awaiting async factories and ``on_init`` hooks."""
        if self._disposed:
            raise _native.disposed_error()
        self._ensure_plan()
        return await self._await(self._get_async(self._root_id(token), None))

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

    def create_scope(self, context: Any = None) -> "Scope":
        """A scope: scoped providers get one instance per scope; ``CONTEXT`` gives ``context``."""
        self._check_alive()
        return Scope(self, _ScopeState(context))

    async def initialize(self) -> None:
        """Builds every singleton in dependency order, awaiting async factories and ``on_init``."""
        if self._disposed:
            raise _native.disposed_error()
        if self._initialized:
            return
        plan = self._ensure_plan()
        for pid in plan["init_order"]:
            await self._await(self._get_async(pid, None))
        self._initialized = True

    async def dispose(self) -> None:
        """Runs every ``on_destroy`` (dependents first) and closes the container. A failing hook
        does not stop the others: all failures are raised together (``errors`` holds each).
        Idempotent; concurrent calls wait for the first."""
        if self._dispose_task is None:
            self._dispose_task = asyncio.ensure_future(self._dispose_once())
        await asyncio.shield(self._dispose_task)

    close = dispose

    @property
    def disposed(self) -> bool:
        return self._disposed

    async def _dispose_once(self) -> None:
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
        return fn(None)

    def _resolve_in(self, token: Any, s: Optional[_ScopeState]) -> Any:
        if self._disposed:
            raise _native.disposed_error()
        self._ensure_plan()
        return self._build[self._root_id(token)](s)

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
        return [self._build[pid](s) for pid in (self._ids_of(token) or ())]

    def _name(self, pid: int) -> str:
        e = self._entries.get(pid)
        return e.spec["name"] if e else "CONTEXT"

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

    # ---- compiling the plan into closures -----------------------------------------------------

    def _ensure_plan(self) -> dict[str, Any]:
        plan = self._plan
        if plan is not None:
            return plan
        plan = self._graph.compile()
        n = len(plan["kinds"])
        build: list[Build] = [None] * n  # type: ignore[list-item]
        self._build = build
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
                roots[tok] = _caching(ready, tok, build[pid])
            else:
                roots[tok] = build[pid]
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
            created = self._created
            cell: list[Any] = []

            def singleton(s: Optional[_ScopeState]) -> Any:
                if cell:
                    return cell[0]
                v = create(None)
                cell.append(v)
                singletons[pid] = v
                if _has_destroy(v):
                    created.append((pid, v))
                return v
            return singleton
        create = self._creator(pid, plan, build)
        if scope == SCOPED:
            def scoped(s: Optional[_ScopeState]) -> Any:
                if s is None:
                    raise graph.explain_needs_scope(pid)
                try:
                    return s.instances[pid]
                except KeyError:
                    v = create(s)
                    s.instances[pid] = v
                    if _has_destroy(v):
                        s.created.append((pid, v))
                    return v
            return scoped
        if plan["needs_scope"][pid]:
            def transient_in_scope(s: Optional[_ScopeState]) -> Any:
                if s is None:
                    raise graph.explain_needs_scope(pid)
                return create(s)
            return transient_in_scope
        return create

    def _creator(self, pid: int, plan: dict[str, Any], build: list[Build]) -> Build:
        """A function building a fresh instance of provider ``pid``."""
        entry = self._entries[pid]
        fns = [_dep_fn(code, plan, build) for code in plan["deps"][pid]]
        make: Build
        if entry.kind == KIND_VALUE:
            value = entry.make
            make = lambda s: value  # noqa: E731
        elif entry.kind in (KIND_CLASS, KIND_FACTORY):
            make = _call(entry.make, fns, entry.names)
        else:
            raise OmnitronError(f"internal: no creator for provider kind {entry.kind}", code="E003")
        if entry.spec["init"] == "sync":
            graph = self._graph
            inner = make

            def with_init(s: Optional[_ScopeState]) -> Any:
                v = inner(s)
                if inspect.isawaitable(v.on_init()):
                    raise graph.explain_async(pid)
                return v
            make = with_init
        return make

    # ---- async path ---------------------------------------------------------------------------

    @staticmethod
    async def _await(v: Any) -> Any:
        return await v if inspect.isawaitable(v) else v

    def _get_async(self, pid: int, s: Optional[_ScopeState]) -> Any:
        """The instance, or an awaitable of it when building it must be awaited."""
        plan = self._plan
        assert plan is not None
        if not plan["is_async"][pid]:
            return self._build[pid](s)
        if plan["failed"][pid]:
            raise self._graph.explain(pid)
        if plan["kinds"][pid] == KIND_ALIAS:
            return self._get_async(plan["deps"][pid][0], s)
        scope = plan["scopes"][pid]
        if scope == SINGLETON:
            if pid in self._singletons:
                return self._singletons[pid]
            fut = self._pending.get(pid)
            if fut is None:
                fut = asyncio.ensure_future(self._create_async(pid, None))
                self._pending[pid] = fut

                def done(f: "asyncio.Future[Any]") -> None:
                    self._pending.pop(pid, None)
                    if not f.cancelled() and f.exception() is None:
                        v = f.result()
                        self._singletons[pid] = v
                        self._build[pid] = lambda s: v
                        if _has_destroy(v):
                            self._created.append((pid, v))
                fut.add_done_callback(done)
            return asyncio.shield(fut)
        if scope == SCOPED:
            if s is None:
                raise self._graph.explain_needs_scope(pid)
            if pid in s.instances:
                return s.instances[pid]
            fut = s.pending.get(pid)
            if fut is None:
                state = s
                fut = asyncio.ensure_future(self._create_async(pid, state))
                state.pending[pid] = fut

                def scoped_done(f: "asyncio.Future[Any]") -> None:
                    state.pending.pop(pid, None)
                    if not f.cancelled() and f.exception() is None:
                        v = f.result()
                        state.instances[pid] = v
                        if _has_destroy(v):
                            state.created.append((pid, v))
                fut.add_done_callback(scoped_done)
            return asyncio.shield(fut)
        if plan["needs_scope"][pid] and s is None:
            raise self._graph.explain_needs_scope(pid)
        return self._create_async(pid, s)

    async def _create_async(self, pid: int, s: Optional[_ScopeState]) -> Any:
        plan = self._plan
        assert plan is not None
        entry = self._entries[pid]
        args: list[Any] = []
        for code in plan["deps"][pid]:
            if code >= 0:
                args.append(await self._await(self._get_async(code, s)))
            elif code == -1:
                args.append(None)
            elif code <= -3:
                args.append([await self._await(self._get_async(q, s)) for q in plan["many"][-3 - code]])
            else:
                raise self._graph.explain(pid)
        if entry.kind == KIND_VALUE:
            v = entry.make
        else:
            v = entry.make(**dict(zip(entry.names, args))) if entry.names else entry.make(*args)
            if inspect.isawaitable(v):
                v = await v
        if entry.spec["init"] != "none":
            r = v.on_init()
            if inspect.isawaitable(r):
                await r
        return v


def _none(s: Optional[_ScopeState]) -> Any:
    return None


def _dep_fn(code: int, plan: dict[str, Any], build: list[Build]) -> Build:
    if code >= 0:
        return build[code]  # already built: builders are made dependencies first
    if code == -1:
        return _none
    if code <= -3:
        ids = plan["many"][-3 - code]
        return lambda s: [build[q](s) for q in ids]

    def missing(s: Optional[_ScopeState]) -> Any:
        raise OmnitronError("internal: a missing dependency reached the builder", code="E003")
    return missing


def _caching(ready: _Ready, token: Any, b: Build) -> Build:
    """A root function for a singleton: builds it once and stores it for the fast path."""

    def root(s: Optional[_ScopeState]) -> Any:
        v = b(s)
        dict.__setitem__(ready, token, v)
        return v
    return root


def _call(f: Callable[..., Any], fns: list[Build], names: tuple[str, ...]) -> Build:
    """``f(a, b, ...)``, specialised for small arities."""
    if names:
        pairs = list(zip(names, fns))
        return lambda s: f(**{n: g(s) for n, g in pairs})
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


class Scope:
    """A scope of a container (a request, a job): scoped providers get one instance per scope."""

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
        return await c._await(c._get_async(c._root_id(token), self._state))

    def resolve_all(self, token: Any) -> list[Any]:
        return self._container._all(token, self._state)

    async def dispose(self) -> None:
        """Runs ``on_destroy`` on this scope's instances (dependents first). Idempotent."""
        await self._container._dispose_scope(self._state)

    async def __aenter__(self) -> "Scope":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.dispose()


def _scope_disposed() -> OmnitronError:
    from ..errors import from_code

    return from_code("DI008", "this scope has been disposed; create a new scope")


__all__ = ["Container", "Scope"]
_ = Union  # keep typing import for readers of the overloads
