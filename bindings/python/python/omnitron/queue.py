"""Durable job queues (docs/QUEUES.md): :class:`Queue` adds jobs and reads them back,
:class:`Worker` runs them with a handler (``async def``, or ``def`` on a thread), and the spec's
decorators make a class a queue's processor::

    @queue_processor("emails", concurrency=5, rate_limit="100/minute")
    class EmailProcessor:
        def __init__(self, mailer: Mailer) -> None:
            self.mailer = mailer

        @process_message
        async def send(self, job: Job) -> dict:
            await self.mailer.send(job.data["to"])
            return {"sent": True}

        @on_queue_event("completed")
        async def on_completed(self, event: QueueEvent) -> None: ...

Keyword options are checked by the engine: an unknown one is refused naming the nearest, a wrong
value names the rule (``rate_limit="lots"``); durations are seconds. Payloads are MessagePack, so a
job added here is read by a worker in any language.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generic, Optional, TypeVar, Union

from . import _native
from ._opening import Opening
from .di.tokens import describe
from .errors import InvalidArgumentError, OmnitronError
from .rpc import _threads
from .telemetry import _traceparent, in_trace

T = TypeVar("T")

#: The embedded store, one SQLite file: where queues live when none is named and
#: ``OMNITRON_QUEUE_STORE`` (which ``omnitron start`` sets from ``queueStore:``) is not set.
DEFAULT_STORE = "sqlite:.omnitron/queues.db"


def default_store() -> str:
    """The store of a queue that names none."""
    return os.environ.get("OMNITRON_QUEUE_STORE") or DEFAULT_STORE

_EVENTS = ("completed", "failed", "stalled", "progress", "drained")


@dataclass
class JobAttemptError:
    """One failed attempt of a job."""

    attempt: int
    #: Milliseconds since the epoch.
    at: int
    code: str
    message: str


@dataclass
class JobInfo:
    """A job as the store holds it."""

    id: str
    name: str
    data: Any
    #: ``waiting``, ``delayed``, ``active``, ``completed`` or ``dead``.
    state: str
    attempts: int
    errors: list[JobAttemptError]
    progress: Any
    result: Any
    priority: int
    #: Milliseconds since the epoch; ``finished_at`` is 0 until the job completes or dies.
    created_at: int
    finished_at: int


@dataclass
class QueueCounts:
    waiting: int
    delayed: int
    active: int
    completed: int
    dead: int
    paused: bool


@dataclass
class QueueEvent:
    """What ``@on_queue_event`` handlers and :meth:`Queue.on` listeners get."""

    event: str
    id: Optional[str]
    name: Optional[str]
    attempt: Optional[int]
    result: Any
    error: Optional[str]
    #: A failed attempt that was the last, or a stalled job sent to the dead-letter queue.
    dead: bool
    #: A stalled job handed back to the queue.
    requeued: bool
    progress: Any


def _info(d: dict[str, Any]) -> JobInfo:
    return JobInfo(
        id=d["id"],
        name=d["name"],
        data=d["data"],
        state=d["state"],
        attempts=d["attempts"],
        errors=[JobAttemptError(**e) for e in d["errors"]],
        progress=d["progress"],
        result=d["result"],
        priority=d["priority"],
        created_at=d["createdAt"],
        finished_at=d["finishedAt"],
    )


class _Host:
    """The engine's queues for one asyncio loop: operations resolve futures on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.native = _native.NativeQueueHost()
        self.loop = loop
        loop.add_reader(self.native.inbox_fd(), self.native.drain)

    def op(self, start: Callable[[Callable[[Any, Any], None]], None]) -> "asyncio.Future[Any]":
        fut: asyncio.Future[Any] = self.loop.create_future()

        def done(value: Any, error: Any) -> None:
            if fut.done():
                return
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(value)

        start(done)
        return fut


_hosts: dict[asyncio.AbstractEventLoop, _Host] = {}


def _host() -> _Host:
    loop = asyncio.get_running_loop()
    h = _hosts.get(loop)
    if h is None or loop.is_closed():
        h = _Host(loop)
        _hosts[loop] = h
    return h


