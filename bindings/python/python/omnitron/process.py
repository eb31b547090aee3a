"""Process pools and supervision trees, with children in any language.

A pool of worker processes (``images.py`` holds a ``@service`` class ``Resizer`` with ``resize(data,
size)`` and ``thumbnail(data)``)::

    from omnitron import Pool
    from images import Resizer

    pool = await Pool.start(["python", "-m", "omnitron.worker", "images:Resizer"], size="auto")
    thumb = await pool.exec("resize", b"...", 128)
    thumbs = await pool.map([b"a", b"b", b"c"], "thumbnail")   # in chunks, as multiprocessing.Pool.map
    await pool.close()

    async with Pool.of(Resizer, size=2) as pool:   # the same, for a class of an importable module
        assert len(await pool.map(range(100), "thumbnail")) == 100

A supervisor (the spec's ``@Supervisor``, ``@Child``, ``@OnChildCrash``, ``@OnChildRestart``)::

    from omnitron import ChildInfo, Supervisor, child, on_child_crash, on_child_restart, supervisor
    from inventory import Inventory

    @supervisor(strategy="one-for-one", max_restarts=3, window=60.0)
    class Backend:
        api = child(["python", "-m", "omnitron.worker", "inventory:Inventory"], instances=2)
        inventory = child.python(Inventory, critical=True)   # a @service class of an importable module

        @on_child_crash
        async def crashed(self, info: ChildInfo, reason: str) -> str | None:
            return None          # None: the child's restart policy decides

        @on_child_restart
        def restarted(self, info: ChildInfo, attempt: int) -> None: ...

    async with Supervisor.from_class(Backend) as sup:   # started here, closed at the end
        assert [c["state"] for c in await sup.children()] == ["running"] * 3

``sup = Supervisor.from_class(Backend)`` then ``await sup.start()`` and ``await sup.close()`` do the
same by hand. ``@supervisor`` alone takes the defaults and the class's name.

Children connect back to this process by themselves (address, token and id in their environment;
Python children use ``python -m omnitron.worker``). Durations are in seconds. A parent killed even
with SIGKILL takes its children with it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence, TypedDict, Union

from . import _native, _poll
from . import telemetry as _telemetry
from ._background import spawn
from ._opening import opening
from ._options import check_options, checked_keywords, keyword_names
from ._turn import Turn
from .di.tokens import describe
from .errors import InvalidArgumentError, NotRunningError, OmnitronError, remote_error

__all__ = [
    "ChildInfo",
    "HealthCheck",
    "Pool",
    "StatusPage",
    "Supervisor",
    "child",
    "on_child_crash",
    "on_child_restart",
    "python_worker",
    "supervisor",
]

STRATEGIES = ("round-robin", "least-loaded", "power-of-two")
SUPERVISION = ("one-for-one", "one-for-all", "rest-for-one", "simple-one-for-one")
RESTARTS = ("always", "on-failure", "never")
DECISIONS = ("restart", "ignore", "escalate", "shutdown")


class ChildInfo(TypedDict):
    """A supervised child as hooks and :meth:`Supervisor.children` see it."""

    name: str
    index: int
    pid: Optional[int]
    state: str
    restarts: int
    last_exit: Optional[str]
    critical: bool


@dataclass(frozen=True)
class HealthCheck:
    """The parent pings the child every ``interval`` seconds; ``max_missed`` pings in a row without an
    answer within ``timeout`` and the child is killed and restarted (a wedged process)."""

    interval: float = 5.0
    timeout: float = 2.0
    max_missed: int = 3


# An unknown keyword is E001 naming the nearest valid one, as for every options object.
setattr(HealthCheck, "__init__", checked_keywords("HealthCheck()")(HealthCheck.__init__))


Command = Union[str, Sequence[str]]


def python_worker(*services: Any) -> list[str]:
    """The command that runs ``@service`` classes (of importable modules) as a Python worker."""
    if not services:
        raise InvalidArgumentError("python_worker needs at least one @service class")
    specs = []
    for s in services:
        cls = s if isinstance(s, type) else type(s)
        if cls.__module__ == "__main__":
            raise InvalidArgumentError(f"{cls.__name__} is defined in __main__: move it to a module the worker can import")
        specs.append(f"{cls.__module__}:{cls.__qualname__}")
    return [sys.executable, "-m", "omnitron.worker", *specs]


def _command(command: Command) -> list[str]:
    if isinstance(command, str):
        import shlex

        parts = shlex.split(command)
    elif isinstance(command, (list, tuple)) and all(isinstance(c, str) for c in command):
        parts = list(command)
    else:
        raise InvalidArgumentError(f"a command is a string or a list of strings, got {describe(command)}")
    if not parts:
        raise InvalidArgumentError("the command is empty")
    return parts


def _child_dict(
    name: str,
    command: Command,
    env: Optional[dict[str, str]],
    cwd: Optional[str],
    ready_timeout: Optional[float],
    shutdown_timeout: Optional[float],
    health: Optional[HealthCheck],
) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"a child needs a name, got {describe(name)}")
    if env is not None and not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise InvalidArgumentError(f"env must be a dict of strings, got {describe(env)}")
    if health is not None and not isinstance(health, HealthCheck):
        raise InvalidArgumentError(f"health must be a HealthCheck, got {describe(health)}")
    return {
        "name": name,
        "command": _command(command),
        "env": env,
        "cwd": cwd,
        "ready_timeout": ready_timeout,
        "shutdown_timeout": shutdown_timeout,
        "health": None if health is None else {"interval": health.interval, "timeout": health.timeout, "max_missed": health.max_missed},
    }


def _settle(fut: "asyncio.Future[Any]", value: Any, error: Any) -> None:
    """``error``: None, a wire error ``(code, message, data)``, or an exception raised decoding the
    answer."""
    if fut.done():
        return
    if error is None:
        fut.set_result(value)
    elif isinstance(error, BaseException):
        fut.set_exception(error)
    else:
        fut.set_exception(remote_error(*error))


class Pool:
    """A pool of worker processes running tasks (see the module's documentation). Its workers'
    connections are read by the event loop it was started on (as a :class:`~omnitron.Peer`'s are),
    which polls before it sleeps while they are open (``busy_poll``)."""

    def __init__(self, native: _native.NativePool, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self._native = native
        self._loop = loop
        self._name = name
        self._stopped = False
        self._turn = Turn(loop)
        self._fd = native.inbox_fd()
        # The workers' connections come through the inbox to _adopt, and are read by this loop.
        self._conns: set[_native.NativeConnection] = set()
        self._polling = _poll.selector_of(loop)
        # Tasks exec'd from this loop and not answered yet: a lone one is written at once, the
        # others of a loop turn together when it ends (omnitron/_turn.py).
        self._pending = 0
        self._window = 64
        native.set_adopt(self._adopt)
        native.set_settle(self._settle)
        loop.add_reader(self._fd, native.drain)

    def _settle(self, fut: "asyncio.Future[Any]", value: Any, error: Any) -> None:
        """Settles an ``exec_future`` task's future; ``error`` is a wire error ``(code, message,
        data)`` or an exception raised decoding the answer."""
        if fut.done():
            return  # Cancelled (counted then).
        self._pending -= 1
        if error is None:
            fut.set_result(value)
        elif isinstance(error, BaseException):
            fut.set_exception(error)
        else:
            fut.set_exception(remote_error(*error))

    def _adopt(self, conn: _native.NativeConnection) -> None:
        fd = conn.fd()
        self._conns.add(conn)
        if self._polling is not None:
            self._polling.readers += 1

        def readable() -> None:
            if not conn.on_readable():
                self._forget(conn)

        self._loop.add_reader(fd, readable)

    def _forget(self, conn: _native.NativeConnection) -> None:
        if conn in self._conns:
            self._conns.discard(conn)
            self._loop.remove_reader(conn.fd())
            conn.close()
            if self._polling is not None:
                self._polling.readers -= 1

    @classmethod
    @opening("Pool.start()")
    @checked_keywords("Pool.start()")
    async def start(
        cls,
        command: Command,
        *,
        name: str = "pool",
        size: Union[int, str] = 2,
        strategy: str = "round-robin",
        warmup: bool = True,
        concurrency: int = 32,
        queue_limit: int = 10_000,
        task_timeout: float = 30.0,
        task_retries: int = 1,
        recycle_after: Optional[int] = None,
        max_lifetime: Optional[float] = None,
        min: Optional[int] = None,
        max: Optional[int] = None,
        idle_timeout: Optional[float] = None,
        service: Optional[str] = None,
        env: Optional[dict[str, str]] = None,
        cwd: Optional[str] = None,
        ready_timeout: Optional[float] = None,
        shutdown_timeout: Optional[float] = None,
        health: Optional[HealthCheck] = None,
    ) -> "Pool":
        """Starts ``size`` workers running ``command`` (a string or list) and, with ``warmup``, waits
        until every one is ready. An unknown option is refused (``InvalidArgumentError``, E001)."""
        if not (size == "auto" or (isinstance(size, int) and not isinstance(size, bool) and size >= 0)):
            raise InvalidArgumentError(f"size must be a number or 'auto', got {describe(size)}")
        child = _child_dict(name, command, env, cwd, ready_timeout, shutdown_timeout, health)
        options = {
            "name": name,
            "size": size,
            "strategy": strategy,
            "warmup": warmup,
            "concurrency": concurrency,
            "queue_limit": queue_limit,
            "task_timeout": task_timeout,
            "task_retries": task_retries,
            "recycle_after": recycle_after,
            "max_lifetime": max_lifetime,
            "min": min,
            "max": max,
            "idle_timeout": idle_timeout,
            "service": service,
        }
        loop = asyncio.get_running_loop()
        native = _native.NativePool(child, options)
        # Watching before the start: the workers connect while it runs, and this loop reads them.
        pool = cls(native, loop, name)
        # How many `map(items, fn)` runs at once: as many tasks as the workers take.
        workers = max if isinstance(max, int) else (os.cpu_count() or 1) if size == "auto" else size
        pool._window = builtins.max(1, int(workers) * concurrency)
        starting = loop.run_in_executor(None, native.start)
        try:
            await asyncio.shield(starting)
        except BaseException:
            # Failed or cancelled: the start still running in its thread is waited for first, so
            # that the workers it starts are stopped too (else they would outlive the pool).
            with contextlib.suppress(BaseException):
                await starting
            await pool.close()
            raise
        return pool

    @classmethod
    @opening("Pool.of()")
    async def of(cls, *services: Any, **options: Any) -> "Pool":
        """A pool of Python workers hosting ``services`` (``@service`` classes of importable modules);
        ``options`` as for :meth:`start`."""
        check_options(options, POOL_OPTIONS, "Pool.of()")
        options.setdefault("name", (services[0] if isinstance(services[0], type) else type(services[0])).__name__.lower() if services else "pool")
        return await cls.start(python_worker(*services), **options)

    @property
    def name(self) -> str:
        return self._name

    async def exec(self, method: str, *args: Any) -> Any:
        """Runs ``method(*args)`` on a worker and returns its result. A full queue raises
        ``QueueFullError``; a worker that dies mid-task is replaced and the task retried, then
        ``WorkerLostError``. Cancelling the awaiting task cancels the task: a queued one leaves the
        queue, a running one is sent CANCEL (an ``async def`` handler sees ``CancelledError``; a
        plain ``def`` one runs to its end, its answer dropped) and its worker's slot is freed."""
        if self._stopped:
            raise NotRunningError(f"pool '{self._name}' is stopped")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        try:
            if loop is self._loop:
                # The answer settles the future on this loop directly (_settle). A task alone in
                # flight is written at once; with others, the tasks of one loop turn are written
                # together when it ends (omnitron/_turn.py).
                if self._pending:
                    self._turn.open()
                task = self._native.exec_future(method, args, fut, _telemetry.current_trace())
                self._pending += 1
            else:

                def done(value: Any, error: Any) -> None:
                    loop.call_soon_threadsafe(_settle, fut, value, error)

                task = self._native.exec(method, list(args), done, _telemetry.current_trace())
        except TypeError as e:
            raise e if isinstance(e, OmnitronError) else InvalidArgumentError(f"exec(): {e}") from None
        try:
            return await fut
        except asyncio.CancelledError:
            if loop is self._loop and fut.cancelled():
                self._pending -= 1  # Its answer, if it comes, settles nothing.
            task.cancel()
            raise

    @checked_keywords("Pool.map()")
    async def map(
        self,
        items: Union[Iterable[Any], str],
        method: Union[str, Callable[[Any], Any], Iterable[Any]],
        *,
        chunksize: Optional[int] = None,
    ) -> list[Any]:
        """Runs ``method(item)`` for every item, spread over the workers; the results in the items'
        order. Every item runs; if any failed, the error of the first one that failed (in the items'
        order) is raised, as its own ``exec`` would have raised it. ``map("method", items)`` (the
        order ``multiprocessing.Pool.map`` takes) means the same.

        ``map(items, fn)`` with a function (``def`` or ``async def``) runs ``fn(item)`` here for
        every item instead, as many at a time as the workers take (``fn`` typically calls
        :meth:`exec`, as the spec's ``pool.map(items, async (item) => pool.exec('process', item))``);
        the results in order, the first failure raised once every item ran.

        Python and Node workers get the items in chunks, one message per chunk: ``chunksize`` items
        each (default: as ``multiprocessing.Pool.map`` chooses, the items spread over four chunks per
        worker). A chunk is one task: it counts once towards ``recycle_after``, its ``task_timeout``
        covers the whole chunk, and a chunk whose worker dies is run again on another (within
        ``task_retries``). Workers that do not take chunks (C, Rust, other programs) get one call per
        item."""
        if self._stopped:
            raise NotRunningError(f"pool '{self._name}' is stopped")
        if isinstance(items, str) and not isinstance(method, str) and not callable(method):
            items, method = method, items  # multiprocessing's order: map("method", items)
        if callable(method):
            if chunksize is not None:
                raise InvalidArgumentError("map(items, fn) runs fn here: chunksize is for a method name")
            return await self._map_here(items, method)
        if not isinstance(method, str):
            raise InvalidArgumentError(f"map() needs a method name or a function, got {describe(method)}")
        if chunksize is not None and (isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1):
            raise InvalidArgumentError(f"chunksize must be a whole number >= 1 (or None), got {describe(chunksize)}")
        try:
            it = iter(items)
        except TypeError:
            raise InvalidArgumentError(f"map() takes an iterable of items, got {describe(items)}") from None
        listed = items if type(items) is list else list(it)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def done(value: Any, error: Any) -> None:
            if loop is self._loop:
                _settle(fut, value, error)
            else:
                loop.call_soon_threadsafe(_settle, fut, value, error)

        if loop is self._loop:
            self._turn.open()
        try:
            self._native.map(method, listed, done, chunksize, _telemetry.current_trace())
        except TypeError as e:
            raise e if isinstance(e, OmnitronError) else InvalidArgumentError(f"map(): {e}") from None
        result: list[Any] = await fut
        return result

    async def _map_here(self, items: Any, fn: Callable[[Any], Any]) -> list[Any]:
        """``map(items, fn)``: ``fn(item)`` on this loop, ``self._window`` at a time, in order."""
        try:
            listed = list(items)
        except TypeError:
            raise InvalidArgumentError(f"map() takes an iterable of items, got {describe(items)}") from None
        out: list[Any] = [None] * len(listed)
        errors: list[tuple[int, BaseException]] = []
        next_index = 0

        async def lane() -> None:
            nonlocal next_index
            while next_index < len(listed):
                i = next_index
                next_index += 1
                try:
                    r = fn(listed[i])
                    out[i] = await r if inspect.isawaitable(r) else r
                except Exception as e:  # noqa: BLE001 - every item runs; the first failure is raised
                    errors.append((i, e))

        await asyncio.gather(*(lane() for _ in range(min(self._window, len(listed)))))
        if errors:
            raise min(errors, key=lambda x: x[0])[1]
        return out

    def status(self) -> dict[str, Any]:
        """``{workers, starting, queued, in_flight, pids}``."""
        return self._native.status()

    async def close(self) -> None:
        """Stops the pool: queued tasks fail, tasks in flight get the shutdown timeout to finish,
        then every worker is stopped. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._turn.end()  # What this turn's calls queued goes out first.
        await self._loop.run_in_executor(None, self._native.stop)
        self._native.drain()
        for conn in list(self._conns):
            conn.on_readable()  # Reads the end of the connection: its tasks fail now, not later.
            self._forget(conn)
        self._loop.remove_reader(self._fd)

    async def stop(self) -> None:
        """Deprecated: :meth:`close`."""
        warnings.warn("Pool.stop() is deprecated: use await pool.close()", DeprecationWarning, stacklevel=2)
        await self.close()

    async def __aenter__(self) -> "Pool":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


#: The keyword options of :meth:`Pool.start` (and of :meth:`Pool.of`, :func:`process_pool`).
POOL_OPTIONS = tuple(k for k in keyword_names(inspect.unwrap(Pool.start)) if k != "command")


CrashHook = Callable[[ChildInfo, str], Union[Optional[str], Awaitable[Optional[str]]]]
RestartHook = Callable[[ChildInfo, int], Union[None, Awaitable[None]]]


class StatusPage:
    """A running status page (:meth:`Supervisor.serve_status_page`)."""

    def __init__(self, native: _native.NativeStatusPage) -> None:
        self._native = native

    @property
    def url(self) -> str:
        """``http://host:port/``."""
        return self._native.url

    def close(self) -> None:
        """Stops serving (again: nothing)."""
        self._native.close()

    def __enter__(self) -> "StatusPage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Supervisor:
    """Children (processes or nested supervisors) restarted by a strategy within a budget.
    ``async with sup:`` starts it and closes it at the end."""

    @checked_keywords("Supervisor()")
    def __init__(
        self,
        name: str = "supervisor",
        *,
        strategy: str = "one-for-one",
        max_restarts: int = 3,
        window: float = 60.0,
        backoff: float = 0.1,
        backoff_max: float = 5.0,
        backoff_factor: float = 2.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"a supervisor's name must be a non-empty string, got {describe(name)}")
        self.name = name
        # The values as given: core checks them (and says what is wrong in Python's words).
        options = {
            "name": name,
            "strategy": strategy,
            "max_restarts": max_restarts,
            "window": window,
            "backoff_initial": backoff,
            "backoff_max": backoff_max,
            "backoff_factor": backoff_factor,
        }
        self._native = _native.NativeSupervisor({k: v for k, v in options.items() if v is not None})
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _attach(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._native.inbox_fd(), self._native.drain)
        return self._loop

    @checked_keywords("Supervisor.add_child()")
    def add_child(
        self,
        name: str,
        command: Command,
        *,
        instances: int = 1,
        critical: bool = False,
        restart: str = "always",
        max_restarts: Optional[int] = None,
        window: Optional[float] = None,
        restart_delay: Optional[float] = None,
        env: Optional[dict[str, str]] = None,
        cwd: Optional[str] = None,
        ready_timeout: Optional[float] = None,
        shutdown_timeout: Optional[float] = None,
        health: Optional[HealthCheck] = None,
    ) -> None:
        """Adds a child program (started in the order added)."""
        d = _child_dict(name, command, env, cwd, ready_timeout, shutdown_timeout, health)
        d.update(
            instances=instances,
            critical=critical,
            restart=restart,
            max_restarts=max_restarts,
            window=window,
            restart_delay=restart_delay,
        )
        self._native.add_child(d)

    @checked_keywords("Supervisor.add_supervisor()")
    def add_supervisor(self, other: "Supervisor", *, critical: bool = False) -> None:
        """Nests ``other``: its failure is a crash of this supervisor's child."""
        if not isinstance(other, Supervisor):
            raise InvalidArgumentError(f"add_supervisor takes a Supervisor, got {describe(other)}")
        self._native.add_supervisor(other._native, critical)

    def on_crash(self, hook: CrashHook) -> CrashHook:
        """``hook(info, reason)`` decides what happens when a child ends unexpectedly: ``"restart"``,
        ``"ignore"``, ``"escalate"``, ``"shutdown"``, or ``None`` for the child's restart policy.
        ``def`` or ``async def``; usable as a decorator."""
        if not callable(hook):
            raise InvalidArgumentError(f"a crash hook must be callable, got {describe(hook)}")

        def run(info: ChildInfo, kind: str, reason: str, answer: Any) -> None:
            async def go() -> None:
                decision: Optional[str] = None
                try:
                    r = hook(info, reason)
                    decision = await r if inspect.isawaitable(r) else r
                    if decision is not None and decision not in DECISIONS:
                        raise InvalidArgumentError(f"a crash hook returns one of {DECISIONS} or None, not {decision!r}")
                finally:
                    answer.set(decision or "default")

            # A hook that fails leaves the decision to the child's restart policy, and is logged.
            spawn(go(), f"the crash hook of supervisor '{self.name}'")

        self._native.on_crash(run)
        return hook

    def on_restart(self, hook: RestartHook) -> RestartHook:
        """``hook(info, attempt)`` runs before each restart (``attempt`` counts within the budget's
        window); the restart waits for it. Usable as a decorator."""
        if not callable(hook):
            raise InvalidArgumentError(f"a restart hook must be callable, got {describe(hook)}")

        def run(info: ChildInfo, attempt: int, answer: Any) -> None:
            async def go() -> None:
                try:
                    r = hook(info, attempt)
                    if inspect.isawaitable(r):
                        await r
                finally:
                    answer.set("ok")

            spawn(go(), f"the restart hook of supervisor '{self.name}'")

        self._native.on_restart(run)
        return hook

    async def start(self) -> None:
        """Starts every child in order; idempotent, and concurrent calls wait for the same start."""
        loop = self._attach()
        await loop.run_in_executor(None, self._native.start)

    async def close(self) -> None:
        """Stops every child (in reverse order; crashes during the stop restart nothing) and detaches
        from the loop. Idempotent; ``start()`` after it starts the supervisor again."""
        loop = self._attach()
        await loop.run_in_executor(None, self._native.stop)
        if self._loop is not None:
            self._native.drain()
            self._loop.remove_reader(self._native.inbox_fd())
            self._loop = None

    async def stop(self) -> None:
        """Deprecated: :meth:`close`."""
        warnings.warn("Supervisor.stop() is deprecated: use await Supervisor.close()", DeprecationWarning, stacklevel=2)
        await self.close()

    async def __aenter__(self) -> "Supervisor":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait(self) -> None:
        """Waits until it stops; raises ``RestartLimitError`` if it failed."""
        loop = self._attach()
        await loop.run_in_executor(None, self._native.wait)

    @property
    def state(self) -> str:
        """``idle``, ``running``, ``stopped`` or ``failed: <why>``."""
        return self._native.state()

    async def restart_child(self, name: str) -> None:
        """Restarts child ``name``; it counts against its restart budget."""
        loop = self._attach()
        await loop.run_in_executor(None, self._native.restart_child, name)

    async def start_child(self, *args: str) -> int:
        """Adds an instance of a simple-one-for-one supervisor's template, with extra arguments."""
        loop = self._attach()
        index: int = await loop.run_in_executor(None, self._native.start_child, list(args))
        return index

    async def children(self) -> list[ChildInfo]:
        """Every child and its state."""
        loop = self._attach()
        infos: list[ChildInfo] = await loop.run_in_executor(None, self._native.children)
        return infos

    def serve_status_page(self, listen: Optional[str] = None) -> "StatusPage":
        """Serves this supervisor's status page in the browser (docs/OBSERVABILITY.md): its
        children with their state, restarts, CPU and memory, services, breakers, pools, workflow
        runs, recent traces and metrics, refreshed live. ``listen`` is ``host:port`` (port 0: a
        free one; None is ``127.0.0.1:0``); keep it on loopback, the page has no login. Keep the
        returned page: it stops when closed or collected. ``with sup.serve_status_page() as page:``
        closes it at the end."""
        if listen is None:
            listen = "127.0.0.1:0"
        if not isinstance(listen, str):
            raise InvalidArgumentError(f"serve_status_page() takes listen='host:port', got {describe(listen)}")
        return StatusPage(_native.NativeStatusPage.serve(self._native, self.name, listen))

    @classmethod
    def from_class(cls, obj: Any) -> "Supervisor":
        """A supervisor from a ``@supervisor`` class (instantiated without arguments) or an instance
        of one: its ``child(...)`` attributes become children in the order written, its
        ``@on_child_crash`` / ``@on_child_restart`` methods hooks. Synchronous: it starts nothing
        (``await sup.start()`` or ``async with`` does)."""
        klass = obj if isinstance(obj, type) else type(obj)
        meta = getattr(klass, _SUPERVISOR, None)
        if meta is None:
            raise InvalidArgumentError(f"{describe(obj)} is not a @supervisor class")
        instance = obj() if isinstance(obj, type) else obj
        name, options = meta
        sup = cls(name or klass.__name__, **options)
        for attr, value in klass.__dict__.items():
            if isinstance(value, _Child):
                sup.add_child(value.name or attr, value.command, **value.options)
            elif isinstance(value, Supervisor):
                sup.add_supervisor(value)
        for attr in dir(klass):
            fn = getattr(klass, attr, None)
            if getattr(fn, _ON_CRASH, False):
                sup.on_crash(getattr(instance, attr))
            if getattr(fn, _ON_RESTART, False):
                sup.on_restart(getattr(instance, attr))
        return sup


_SUPERVISOR = "__omnitron_supervisor__"
_ON_CRASH = "__omnitron_on_child_crash__"
_ON_RESTART = "__omnitron_on_child_restart__"


class _Child:
    def __init__(self, command: Command, name: Optional[str], options: dict[str, Any]) -> None:
        _command(command)
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidArgumentError(f"a child's name must be a non-empty string, got {describe(name)}")
        check_options(options, _CHILD_OPTIONS, "child()")
        self.command = command
        self.name = name
        self.options = options


class _ChildFactory:
    """``child(command, instances=..., ...)``: a supervised child, as a class attribute of a
    ``@supervisor`` class (the spec's ``@Child``); its options are :meth:`Supervisor.add_child`'s.
    ``child.python(ServiceClass, ...)`` runs a ``@service`` class in a Python worker."""

    def __call__(self, command: Command, *, name: Optional[str] = None, **options: Any) -> _Child:
        return _Child(command, name, options)

    def python(self, *services: Any, name: Optional[str] = None, **options: Any) -> _Child:
        check_options(options, _CHILD_OPTIONS, "child.python()")
        return _Child(python_worker(*services), name, options)


child = _ChildFactory()
_CHILD_OPTIONS = frozenset(
    p.name for p in inspect.signature(Supervisor.add_child).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
)


@checked_keywords("@supervisor()")
def supervisor(
    name: Any = None,
    *,
    strategy: str = "one-for-one",
    max_restarts: int = 3,
    window: float = 60.0,
    backoff: float = 0.1,
    backoff_max: float = 5.0,
    backoff_factor: float = 2.0,
) -> Any:
    """``@supervisor("api", strategy=..., max_restarts=..., window=...)``: the class's ``child(...)``
    attributes and hooks make a supervisor (see :meth:`Supervisor.from_class`). ``@supervisor`` and
    ``@supervisor()`` take the defaults; without a name it is named after the class."""
    if isinstance(name, type):  # bare @supervisor
        return supervisor()(name)
    options: dict[str, Any] = {
        "strategy": strategy,
        "max_restarts": max_restarts,
        "window": window,
        "backoff": backoff,
        "backoff_max": backoff_max,
        "backoff_factor": backoff_factor,
    }
    Supervisor(name or "check", **options)  # checks the options now, where they are written

    def wrap(cls: type) -> type:
        if not isinstance(cls, type):
            raise InvalidArgumentError(f"@supervisor decorates classes, got {describe(cls)}")
        setattr(cls, _SUPERVISOR, (name, dict(options)))
        return cls

    return wrap


def _hook(marker: str, decorator: str) -> Callable[..., Any]:
    def mark(fn: Any = None) -> Any:
        if fn is None:  # @on_child_crash()
            return mark
        if not callable(fn):
            raise InvalidArgumentError(f"@{decorator} decorates methods, got {describe(fn)}")
        setattr(fn, marker, True)
        return fn

    return mark


#: Marks the crash hook of a ``@supervisor`` class (the spec's ``@OnChildCrash``): ``@on_child_crash``
#: or ``@on_child_crash()``. It gets ``(info, reason)`` and returns a decision or None.
on_child_crash = _hook(_ON_CRASH, "on_child_crash")
#: Marks the restart hook of a ``@supervisor`` class (the spec's ``@OnChildRestart``): it gets
#: ``(info, attempt)`` before each restart, which waits for it.
on_child_restart = _hook(_ON_RESTART, "on_child_restart")
