"""Durable saga workflows with compensation (see docs/WORKFLOWS.md).

::

    from omnitron import StageContext, WorkflowEngine, compensate, stage, workflow

    @workflow("order-processing", timeout=30.0, retries=3)
    class OrderProcessing:
        @stage("validate")
        async def validate(self, order: dict) -> dict:
            return order

        @stage("reserve", depends_on="validate", timeout=5.0, retries=2)
        async def reserve(self, order: dict, ctx: StageContext) -> dict:
            return {"sku": order["sku"], "reservation": ctx.idempotency_key}

        @compensate("reserve")
        async def release(self, reservation: dict) -> None:
            print("released", reservation["reservation"])

    async with WorkflowEngine.open("orders.journal") as engine:   # or WorkflowEngine.in_memory()
        engine.register(OrderProcessing)
        outputs = await engine.run(OrderProcessing, {"sku": "book"}, run_id="order-1")
        assert outputs["reserve"] == {"sku": "book", "reservation": "order-1:reserve"}

``@workflow`` and ``@workflow()`` name the workflow after its class; ``@stage`` and ``@stage()``
name a stage after its method. ``engine = await WorkflowEngine.open(path)`` works too (then
``await engine.close()``).

A stage gets the run's input (no dependency), its dependency's output (one) or a dict from
dependency name to output (several), and optionally a :class:`StageContext` as second argument.
``async def`` stages run on the engine's event loop, ``def`` stages in a thread pool. Values cross
as JSON (None, bool, int, float, str, list, dict). Times are in seconds."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, TypeVar, Union, overload

from . import _native
from ._opening import Opening
from ._options import checked_keywords
from .di.tokens import describe
from .errors import InvalidArgumentError, InvalidWorkflowError, OmnitronError, from_code
from .rpc import _threads
from .telemetry import _traceparent, in_trace

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_WORKFLOW = "__omnitron_workflow__"
_STAGE = "__omnitron_stage__"
_COMPENSATE = "__omnitron_compensate__"


@dataclass(frozen=True)
class StageContext:
    """What a stage (or a compensation) knows about its run."""

    run_id: str
    workflow: str
    #: The stage's name (for a compensation: the stage it undoes).
    stage: str
    #: This attempt's number, from 1, over the run's whole life.
    attempt: int
    #: ``{run_id}:{stage}`` (``...:compensate`` for a compensation): the same on every attempt and
    #: after a crash; pass it on so a repeated attempt is not applied twice.
    idempotency_key: str
    is_compensation: bool
    #: The run's input.
    workflow_input: Any
    #: This attempt's span (a W3C traceparent) when tracing is on: the current trace while the
    #: stage runs, so the calls it makes are its children.
    traceparent: Optional[str] = None


@dataclass
class StageDefinition:
    name: str
    run: Callable[..., Any]
    depends_on: list[str] = field(default_factory=list)
    timeout: Optional[float] = None
    retries: Optional[int] = None
    retry_delay: Optional[float] = None
    compensate: Optional[Callable[..., Any]] = None
    compensation_retries: Optional[int] = None
    compensation_retry_delay: Optional[float] = None


@dataclass(frozen=True)
class WorkflowDefinition:
    """A workflow ready to be registered with a :class:`WorkflowEngine`."""

    name: str
    stages: tuple[StageDefinition, ...]
    timeout: Optional[float] = None
    retries: Optional[int] = None
    retry_delay: Optional[float] = None
    recovery: Optional[str] = None
    #: Compensations given for a name that is no stage: refused when registered.
    orphans: tuple[str, ...] = ()


def _check(kind: str, what: str, **values: Any) -> None:
    """Checks a workflow's, stage's or compensation's options in the engine, which says what is
    wrong in Python's words (seconds, ``retry_delay``)."""
    _native.check_workflow_options(kind, what, {k: v for k, v in values.items() if v is not None})


def _count(v: object, what: str) -> Optional[int]:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v >= 2**32 - 1:
        raise InvalidArgumentError(f"{what} must be a whole number of at least 0, got {describe(v)}")
    return v