class Queue(Generic[T]):
    """A queue in a store: add jobs, read them back, pause and resume every worker."""

    def __init__(self, name: str, index: int, host: _Host) -> None:
        self.name = name
        self._index = index
        self._host = host

    @classmethod
    def open(cls, name: str, *, store: Optional[str] = None, **options: Any) -> "Opening[Queue[Any]]":
        """Opens queue ``name`` (``queue = await Queue.open("emails", rate_limit="100/minute")``).
        Options: ``concurrency`` (across every worker), ``rate_limit``, ``retries`` or
        ``attempts``, ``backoff`` (``"fixed"``, ``"exponential"`` or ``{"type", "delay"}``),
        ``backoff_delay``, ``max_delay``, ``timeout``, ``keep_completed`` (seconds)."""
        if not isinstance(name, str):
            raise InvalidArgumentError(f"a queue's name is a string, got {describe(name)}")
        if store is not None and not isinstance(store, str):
            raise InvalidArgumentError(f"Queue.open('{name}'): store is a string such as 'sqlite:jobs.db', got {describe(store)}")
        where = store or default_store()

        async def make() -> Queue[Any]:
            host = _host()
            index = await host.op(lambda done: host.native.open(where, name, options, done))
            return cls(name, index, host)

        return Opening(make, f"Queue.open('{name}')")

    async def close(self) -> None:
        """Nothing to release: the store is shared by every queue of the process."""

    async def add(self, name: str, data: T = None, **options: Any) -> str:  # type: ignore[assignment]
        """Adds a job; returns its id (the given ``id`` for a duplicate, which adds nothing).
        Options: ``id`` (or ``job_id``), ``delay``, ``priority``, ``retries``/``attempts``,
        ``backoff``, ``timeout``, ``keep_completed``."""
        if not isinstance(name, str):
            raise InvalidArgumentError(f"queue '{self.name}': a job's name is a string, got {describe(name)}")
        tp = _traceparent()
        job_id, _ = await self._host.op(lambda done: self._host.native.add(self._index, name, data, options, tp, done))
        return str(job_id)

    async def add_many(self, jobs: list[Union[tuple[str, Any], tuple[str, Any, dict[str, Any]]]]) -> list[str]:
        """Adds ``(name, data)`` or ``(name, data, options)`` jobs in one write; returns their ids."""
        items: list[tuple[str, Any, dict[str, Any]]] = []
        for j in jobs:
            if not isinstance(j, tuple) or len(j) not in (2, 3) or not isinstance(j[0], str):
                raise InvalidArgumentError(f"queue '{self.name}': add_many() takes (name, data) or (name, data, options) tuples, got {describe(j)}")
            items.append((j[0], j[1], dict(j[2]) if len(j) == 3 else {}))
        tp = _traceparent()
        ids: list[str] = await self._host.op(lambda done: self._host.native.add_many(self._index, items, tp, done))
        return ids

    async def get_job(self, job_id: str) -> Optional[JobInfo]:
        d = await self._host.op(lambda done: self._host.native.get(self._index, str(job_id), done))
        return None if d is None else _info(d)

    async def counts(self) -> QueueCounts:
        d = await self._host.op(lambda done: self._host.native.counts(self._index, done))
        return QueueCounts(**d)

    async def pause(self) -> None:
        """Stops handing jobs out, on every worker of the queue; running ones finish."""
        await self._host.op(lambda done: self._host.native.set_paused(self._index, True, done))

    async def resume(self) -> None:
        await self._host.op(lambda done: self._host.native.set_paused(self._index, False, done))

    async def remove(self, job_id: str) -> bool:
        """Removes a job that is not running; False when there was none (``JobActiveError`` while it runs)."""
        return bool(await self._host.op(lambda done: self._host.native.remove(self._index, str(job_id), done)))

    async def dead(self, offset: int = 0, limit: int = 100) -> list[JobInfo]:
        """The dead-letter queue, oldest first, each job with every attempt's error."""
        ds = await self._host.op(lambda done: self._host.native.dead(self._index, offset, limit, done))
        return [_info(d) for d in ds]

    async def retry_dead(self, ids: Optional[list[str]] = None) -> int:
        """Puts dead jobs (all, or those ids) back with fresh attempts; returns how many."""
        n: int = await self._host.op(lambda done: self._host.native.retry_dead(self._index, ids, done))
        return n

    def on(self, event: str, listener: Callable[[QueueEvent], Any]) -> None:
        """Calls ``listener`` (a function or coroutine function) with each ``event`` of the workers
        of every process sharing the store: ``completed``, ``failed``, ``stalled``, ``progress``,
        ``drained``. This process's events are heard at once, the others' once :meth:`listening`
        returns."""
        if event not in _EVENTS:
            raise InvalidArgumentError(f"queue '{self.name}': no event {event!r}; the events are {', '.join(_EVENTS)}")
        if not callable(listener):
            raise InvalidArgumentError(f"queue '{self.name}': on({event!r}) takes a callable, got {describe(listener)}")
        loop = self._host.loop

        def deliver(d: dict[str, Any]) -> None:
            if d["event"] != event:
                return
            r = listener(QueueEvent(**d))
            if inspect.isawaitable(r):
                loop.create_task(_logged(r, f"queue '{self.name}' {event} listener"))

        self._host.native.watch(self._index, deliver)

    async def listening(self) -> None:
        """Returns once :meth:`on` listeners hear the events of other processes too (a few
        milliseconds after the first ``on``)."""
        await self._host.op(lambda done: self._host.native.listening(self._index, done))


