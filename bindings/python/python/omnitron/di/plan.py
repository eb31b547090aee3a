"""The pieces a container's compiled plan is made of: the engine's plan codes, a scope's state, the
closures a provider compiles to (``_dep_fn``, ``_call``, ``_caching``), the signal that a provider
went async (``_WentAsync``), the fast path's cache of root singletons (``_Ready``), and the runner of
``on_destroy`` hooks. ``resolver.py`` assembles them; nothing here holds a container's state."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from .. import _native
from ..errors import DIError, OmnitronError

if TYPE_CHECKING:
    from .resolver import _Resolver

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


def _caching(c: _Resolver, ready: _Ready, token: Any, b: Build) -> Build:
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