def _deps(v: object, what: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, (list, tuple)) and all(isinstance(d, str) for d in v):
        return list(v)
    raise InvalidArgumentError(f"{what} depends_on must be a stage name or a list of stage names, got {describe(v)}")


def _name(v: object, what: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise InvalidWorkflowError(f"{what} needs a non-empty name, got {describe(v)}")
    return v


class WorkflowBuilder:
    """Builds a workflow in code: ``define_workflow("order").stage("reserve", f).stage("pay", g, depends_on="reserve")``."""

    @checked_keywords("WorkflowBuilder()")
    def __init__(
        self,
        name: str,
        *,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
        retry_delay: Optional[float] = None,
        recovery: Optional[str] = None,
    ) -> None:
        self._name = _name(name, "a workflow")
        _check("workflow", f"workflow '{self._name}'", timeout=timeout, retries=retries, retry_delay=retry_delay, recovery=recovery)
        self._timeout, self._retries, self._retry_delay, self._recovery = timeout, retries, retry_delay, recovery
        self._stages: list[StageDefinition] = []
        self._pending: list[tuple[str, Callable[..., Any], Optional[int], Optional[float]]] = []

    @checked_keywords("WorkflowBuilder.stage()")
    def stage(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        depends_on: Union[str, Sequence[str], None] = None,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
        retry_delay: Optional[float] = None,
    ) -> "WorkflowBuilder":
        """Adds a stage named ``name`` running ``fn(input)`` or ``fn(input, ctx)``."""
        _name(name, f"workflow '{self._name}': a stage")
        what = f"workflow '{self._name}', stage '{name}'"
        if not callable(fn):
            raise InvalidArgumentError(f"{what}: the stage must be callable, got {describe(fn)}")
        deps = _deps(depends_on, f"{what}:")
        _check("stage", what, timeout=timeout, retries=retries, retry_delay=retry_delay)
        self._stages.append(
            StageDefinition(name=name, run=fn, depends_on=deps, timeout=timeout, retries=retries, retry_delay=retry_delay)
        )
        return self

    @checked_keywords("WorkflowBuilder.compensate()")
    def compensate(
        self, stage: str, fn: Callable[..., Any], *, retries: Optional[int] = None, retry_delay: Optional[float] = None
    ) -> "WorkflowBuilder":
        """The compensation undoing ``stage``: ``fn(output)`` or ``fn(output, ctx)``."""
        what = f"workflow '{self._name}', compensation of {describe(stage)}:"
        if not isinstance(stage, str):
            raise InvalidArgumentError(f"{what} the stage name must be a string")
        if not callable(fn):
            raise InvalidArgumentError(f"{what} the compensation must be callable, got {describe(fn)}")
        _check("compensation", what.rstrip(":"), retries=retries, retry_delay=retry_delay)
        self._pending.append((stage, fn, retries, retry_delay))
        return self

    def build(self) -> WorkflowDefinition:
        """The definition (the engine checks the graph when it is registered)."""
        stages = [StageDefinition(**vars(s)) for s in self._stages]
        orphans: list[str] = []
        for stage, fn, retries, delay in self._pending:
            found = next((s for s in stages if s.name == stage), None)
            if found is None:
                orphans.append(stage)
                continue
            found.compensate, found.compensation_retries, found.compensation_retry_delay = fn, retries, delay
        return WorkflowDefinition(
            name=self._name,
            stages=tuple(stages),
            timeout=self._timeout,
            retries=self._retries,
            retry_delay=self._retry_delay,
            recovery=self._recovery,
            orphans=tuple(orphans),
        )


@checked_keywords("define_workflow()")
def define_workflow(
    name: str,
    *,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
    retry_delay: Optional[float] = None,
    recovery: Optional[str] = None,
) -> WorkflowBuilder:
    """Starts a programmatic definition."""
    return WorkflowBuilder(name, timeout=timeout, retries=retries, retry_delay=retry_delay, recovery=recovery)


# ---- decorators ---------------------------------------------------------------------------------


@overload
def workflow(name: type[T], /) -> type[T]: ...
@overload
def workflow(
    name: Optional[str] = None,
    *,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
    retry_delay: Optional[float] = None,
    recovery: Optional[str] = None,
) -> Callable[[type[T]], type[T]]: ...


@checked_keywords("@workflow()")
def workflow(
    name: Union[str, type, None] = None,
    *,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
    retry_delay: Optional[float] = None,
    recovery: Optional[str] = None,
) -> Any:
    """``@workflow("order-processing", timeout=30.0, retries=3)``: a class whose ``@stage`` methods
    form a workflow. ``@workflow``, ``@workflow()`` or ``@workflow(timeout=...)`` name it after the
    class; ``name=`` works as a keyword too."""
    if isinstance(name, type):  # bare @workflow
        return workflow()(name)
    if name is not None:
        _name(name, "@workflow()")
    options: dict[str, Any] = {"timeout": timeout, "retries": retries, "retry_delay": retry_delay, "recovery": recovery}
    WorkflowBuilder(name or "check", **options)  # checks the options now, where they are written

    def decorate(cls: type[T]) -> type[T]:
        if not isinstance(cls, type):
            raise InvalidArgumentError(f"@workflow decorates classes, got {describe(cls)}")
        setattr(cls, _WORKFLOW, (name or cls.__name__, options))
        return cls

    return decorate


@overload
def stage(name: F, /) -> F: ...
@overload
def stage(
    name: Optional[str] = None,
    *,
    depends_on: Union[str, Sequence[str], None] = None,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
    retry_delay: Optional[float] = None,
) -> Callable[[F], F]: ...


@checked_keywords("@stage()")
def stage(
    name: Any = None,
    *,
    depends_on: Union[str, Sequence[str], None] = None,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
    retry_delay: Optional[float] = None,
) -> Any:
    """``@stage("reserve", depends_on="validate", timeout=5.0, retries=2)``: the method is a stage
    of its ``@workflow`` class. ``@stage`` and ``@stage()`` name it after the method; ``name=``
    works as a keyword too."""
    if callable(name):  # bare @stage
        return stage()(name)
    what = f"@stage({name!r})" if name is not None else "@stage()"
    if name is not None:
        _name(name, what)
    _check("stage", what, timeout=timeout, retries=retries, retry_delay=retry_delay)
    options: dict[str, Any] = {
        "depends_on": _deps(depends_on, what),
        "timeout": timeout,
        "retries": retries,
        "retry_delay": retry_delay,
    }

    def decorate(f: F) -> F:
        if not callable(f):
            raise InvalidArgumentError(f"@stage decorates methods, got {describe(f)}")
        setattr(f, _STAGE, (name or f.__name__, options))
        return f

    return decorate


@checked_keywords("@compensate()")
def compensate(stage: str, *, retries: Optional[int] = None, retry_delay: Optional[float] = None) -> Callable[[F], F]:
    """``@compensate("reserve")``: the method undoes stage ``reserve``, given its output."""
    if not isinstance(stage, str) or not stage:
        raise InvalidArgumentError(f"@compensate needs the name of the stage it undoes, got {describe(stage)}")
    _check("compensation", f"@compensate({stage!r})", retries=retries, retry_delay=retry_delay)
    options: dict[str, Any] = {"retries": retries, "retry_delay": retry_delay}

    def decorate(f: F) -> F:
        if not callable(f):
            raise InvalidArgumentError(f"@compensate decorates methods, got {describe(f)}")
        setattr(f, _COMPENSATE, (stage, options))
        return f

    return decorate


def definition_of(obj: Any) -> WorkflowDefinition:
    """The definition of a ``@workflow`` class (instantiated without arguments) or instance."""
    cls = obj if isinstance(obj, type) else type(obj)
    meta = getattr(cls, _WORKFLOW, None)
    if meta is None:
        raise InvalidArgumentError(f"{describe(obj)} is not a @workflow class: decorate it with @workflow")
    instance = obj() if isinstance(obj, type) else obj
    name, options = meta
    b = WorkflowBuilder(name, **options)
    # Definition order (base classes first), which is the order the stages are journaled in.
    attrs: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        attrs.update(dict.fromkeys(vars(klass)))
    for attr in attrs:
        raw = getattr(cls, attr, None)
        if raw is None or not callable(raw):
            continue
        s = getattr(raw, _STAGE, None)
        if s is not None:
            b.stage(s[0], getattr(instance, attr), **s[1])
        c = getattr(raw, _COMPENSATE, None)
        if c is not None:
            b.compensate(c[0], getattr(instance, attr), **c[1])
    return b.build()


# ---- runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorRecord:
    code: str
    message: str
    related: tuple["ErrorRecord", ...] = ()

    @staticmethod
    def of(raw: dict[str, Any]) -> "ErrorRecord":
        return ErrorRecord(raw["code"], raw["message"], tuple(ErrorRecord.of(r) for r in raw.get("related", ())))

    def exception(self) -> OmnitronError:
        """The exception for this error, its related errors in ``errors``."""
        e = from_code(self.code, self.message)
        e.errors = [r.exception() for r in self.related]
        return e


@dataclass(frozen=True)
class AttemptError:
    attempt: int
    #: When it failed (seconds since the epoch).
    at: float
    error: ErrorRecord


def _attempts(raw: list[dict[str, Any]]) -> list[AttemptError]:
    return [AttemptError(a["attempt"], a["at_ms"] / 1000.0, ErrorRecord.of(a["error"])) for a in raw]


def _secs(ms: Optional[int]) -> Optional[float]:
    return None if ms is None else ms / 1000.0


@dataclass(frozen=True)
class StageInfo:
    name: str
    #: ``pending``, ``running``, ``completed``, ``failed``, ``compensating``, ``compensated`` or ``compensation_failed``.
    state: str
    attempts: int
    output: Any
    errors: list[AttemptError]
    started_at: Optional[float]
    finished_at: Optional[float]
    compensation_attempts: int
    compensation_errors: list[AttemptError]


@dataclass(frozen=True)
class RunInfo:
    """A run: its state, input, stages and error; times in seconds since the epoch."""

    run_id: str
    workflow: str
    #: ``pending``, ``running``, ``compensating``, ``completed``, ``compensated``, ``compensation_failed`` or ``cancelled``.
    state: str
    input: Any
    attempts: int
    stages: list[StageInfo]
    error: Optional[ErrorRecord]
    created_at: float
    updated_at: float
    finished_at: Optional[float]
    #: The run's trace (a W3C traceparent) when tracing was on as it started.
    trace: Optional[str] = None

    def stage(self, name: str) -> StageInfo:
        return next(s for s in self.stages if s.name == name)

    @staticmethod
    def of(r: dict[str, Any]) -> "RunInfo":
        return RunInfo(
            run_id=r["run_id"],
            workflow=r["workflow"],
            state=r["state"],
            input=r["input"],
            attempts=r["attempts"],
            stages=[
                StageInfo(
                    name=s["name"],
                    state=s["state"],
                    attempts=s["attempts"],
                    output=s.get("output"),
                    errors=_attempts(s["errors"]),
                    started_at=_secs(s.get("started_at_ms")),
                    finished_at=_secs(s.get("finished_at_ms")),
                    compensation_attempts=s["compensation_attempts"],
                    compensation_errors=_attempts(s["compensation_errors"]),
                )
                for s in r["stages"]
            ],
            error=ErrorRecord.of(r["error"]) if r.get("error") else None,
            created_at=r["created_at_ms"] / 1000.0,
            updated_at=r["updated_at_ms"] / 1000.0,
            finished_at=_secs(r.get("finished_at_ms")),
            trace=r.get("trace"),
        )


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    workflow: str
    state: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class UnrecoveredRun:
    run_id: str
    workflow: str
    reason: str


@dataclass(frozen=True)
class Recovery:
    """What :meth:`WorkflowEngine.recover` did."""

    resumed: list[str]
    compensating: list[str]
    unrecovered: list[UnrecoveredRun]


class WorkflowRun:
    """A run started by :meth:`WorkflowEngine.start`."""

    def __init__(self, engine: "WorkflowEngine", run_id: str) -> None:
        self.engine = engine
        self.id = run_id

    async def wait(self) -> dict[str, Any]:
        """The outputs (stage name to output), or the run's error raised."""
        return await self.engine.wait(self.id)

    async def get(self) -> RunInfo:
        return await self.engine.get(self.id)

    async def cancel(self) -> RunInfo:
        return await self.engine.cancel(self.id)

    def __repr__(self) -> str:
        return f"<WorkflowRun {self.id}>"


def _takes_ctx(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def _dumps(v: Any, what: str) -> str:
    try:
        return json.dumps(v)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{what} cannot be turned into JSON: {e}") from None


def _answer_error(call: Any, e: BaseException) -> None:
    if isinstance(e, OmnitronError):
        call.err(e.code, e.message)
    else:
        call.err("E004", f"{type(e).__name__}: {e}")


def _answer(call: Any, compensation: bool, result: Any, stage: str) -> None:
    if compensation:
        call.ok(None)
        return
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as e:
        call.err("E001", f"stage '{stage}' returned a value that cannot be turned into JSON: {e}")
        return
    call.ok(text)


def _workflow_name(v: Any) -> str:
    """A workflow's name, given as a string or as its ``@workflow`` class."""
    meta = getattr(v, _WORKFLOW, None) if isinstance(v, type) else None
    if meta is not None:
        name: str = meta[0]
        return name
    if not isinstance(v, str) or not v:
        raise InvalidArgumentError(f"a workflow is named by a non-empty string or its @workflow class, got {describe(v)}")
    return v


class WorkflowEngine:
    """The workflow engine, bound to the asyncio loop it was created on. Register definitions,
    start runs, query, cancel, recover."""

    def __init__(self, native: _native.NativeWorkflowEngine, loop: asyncio.AbstractEventLoop) -> None:
        self._native = native
        self._loop = loop
        self._closed = False
        self._fd = native.inbox_fd()
        loop.add_reader(self._fd, native.drain)

    @classmethod
    def open(cls, path: str) -> "Opening[WorkflowEngine]":
        """An engine over the SQLite journal file at ``path`` (created if missing):
        ``engine = await WorkflowEngine.open(path)``, or ``async with WorkflowEngine.open(path) as
        engine:`` (closed at the end). Open one engine per file per process."""
        if not isinstance(path, str) or not path:
            raise InvalidArgumentError(f"WorkflowEngine.open() needs a file path, got {describe(path)}")

        async def make() -> WorkflowEngine:
            loop = asyncio.get_running_loop()
            native = await loop.run_in_executor(None, lambda: _native.NativeWorkflowEngine.open(path))
            return cls(native, loop)

        return Opening(make, "WorkflowEngine.open()")

    @classmethod
    def in_memory(cls) -> "Opening[WorkflowEngine]":
        """An engine whose journal lives in memory: ``engine = await WorkflowEngine.in_memory()``,
        or ``async with WorkflowEngine.in_memory() as engine:``. It binds to the running loop."""

        async def make() -> WorkflowEngine:
            return cls(_native.NativeWorkflowEngine.open(None), asyncio.get_running_loop())

        return Opening(make, "WorkflowEngine.in_memory()")

    def register(self, wf: Any) -> str:
        """Registers a ``@workflow`` class (instantiated without arguments), an instance of one, or
        a :class:`WorkflowDefinition` from :func:`define_workflow`. Returns its name."""
        d = wf if isinstance(wf, WorkflowDefinition) else definition_of(wf)
        if d.orphans:
            raise InvalidWorkflowError(
                f"workflow '{d.name}': a compensation is given for stage '{d.orphans[0]}', which the workflow "
                f"does not have (stages: {', '.join(s.name for s in d.stages) or 'none'})"
            )
        stages = list(d.stages)
        for s in stages:
            if not callable(s.run):
                raise InvalidArgumentError(f"workflow '{d.name}', stage '{s.name}': the stage must be callable, got {describe(s.run)}")
        specs = [
            (
                s.name,
                list(s.depends_on),
                s.timeout,
                s.retries,
                s.retry_delay,
                s.compensate is not None,
                s.compensation_retries,
                s.compensation_retry_delay,
            )
            for s in stages
        ]
        self._native.register(d.name, specs, self._dispatcher(stages), d.timeout, d.retries, d.retry_delay, d.recovery)
        return d.name

    def _dispatcher(self, stages: list[StageDefinition]) -> Callable[[int, bool, str, str, Any], Any]:
        loop = self._loop
        ctx_wanted = [(_takes_ctx(s.run), s.compensate is not None and _takes_ctx(s.compensate)) for s in stages]

        def dispatch(index: int, compensation: bool, input_json: str, ctx_json: str, call: Any) -> Any:
            # On the engine's loop (the inbox): start the work and return at once.
            s = stages[index]
            fn = s.compensate if compensation else s.run
            assert fn is not None
            args: list[Any] = [json.loads(input_json)]
            ctx = StageContext(**json.loads(ctx_json))
            if ctx_wanted[index][1 if compensation else 0]:
                args.append(ctx)
            # The attempt's span is the current trace while it runs: a task or a thread started
            # inside `in_trace` keeps it.
            with in_trace((ctx.traceparent, None)) if ctx.traceparent else contextlib.nullcontext():
                return start_stage(s, fn, compensation, args, call)

        def start_stage(s: StageDefinition, fn: Callable[..., Any], compensation: bool, args: list[Any], call: Any) -> Any:
            if inspect.iscoroutinefunction(fn):

                async def run_async() -> None:
                    try:
                        result = await fn(*args)
                    except OmnitronError as e:  # An engine error (E005 included) is the stage's failure.
                        _answer_error(call, e)
                        return
                    except asyncio.CancelledError:
                        call.err("E005", "the stage was abandoned (timeout or cancel)")
                        raise
                    except BaseException as e:  # noqa: BLE001 - every failure goes back to the engine
                        _answer_error(call, e)
                        return
                    _answer(call, compensation, result, s.name)

                return loop.create_task(run_async()).cancel

            def run_sync() -> None:
                try:
                    result = fn(*args)
                except BaseException as e:  # noqa: BLE001
                    _answer_error(call, e)
                    return
                _answer(call, compensation, result, s.name)

            _threads().submit(contextvars.copy_context().run, run_sync)
            return None

        return dispatch

    def workflows(self) -> list[str]:
        """The registered workflows' names, sorted."""
        return self._native.workflows()

    async def _op(self, start: Callable[[Callable[[str], None]], None]) -> Any:
        if self._closed:
            raise InvalidArgumentError("this workflow engine was closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def settle(text: str) -> None:
            if fut.done():
                return
            r = json.loads(text)
            if "error" in r:
                fut.set_exception(ErrorRecord.of(r["error"]).exception())
            else:
                fut.set_result(r["ok"])

        def done(text: str) -> None:
            # Run by the inbox on the engine's loop; a caller on another loop gets it thread-safely.
            if loop is self._loop:
                settle(text)
            else:
                loop.call_soon_threadsafe(settle, text)

        start(done)
        return await fut

    @checked_keywords("WorkflowEngine.start()")
    async def start(self, name: Union[str, type], input: Any = None, *, run_id: Optional[str] = None) -> WorkflowRun:
        """Starts a run of a workflow (its name or its ``@workflow`` class); returns once its
        creation is journaled. A ``run_id`` that exists returns that run (idempotent start)."""
        n, text, rid = self._check_start(name, input, run_id)
        tp = _traceparent()
        return WorkflowRun(self, await self._op(lambda done: self._native.start(n, text, rid, tp, done)))

    @checked_keywords("WorkflowEngine.run()")
    async def run(self, name: Union[str, type], input: Any = None, *, run_id: Optional[str] = None) -> dict[str, Any]:
        """Starts a run of a workflow (its name or its ``@workflow`` class) and returns its outputs (stage name to output), or raises its error:
        :class:`~omnitron.errors.StageFailedError`, ``StageTimeoutError``,
        ``CompensationFailedError`` (``errors`` holds the original error, then each failed
        compensation's), ..."""
        n, text, rid = self._check_start(name, input, run_id)
        tp = _traceparent()
        out: dict[str, Any] = await self._op(lambda done: self._native.run(n, text, rid, tp, done))
        return out

    def _check_start(self, name: Any, input: Any, run_id: Any) -> tuple[str, str, Optional[str]]:
        name = _workflow_name(name)
        if run_id is not None and (not isinstance(run_id, str) or not run_id):
            raise InvalidArgumentError(f"run_id must be a non-empty string, got {describe(run_id)}")
        return name, _dumps(input, "the input"), run_id

    def _run_id(self, run_id: Any) -> str:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidArgumentError(f"a run id must be a non-empty string, got {describe(run_id)}")
        return run_id

    async def wait(self, run_id: str) -> dict[str, Any]:
        """Waits for a run's end. A run unfinished in the journal but not running here fails at
        once (call :meth:`recover` first)."""
        rid = self._run_id(run_id)
        out: dict[str, Any] = await self._op(lambda done: self._native.wait(rid, done))
        return out

    async def get(self, run_id: str) -> RunInfo:
        """A run's state, stages, attempts, errors and times."""
        rid = self._run_id(run_id)
        return RunInfo.of(await self._op(lambda done: self._native.get(rid, done)))

    @checked_keywords("WorkflowEngine.list()")
    async def list(
        self, *, workflow: Union[str, type, None] = None, state: Optional[str] = None, limit: Optional[int] = None
    ) -> list[RunSummary]:
        """Runs in the journal, oldest first (of one workflow: its name or ``@workflow`` class)."""
        if workflow is not None:
            workflow = _workflow_name(workflow)
        if state is not None and not isinstance(state, str):
            raise InvalidArgumentError(f"state must be a string, got {describe(state)}")
        _count(limit, "limit")
        raw = await self._op(lambda done: self._native.list(workflow, state, limit, done))
        return [RunSummary(r["run_id"], r["workflow"], r["state"], r["created_at_ms"] / 1000.0, r["updated_at_ms"] / 1000.0) for r in raw]

    async def cancel(self, run_id: str) -> RunInfo:
        """Cancels a run: stages in flight are abandoned (async ones cancelled), completed ones
        compensated. Returns its final state."""
        rid = self._run_id(run_id)
        return RunInfo.of(await self._op(lambda done: self._native.cancel(rid, done)))

    async def recover(self) -> Recovery:
        """Takes up the runs a stopped process left unfinished (register the workflows first)."""
        r = await self._op(lambda done: self._native.recover(done))
        return Recovery(r["resumed"], r["compensating"], [UnrecoveredRun(**u) for u in r["unrecovered"]])

    async def close(self) -> None:
        """Stops taking operations and detaches from the loop (runs in flight are left to end)."""
        if self._closed:
            return
        self._closed = True
        self._native.drain()
        self._loop.remove_reader(self._fd)

    async def __aenter__(self) -> "WorkflowEngine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = [
    "AttemptError",
    "ErrorRecord",
    "Recovery",
    "RunInfo",
    "RunSummary",
    "StageContext",
    "StageDefinition",
    "StageInfo",
    "UnrecoveredRun",
    "WorkflowBuilder",
    "WorkflowDefinition",
    "WorkflowEngine",
    "WorkflowRun",
    "compensate",
    "define_workflow",
    "definition_of",
    "stage",
    "workflow",
]