async def _logged(aw: Awaitable[Any], what: str) -> None:
    try:
        await aw
    except Exception as e:  # noqa: BLE001 - a listener's failure is reported, not raised into the engine
        loop = asyncio.get_running_loop()
        loop.call_exception_handler({"message": f"{what} failed", "exception": e})


class Job(Generic[T]):
    """A job as its handler gets it."""

    # Slots, and no event made until asked for: a job is made per attempt, on the hot path.
    __slots__ = ("id", "name", "data", "attempt", "token", "traceparent", "_call", "_host", "_stopped")

    id: str
    name: str
    data: T
    #: This attempt, from 1.
    attempt: int
    #: The lease's fencing token: grows with every hand-out of the job.
    token: int
    #: The trace this attempt runs in (a W3C traceparent), when the job was added in one; also
    #: ``current_trace()`` in the handler.
    traceparent: Optional[str]

    def __init__(
        self,
        id: str,
        name: str,
        data: T,
        attempt: int,
        token: int,
        _call: int = 0,
        _host: Optional[_Host] = None,
        traceparent: Optional[str] = None,
    ) -> None:
        self.id = id
        self.name = name
        self.data = data
        self.attempt = attempt
        self.token = token
        self.traceparent = traceparent
        self._call = _call
        self._host = _host
        self._stopped: Optional[threading.Event] = None

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, name={self.name!r}, data={self.data!r}, attempt={self.attempt}, token={self.token})"

    @property
    def stopped(self) -> threading.Event:
        """Set when the attempt must stop (timeout, lease lost, closing): a ``def`` handler on a
        thread checks it; an ``async def`` handler is cancelled instead."""
        if self._stopped is None:
            with _STOPPED_LOCK:
                if self._stopped is None:
                    self._stopped = threading.Event()
        return self._stopped

    async def progress(self, value: Any) -> bool:
        """Reports progress; False when the job's lease was lost."""
        host = self._host
        assert host is not None
        return bool(await host.op(lambda done: host.native.progress(self._call, value, done)))


_STOPPED_LOCK = threading.Lock()


def _answer(host: _Host, call: int, result: Any = None, error: Optional[BaseException] = None) -> None:
    if error is None:
        host.native.answer(call, result)
        return
    code = error.code if isinstance(error, OmnitronError) else None
    message = str(error) or type(error).__name__
    host.native.answer(call, None, code or "Q005", message)


class Worker:
    """Runs a queue's jobs with ``handler(job)``: its return value is the job's result (kept with
    it); an exception fails the attempt (retried after its backoff, then dead-lettered).
    Options: ``concurrency`` (default 1), ``lease``, ``poll_interval``, ``max_stalls``, ``name``,
    ``prefetch`` (jobs held leased beyond the running ones, started without a round trip to the
    store; default the concurrency, at least 8; 0 on a queue with limits)."""

    def __init__(self, queue: Queue[Any], handler: Callable[[Job[Any]], Any], **options: Any) -> None:
        if not isinstance(queue, Queue):
            raise InvalidArgumentError(f"Worker() takes a Queue (from Queue.open) first, got {describe(queue)}")
        if not callable(handler):
            raise InvalidArgumentError(f"worker of queue '{queue.name}': the handler must be callable, got {describe(handler)}")
        self.queue = queue
        host = queue._host
        is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(getattr(handler, "__call__", None))
        loop = host.loop

        def dispatch(
            call: int, id: str, name: str, data: Any, attempt: int, token: int, trace: Optional[str]
        ) -> Optional[Callable[[], Any]]:
            job: Job[Any] = Job(id, name, data, attempt, token, call, host, trace)
            # The attempt's span is the current trace while the handler runs (a task or a thread
            # started inside `in_trace` keeps it).
            with in_trace((trace, None)) if trace else contextlib.nullcontext():
                return start(job, call)

        def start(job: "Job[Any]", call: int) -> Optional[Callable[[], Any]]:
            if is_async:

                async def run() -> None:
                    try:
                        result = await handler(job)
                    except asyncio.CancelledError:
                        raise
                    except BaseException as e:  # noqa: BLE001 - every failure goes back to the engine
                        _answer(host, call, error=e)
                        return
                    _answer(host, call, result)

                task = loop.create_task(run())
                return task.cancel

            def run_sync() -> None:
                try:
                    result = handler(job)
                except BaseException as e:  # noqa: BLE001
                    loop.call_soon_threadsafe(_answer, host, call, None, e)
                    return
                loop.call_soon_threadsafe(_answer, host, call, result)

            _threads().submit(contextvars.copy_context().run, run_sync)
            return job.stopped.set

        self._index: int = host.native.start_worker(queue._index, options, dispatch)
        self._closing: Optional[asyncio.Future[Any]] = None

    async def close(self, grace: float = 10.0) -> None:
        """Takes no new job, lets running ones finish for up to ``grace`` seconds, then stops the
        rest and hands them back to the queue. Idempotent."""
        if self._closing is None:
            host = self.queue._host
            self._closing = host.op(lambda done: host.native.close_worker(self._index, grace, done))
        await asyncio.shield(self._closing)


# ---- the spec's decorators ---------------------------------------------------------------------

_PROCESSOR = "__omnitron_queue_processor__"
_HANDLER = "__omnitron_process_message__"
_EVENT = "__omnitron_on_queue_event__"
_WORKER_KEYS = ("concurrency", "lease", "poll_interval", "max_stalls", "name", "prefetch")

C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Any])


def queue_processor(name: str, **options: Any) -> Callable[[C], C]:
    """Makes a class the processor of queue ``name``. Options are the queue's (``rate_limit``,
    ``retries``, ``store``, ...) and its worker's (``concurrency``, ``lease``, ...); the engine
    checks them when the application starts the processor."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"@queue_processor() takes the queue's name, got {describe(name)}")

    def wrap(cls: C) -> C:
        setattr(cls, _PROCESSOR, (name, dict(options)))
        return cls

    return wrap


def process_message(fn: Optional[F] = None, *, job: Optional[str] = None) -> Any:
    """The method that runs the queue's jobs (those named ``job`` only, when given):
    ``@process_message`` or ``@process_message(job="welcome")``."""

    def wrap(f: F) -> F:
        setattr(f, _HANDLER, job or "")
        return f

    return wrap(fn) if fn is not None else wrap


def on_queue_event(event: str) -> Callable[[F], F]:
    """A method called with each ``event`` of the processor's queue (from this process's workers)."""
    if event not in _EVENTS:
        raise InvalidArgumentError(f"@on_queue_event({event!r}): the events are {', '.join(_EVENTS)}")

    def wrap(f: F) -> F:
        setattr(f, _EVENT, event)
        return f

    return wrap


def processor_of(cls: Any) -> Optional[tuple[str, dict[str, Any]]]:
    meta: Optional[tuple[str, dict[str, Any]]] = getattr(cls, _PROCESSOR, None) if isinstance(cls, type) else None
    return meta


async def start_processor(instance: Any, meta: tuple[str, dict[str, Any]], app_store: Optional[str]) -> Optional[Worker]:
    """Opens the processor's queue and starts its worker with ``instance``'s methods. A processor
    with ``@on_queue_event`` methods only runs no jobs: it hears the events of the queue's workers
    in every process, which it listens to before this returns."""
    name, options = meta
    what = f"@queue_processor({name!r}) {type(instance).__name__}"
    handlers: dict[str, Callable[..., Any]] = {}
    for attr in dir(type(instance)):
        fn = getattr(type(instance), attr, None)
        if callable(fn) and hasattr(fn, _HANDLER):
            handlers[getattr(fn, _HANDLER)] = getattr(instance, attr)
    listeners = [
        (getattr(fn, _EVENT), attr)
        for attr in dir(type(instance))
        if callable(fn := getattr(type(instance), attr, None)) and hasattr(fn, _EVENT)
    ]
    if not handlers and not listeners:
        raise InvalidArgumentError(f"{what} has no @process_message or @on_queue_event method")
    worker_options = {k: v for k, v in options.items() if k in _WORKER_KEYS}
    queue_options = {k: v for k, v in options.items() if k not in _WORKER_KEYS}
    store = queue_options.pop("store", None) or app_store or default_store()
    queue = await Queue.open(name, store=store, **queue_options)
    for event, attr in listeners:
        queue.on(event, getattr(instance, attr))
    if listeners:
        await queue.listening()
    if not handlers:
        return None
    fallback = handlers.get("")

    async def handle(job: Job[Any]) -> Any:
        h = handlers.get(job.name, fallback)
        if h is None:
            raise InvalidArgumentError(f"{what} has no @process_message for jobs named {job.name!r}")
        if inspect.iscoroutinefunction(h):
            return await h(job)
        return await asyncio.get_running_loop().run_in_executor(_threads(), h, job)

    return Worker(queue, handle, **worker_options)


# ---- schedules (`@cron`, `@interval`) ------------------------------------------------------------

_SCHEDULES = "__omnitron_schedules__"


def _schedule(spec: dict[str, Any], what: str, name: Optional[str], timezone: Optional[str], queue: Optional[str], missed: Optional[str], data: Any) -> Callable[[F], F]:
    for key, v in (("name", name), ("timezone", timezone), ("queue", queue), ("missed", missed)):
        if v is not None and not isinstance(v, str):
            raise InvalidArgumentError(f"{what}: {key} is a string, got {describe(v)}")

    def wrap(f: F) -> F:
        full = dict(spec)
        for key, v in (("name", name), ("timezone", timezone), ("queue", queue), ("missed", missed), ("data", data)):
            if v is not None:
                full[key] = v
        declared: Optional[list[tuple[dict[str, Any], str]]] = getattr(f, _SCHEDULES, None)
        if declared is None:
            declared = []
            setattr(f, _SCHEDULES, declared)
        declared.append((full, what))
        return f

    return wrap


def cron(
    pattern: str,
    *,
    name: Optional[str] = None,
    timezone: Optional[str] = None,
    queue: Optional[str] = None,
    missed: Optional[str] = None,
    data: Any = None,
) -> Callable[[F], F]:
    """Runs the method on a cron pattern (5 fields, or 6 with seconds first), in ``timezone``
    (default UTC). Each firing is a job on ``queue`` (default ``cron``) named after the schedule
    (default ``Class.method``), fired once across every instance sharing the store; ``missed`` is
    ``"skip"``, ``"once"`` (default) or ``"all"`` (docs/SCHEDULER.md)."""
    if not isinstance(pattern, str):
        raise InvalidArgumentError(f"@cron() takes a cron pattern such as '0 * * * *', got {describe(pattern)}")
    return _schedule({"pattern": pattern}, f"@cron({pattern!r})", name, timezone, queue, missed, data)


def interval(
    every: Union[float, str],
    *,
    name: Optional[str] = None,
    queue: Optional[str] = None,
    missed: Optional[str] = None,
    data: Any = None,
) -> Callable[[F], F]:
    """Runs the method every ``every`` seconds (or ``"30s"``, ``"5m"``); slots are aligned to the
    Unix epoch, so every instance agrees."""
    if isinstance(every, bool) or not isinstance(every, (int, float, str)):
        raise InvalidArgumentError(f"@interval() takes seconds or a duration such as '30s', got {describe(every)}")
    if isinstance(every, (int, float)):
        if not every > 0:
            raise InvalidArgumentError(f"@interval() takes a positive number of seconds, got {every!r}")
        text = f"{round(every * 1000)}ms"
    else:
        text = every
    return _schedule({"every": text}, f"@interval({every!r})", name, None, queue, missed, data)


def schedules_of(cls: Any) -> list[tuple[str, dict[str, Any], str]]:
    """``(method name, spec, what)`` for each ``@cron`` / ``@interval`` method of ``cls``."""
    out: list[tuple[str, dict[str, Any], str]] = []
    if not isinstance(cls, type):
        return out
    for attr in dir(cls):
        fn = getattr(cls, attr, None)
        for spec, what in getattr(fn, _SCHEDULES, None) or []:
            full = {"name": f"{cls.__name__}.{attr}", **spec}
            out.append((attr, full, f"{what} on {cls.__name__}.{attr}"))
    return out


class RunningSchedules:
    """The scheduler of an application's ``@cron`` / ``@interval`` methods, and their workers."""

    def __init__(self, host: _Host, index: int, workers: list[Worker]) -> None:
        self._host = host
        self._index = index
        self._workers = workers

    async def close(self, grace: float = 10.0) -> None:
        host = self._host
        await host.op(lambda done: host.native.close_scheduler(self._index, done))
        for w in self._workers:
            await w.close(grace)


def deployed_schedules() -> int:
    """How many ``cronJobs:`` ``omnitron.yaml`` gives this process (through ``omnitron start``):
    their firings go to the queue ``cron``, named after each entry's handler."""
    return _host().native.deployed_schedules()


async def start_schedules(scheduled: list[tuple[Any, list[tuple[str, dict[str, Any], str]]]], store: str) -> RunningSchedules:
    """Starts the scheduler for the methods' schedules (checked first: a bad one leaves nothing
    running) and a worker per queue that runs them by job name."""
    import json

    host = _host()
    # A schedule's firings go to a queue of its own unless it names one: a process runs workers only
    # for the schedules it declares, so processes declaring different ones can share a store.
    specs = [{**spec, "queue": spec.get("queue") or f"cron:{spec['name']}"} for _, decls in scheduled for _, spec, _ in decls]
    wheres = [what for _, decls in scheduled for _, _, what in decls]
    index: int = await host.op(lambda done: host.native.start_scheduler(store, json.dumps(specs), wheres, done))
    by_queue: dict[str, dict[str, Callable[[], Any]]] = {}
    for instance, decls in scheduled:
        for attr, spec, _ in decls:
            by_queue.setdefault(spec.get("queue") or f"cron:{spec['name']}", {})[spec["name"]] = getattr(instance, attr)
    workers: list[Worker] = []
    try:
        for qname, methods in by_queue.items():
            q = await Queue.open(qname, store=store)

            async def run(job: Job[Any], methods: dict[str, Callable[[], Any]] = methods, qname: str = qname) -> Any:
                m = methods.get(job.name)
                if m is None:
                    raise InvalidArgumentError(f"queue '{qname}' has no scheduled method for jobs named {job.name!r}")
                if inspect.iscoroutinefunction(m):
                    return await m()
                return await asyncio.get_running_loop().run_in_executor(_threads(), m)

            workers.append(Worker(q, run))
    except BaseException:
        await host.op(lambda done: host.native.close_scheduler(index, done))
        for w in workers:
            await w.close(0)
        raise
    return RunningSchedules(host, index, workers)


__all__ = [
    "DEFAULT_STORE",
    "Job",
    "JobAttemptError",
    "JobInfo",
    "Queue",
    "QueueCounts",
    "QueueEvent",
    "Worker",
    "cron",
    "interval",
    "on_queue_event",
    "process_message",
    "queue_processor",
]
