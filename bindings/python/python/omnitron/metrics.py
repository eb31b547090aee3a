"""Metrics: counters, gauges and histograms in the engine's registry, written as prometheus_client
users write them, exposed in the Prometheus text format, as OpenMetrics, as a snapshot, and over
HTTP (``start_http_server(port)`` or ``REGISTRY.serve(port=...)``).

::

    from omnitron import Counter, Gauge, Histogram, generate_latest

    orders = Counter("orders_total", "Orders", ["status"])
    orders.labels("paid").inc()
    orders.labels(status="failed").inc(2)
    queue = Gauge("queue_depth", "Jobs waiting")
    queue.set(7)
    latency = Histogram("latency_seconds", "Latency", buckets=[0.1, 0.5, 1.0])
    with latency.time():
        pass
    assert b'orders_total{status="failed"} 2' in generate_latest()

Metrics register in :data:`REGISTRY` (the process's one registry, where the engine reports its own
metrics and where every door of this process records) unless given ``registry=``;
``registry=None`` makes one that is exposed nowhere. As in prometheus_client, a counter's name may
end in ``_total`` or not (it is exposed with it), ``namespace``, ``subsystem`` and ``unit`` join the
name, and bad names, labels and values raise ``ValueError`` subclasses (with the engine's code).
Unlike prometheus_client, declaring the same metric twice gives the same series (a different
declaration under the same name raises :class:`~omnitron.errors.MetricConflictError`), and no
``_created`` samples are exposed.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, TypeVar, Union, overload

from . import _native
from ._options import checked_keywords
from .errors import InvalidArgumentError, from_code
from .di.tokens import describe

F = TypeVar("F", bound=Callable[..., Any])

#: The content type of :func:`generate_latest`'s output (the Prometheus text format 0.0.4).
CONTENT_TYPE_LATEST = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_PLAIN_0_0_4 = CONTENT_TYPE_LATEST
_INF = float("inf")


class Registry:
    """A set of metrics exposed together. :data:`REGISTRY` is the process-wide one, where the
    engine reports its own metrics too."""

    def __init__(self, native: Optional[_native.NativeRegistry] = None) -> None:
        self._native = native if native is not None else _native.NativeRegistry()
        self._metrics: dict[str, "_Family"] = {}

    @checked_keywords("Registry.counter()")
    def counter(self, name: str, documentation: str = "", labelnames: Sequence[str] = (), *, cardinality_limit: Optional[int] = None) -> "Counter":
        """The counter ``name`` (registered under that exact name; the same declaration again gives
        the same counter)."""
        return self._get(Counter, "counter", name, documentation, labelnames, None, cardinality_limit)  # type: ignore[return-value]

    @checked_keywords("Registry.gauge()")
    def gauge(self, name: str, documentation: str = "", labelnames: Sequence[str] = (), *, cardinality_limit: Optional[int] = None) -> "Gauge":
        return self._get(Gauge, "gauge", name, documentation, labelnames, None, cardinality_limit)  # type: ignore[return-value]

    @checked_keywords("Registry.histogram()")
    def histogram(
        self,
        name: str,
        documentation: str = "",
        labelnames: Sequence[str] = (),
        *,
        buckets: Optional[Sequence[float]] = None,
        cardinality_limit: Optional[int] = None,
    ) -> "Histogram":
        return self._get(Histogram, "histogram", name, documentation, labelnames, buckets, cardinality_limit)  # type: ignore[return-value]

    def _family(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: Iterable[str],
        buckets: Optional[Sequence[Union[float, str]]],
        limit: Optional[int],
    ) -> tuple[_native.NativeMetric, tuple[str, ...]]:
        if not isinstance(name, str):
            raise InvalidArgumentError(f"a metric needs a name (a string), got {describe(name)}")
        if not isinstance(documentation, str):
            raise InvalidArgumentError(f"the documentation of '{name}' must be a string, got {describe(documentation)}")
        if isinstance(labelnames, (str, bytes)) or not isinstance(labelnames, Iterable):
            raise InvalidArgumentError(f"labelnames of '{name}' must be a sequence of strings, got {describe(labelnames)}")
        labels = tuple(labelnames)
        if not all(isinstance(n, str) for n in labels):
            raise InvalidArgumentError(f"labelnames of '{name}' must be a sequence of strings, got {describe(labelnames)}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise InvalidArgumentError(f"cardinality_limit of '{name}' must be an int, got {describe(limit)}")
        family = self._native.metric(kind, name, documentation, list(labels), _bounds(name, buckets), limit)
        return family, labels

    def _get(
        self,
        cls: type["_Family"],
        kind: str,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Optional[Sequence[float]],
        limit: Optional[int],
    ) -> "_Family":
        family, labels = self._family(kind, name, documentation, labelnames, buckets, limit)
        existing = self._metrics.get(name)
        if existing is not None:
            return existing
        m = cls._wrap(family, labels)
        self._metrics[name] = m
        return m

    def unregister(self, name: str) -> None:
        self._metrics.pop(name, None)
        self._native.unregister(name)

    def clear(self) -> None:
        self._metrics.clear()
        self._native.clear()

    def generate_latest(self) -> str:
        """Every metric in the Prometheus text format, as a string (the module's
        :func:`generate_latest` gives bytes, as prometheus_client's does)."""
        return self._native.text()

    text = generate_latest

    def openmetrics(self) -> str:
        """Every metric in the OpenMetrics format."""
        return self._native.openmetrics()

    #: Content type of :meth:`generate_latest`.
    CONTENT_TYPE = CONTENT_TYPE_LATEST

    def snapshot(self) -> list[dict[str, Any]]:
        """Every metric as plain data."""
        data: list[dict[str, Any]] = json.loads(self._native.snapshot_json())
        return data

    @checked_keywords("Registry.serve()")
    def serve(self, port: int = 9464, host: str = "127.0.0.1") -> "MetricsServer":
        """Serves ``GET /metrics`` over HTTP. ``port=0`` picks a free port (see ``server.port``)."""
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise InvalidArgumentError(f"port must be 0..65535, got {describe(port)}")
        if not isinstance(host, str):
            raise InvalidArgumentError(f"host must be a string, got {describe(host)}")
        return MetricsServer(self._native.serve(f"{host}:{port}"), host)


def _bounds(name: str, buckets: Optional[Sequence[Union[float, str]]]) -> Optional[list[float]]:
    """Bucket bounds for the engine: numbers (or numeric strings, as prometheus_client takes them),
    without the trailing +Inf prometheus_client users write (the engine always has one)."""
    if buckets is None:
        return None
    if isinstance(buckets, (str, bytes)) or not isinstance(buckets, Iterable):
        raise InvalidArgumentError(f"buckets of '{name}' must be a sequence of numbers, got {describe(buckets)}")
    out: list[float] = []
    for b in buckets:
        if isinstance(b, bool) or not isinstance(b, (int, float, str)):
            raise InvalidArgumentError(f"buckets of '{name}' must be a sequence of numbers, got {describe(b)} in it")
        try:
            out.append(float(b))
        except ValueError:
            raise InvalidArgumentError(f"buckets of '{name}' must be numbers, got {b!r}") from None
    if len(out) > 1 and out[-1] == _INF:
        out.pop()
    return out


@dataclass
class MetricsServer:
    """A running ``/metrics`` server."""

    _native: _native.NativeExporter
    host: str

    @property
    def port(self) -> int:
        return self._native.port

    def stop(self) -> None:
        """Stops the server (idempotent): the form for synchronous code, and ``with``."""
        self._native.stop()

    async def close(self) -> None:
        """Stops the server (idempotent), as every Omnitron object that holds resources closes;
        ``async with`` does it at the end of the block."""
        self._native.stop()

    def __enter__(self) -> "MetricsServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def __aenter__(self) -> "MetricsServer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


# ---- with-blocks and decorators: time(), count_exceptions(), track_inprogress() ----------------


class _Block:
    """A context manager that is also a decorator (for ``def`` and ``async def``): ``enter()``
    before, ``leave(seconds, error)`` after."""

    __slots__ = ("_enter", "_leave", "_start")

    def __init__(self, enter: Optional[Callable[[], None]], leave: Callable[[float, Optional[BaseException]], None]) -> None:
        self._enter = enter
        self._leave = leave
        self._start = 0.0

    def __enter__(self) -> "_Block":
        if self._enter is not None:
            self._enter()
        self._start = time.perf_counter()
        return self

    def __exit__(self, kind: Any, error: Optional[BaseException], tb: Any) -> None:
        self._leave(time.perf_counter() - self._start, error)

    def __call__(self, f: F) -> F:
        enter, leave = self._enter, self._leave
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                with _Block(enter, leave):
                    return await f(*args, **kwargs)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _Block(enter, leave):
                return f(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _exceptions(exception: Any) -> tuple[type[BaseException], ...]:
    kinds = exception if isinstance(exception, tuple) else (exception,)
    if not kinds or not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
        raise InvalidArgumentError(f"count_exceptions() takes an exception class or a tuple of them, got {describe(exception)}")
    return kinds


# ---- children: what labels(...) gives ------------------------------------------------------------


class CounterChild:
    """A counter's series for one set of label values."""

    __slots__ = ("_series", "inc")

    def __init__(self, series: _native.NativeSeries) -> None:
        self._series = series
        #: ``inc(amount=1)``: adds ``amount`` (a negative one raises ``ValueError``).
        self.inc = series.inc

    def count_exceptions(self, exception: Union[type[BaseException], tuple[type[BaseException], ...]] = Exception) -> _Block:
        """Counts the exceptions of ``exception``'s kind raised out of a ``with`` block or a
        decorated function."""
        kinds, inc = _exceptions(exception), self._series.inc

        def leave(_: float, error: Optional[BaseException]) -> None:
            if error is not None and isinstance(error, kinds):
                inc(1.0)

        return _Block(None, leave)

    def get(self) -> float:
        return self._series.value()

    value = get


class GaugeChild:
    """A gauge's series for one set of label values."""

    __slots__ = ("_series", "inc", "dec", "set")

    def __init__(self, series: _native.NativeSeries) -> None:
        self._series = series
        self.inc = series.inc
        self.dec = series.dec
        self.set = series.set

    def set_to_current_time(self) -> None:
        """Sets it to the current Unix time."""
        self._series.set(time.time())

    def track_inprogress(self) -> _Block:
        """Up by one while a ``with`` block or a decorated function runs."""
        s = self._series
        return _Block(lambda: s.inc(1.0), lambda _s, _e: s.dec(1.0))

    def time(self) -> _Block:
        """Set to the seconds a ``with`` block or a decorated function took."""
        s = self._series
        return _Block(None, lambda seconds, _e: s.set(seconds))

    def get(self) -> float:
        return self._series.value()

    value = get


class HistogramChild:
    """A histogram's series for one set of label values."""

    __slots__ = ("_series", "observe")

    def __init__(self, series: _native.NativeSeries) -> None:
        self._series = series
        self.observe = series.observe

    def time(self) -> _Block:
        """Observes the seconds a ``with`` block or a decorated function takes."""
        s = self._series
        return _Block(None, lambda seconds, _e: s.observe(seconds))

    def count_and_sum(self) -> tuple[float, float]:
        return self._series.count_and_sum()


# ---- families ------------------------------------------------------------------------------------

#: The process-wide registry: the engine's, shared by every door of this process.
REGISTRY = Registry(_native.NativeRegistry.global_registry())


class _Family:
    _kind = ""
    _child_type: type[Any] = CounterChild

    _family: _native.NativeMetric
    _labelnames: tuple[str, ...]
    _children: dict[tuple[Any, ...], Any]
    _own_child: Any

    def _declare(
        self,
        name: Any,
        documentation: Any,
        labelnames: Any,
        namespace: str,
        subsystem: str,
        unit: str,
        registry: Optional[Registry],
        buckets: Optional[Sequence[Union[float, str]]],
        cardinality_limit: Optional[int],
    ) -> None:
        if isinstance(name, _native.NativeMetric):
            # The 0.1 form `Counter(native_family, labelnames)` (what Registry used inside).
            warnings.warn(
                f"{type(self).__name__}(native_family, labelnames) is deprecated: use "
                f"{type(self).__name__}(name, documentation, labelnames) or REGISTRY.{self._kind}(...)",
                DeprecationWarning,
                stacklevel=4,  # __init__ of the subclass, its keyword check, then the caller
            )
            self._bind(name, tuple(documentation))
            return
        for what, v in (("namespace", namespace), ("subsystem", subsystem), ("unit", unit)):
            if not isinstance(v, str):
                raise InvalidArgumentError(f"{what} must be a string, got {describe(v)}")
        if registry is not None and not isinstance(registry, Registry):
            raise InvalidArgumentError(f"registry must be a Registry or None, got {describe(registry)}")
        if not isinstance(name, str):
            raise InvalidArgumentError(f"a metric needs a name (a string), got {describe(name)}")
        if not name:
            raise from_code("M001", "a metric needs a non-empty name")
        # prometheus_client's naming: namespace_subsystem_name[_unit]; a counter exposed with `_total`.
        full = "_".join(p for p in (namespace, subsystem, name) if p)
        if self._kind == "counter" and full.endswith("_total"):
            full = full[: -len("_total")]
        if unit and not full.endswith("_" + unit):
            full += "_" + unit
        if self._kind == "counter":
            full += "_total"
        reg = registry if registry is not None else Registry()  # None: exposed nowhere
        family, labels = reg._family(self._kind, full, documentation, labelnames, buckets, cardinality_limit)
        self._bind(family, labels)

    @classmethod
    def _wrap(cls, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> "_Family":
        self = cls.__new__(cls)
        self._bind(family, labelnames)
        return self

    def _bind(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        self._family = family
        self._labelnames = labelnames
        self._children = {}
        self._own_child = self._child_type(family.series([])) if not labelnames else None

    @property
    def name(self) -> str:
        """The name it is registered and exposed under."""
        return self._family.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _labels(self, values: tuple[Any, ...], named: dict[str, Any]) -> Any:
        # Label values given positionally are their own key: one dict lookup on the hot path.
        if not named:
            c = self._children.get(values)
            if c is not None:
                return c
        key = self._label_values(values, named)
        c = self._children.get(key)
        if c is None:
            c = self._child_type(self._family.series(list(key)))
            self._children[key] = c
        if not named:
            self._children[values] = c
        return c

    def _label_values(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, ...]:
        names = self._labelnames
        if not names:
            raise from_code("M002", f"metric '{self.name}' has no labels: call its methods directly, not .labels(...)")
        if args and kwargs:
            raise from_code("M002", f"metric '{self.name}': give label values positionally or by name, not both")
        if kwargs:
            if set(kwargs) != set(names):
                raise from_code("M002", f"metric '{self.name}' has labels [{', '.join(names)}] but got {sorted(kwargs)}")
            return tuple(str(kwargs[n]) for n in names)
        if len(args) != len(names):
            raise from_code("M002", f"metric '{self.name}' has labels [{', '.join(names)}] but got {len(args)} value(s)")
        return tuple(str(a) for a in args)

    def _own(self) -> Any:
        if self._own_child is None:
            raise from_code("M002", f"metric '{self.name}' has labels [{', '.join(self._labelnames)}]: use .labels(...)")
        return self._own_child


class Counter(_Family):
    """A counter: only goes up. ``Counter("orders_total", "Orders", ["status"])``, as in
    prometheus_client: registered in :data:`REGISTRY` unless ``registry=`` says otherwise."""

    _kind = "counter"
    _child_type = CounterChild

    @checked_keywords("Counter()")
    def __init__(
        self,
        name: str,
        documentation: str = "",
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[Registry] = REGISTRY,
        *,
        cardinality_limit: Optional[int] = None,
    ) -> None:
        self._declare(name, documentation, labelnames, namespace, subsystem, unit, registry, None, cardinality_limit)

    def _bind(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        super()._bind(family, labelnames)
        if self._own_child is not None:
            self.inc = self._own_child.inc  # type: ignore[method-assign]  # one native call

    def inc(self, amount: float = 1.0) -> None:
        """Adds ``amount`` (a negative one raises ``ValueError``)."""
        self._own().inc(amount)

    def labels(self, *values: Any, **named: Any) -> CounterChild:
        """The series for these label values (positional in ``labelnames`` order, or by name)."""
        c: CounterChild = self._labels(values, named)
        return c

    def count_exceptions(self, exception: Union[type[BaseException], tuple[type[BaseException], ...]] = Exception) -> _Block:
        """Counts exceptions raised out of a ``with`` block or a decorated function."""
        child: CounterChild = self._own()
        return child.count_exceptions(exception)

    def get(self, *values: Any) -> float:
        child: CounterChild = self.labels(*values) if values else self._own()
        return child.get()


class Gauge(_Family):
    """A gauge: goes up and down. ``Gauge("queue_depth", "Jobs waiting")``."""

    _kind = "gauge"
    _child_type = GaugeChild

    @checked_keywords("Gauge()")
    def __init__(
        self,
        name: str,
        documentation: str = "",
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[Registry] = REGISTRY,
        *,
        cardinality_limit: Optional[int] = None,
    ) -> None:
        self._declare(name, documentation, labelnames, namespace, subsystem, unit, registry, None, cardinality_limit)

    def _bind(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        super()._bind(family, labelnames)
        own = self._own_child
        if own is not None:
            self.inc, self.dec, self.set = own.inc, own.dec, own.set  # type: ignore[method-assign]

    def set(self, value: float) -> None:
        self._own().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self._own().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._own().dec(amount)

    def set_to_current_time(self) -> None:
        """Sets it to the current Unix time."""
        child: GaugeChild = self._own()
        child.set_to_current_time()

    def track_inprogress(self) -> _Block:
        """Up by one while a ``with`` block or a decorated function runs."""
        child: GaugeChild = self._own()
        return child.track_inprogress()

    def time(self) -> _Block:
        """Set to the seconds a ``with`` block or a decorated function took."""
        child: GaugeChild = self._own()
        return child.time()

    def labels(self, *values: Any, **named: Any) -> GaugeChild:
        c: GaugeChild = self._labels(values, named)
        return c

    def get(self, *values: Any) -> float:
        child: GaugeChild = self.labels(*values) if values else self._own()
        return child.get()


class Histogram(_Family):
    """A histogram: counts observations into buckets, with their sum and count.
    ``Histogram("latency_seconds", "Latency", buckets=[0.1, 0.5, 1.0])`` (a trailing ``+Inf`` may be
    given, as prometheus_client users do; it is always there)."""

    _kind = "histogram"
    _child_type = HistogramChild
    #: The bounds used when none are given (seconds, 5 ms to 10 s), then +Inf.
    DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, _INF)

    @checked_keywords("Histogram()")
    def __init__(
        self,
        name: str,
        documentation: str = "",
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[Registry] = REGISTRY,
        *,
        buckets: Optional[Sequence[Union[float, str]]] = None,
        cardinality_limit: Optional[int] = None,
    ) -> None:
        self._declare(name, documentation, labelnames, namespace, subsystem, unit, registry, buckets, cardinality_limit)

    def _bind(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        super()._bind(family, labelnames)
        if self._own_child is not None:
            self.observe = self._own_child.observe  # type: ignore[method-assign]

    def observe(self, amount: float) -> None:
        self._own().observe(amount)

    def labels(self, *values: Any, **named: Any) -> HistogramChild:
        c: HistogramChild = self._labels(values, named)
        return c

    def time(self, *values: Any) -> _Block:
        """Observes the seconds a ``with`` block or a decorated function takes (of the series for
        ``values``, if given)."""
        child: HistogramChild = self.labels(*values) if values else self._own()
        return child.time()

    def count_and_sum(self, *values: Any) -> tuple[float, float]:
        child: HistogramChild = self.labels(*values) if values else self._own()
        return child.count_and_sum()


def generate_latest(registry: Registry = REGISTRY) -> bytes:
    """Every metric of ``registry`` in the Prometheus text format, as UTF-8 bytes (what
    prometheus_client's ``generate_latest`` gives); serve it as :data:`CONTENT_TYPE_LATEST`."""
    if not isinstance(registry, Registry):
        raise InvalidArgumentError(f"generate_latest() takes a Registry, got {describe(registry)}")
    return registry.generate_latest().encode()


@checked_keywords("start_http_server()")
def start_http_server(port: int, addr: str = "0.0.0.0", registry: Registry = REGISTRY) -> MetricsServer:
    """Serves ``registry`` at ``http://addr:port/metrics`` (prometheus_client's function: it listens
    on every interface by default). Returns the server; ``server.stop()`` stops it."""
    if not isinstance(registry, Registry):
        raise InvalidArgumentError(f"start_http_server() takes a Registry, got {describe(registry)}")
    return registry.serve(port=port, host=addr)


# ---- @metric -------------------------------------------------------------------------------------


@overload
def metric(name: F, /) -> F: ...
@overload
def metric(name: Optional[str] = None, *, registry: Optional[Registry] = None) -> Callable[[F], F]: ...
@overload
def metric(
    name: Optional[str] = None,
    *,
    type: str,
    help: str = "",
    labelnames: Sequence[str] = (),
    buckets: Optional[Sequence[float]] = None,
    registry: Optional[Registry] = None,
) -> Callable[[F], F]: ...


@checked_keywords("@metric()")
def metric(
    name: Any = None,
    *,
    type: Optional[str] = None,
    help: str = "",
    labelnames: Sequence[str] = (),
    buckets: Optional[Sequence[float]] = None,
    registry: Optional[Registry] = None,
) -> Any:
    """``@metric("users.find_one")`` records calls, errors and duration of a function (in
    ``method_calls_total``, ``method_errors_total`` and ``method_duration_seconds``, labelled
    ``method="users.find_one"``); ``@metric`` and ``@metric()`` do the same under the function's
    qualified name (``Users.find_one``). ``@metric("orders_total", type="counter"|"histogram"|"gauge",
    ...)`` records the function's arguments: a counter is incremented with them as label values, a
    histogram observes the first (the rest are label values), a gauge is set to the first. Works on
    ``def`` and ``async def``."""
    if callable(name):  # bare @metric
        return metric()(name)
    if registry is not None and not isinstance(registry, Registry):
        raise InvalidArgumentError(f"registry must be a Registry, got {describe(registry)}")
    reg = registry if registry is not None else REGISTRY
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidArgumentError(f"@metric() needs a non-empty name, got {describe(name)}")
    if type is None:
        return _timed(name, reg)
    if name is None:
        raise InvalidArgumentError("@metric(type=...) needs a name: @metric('orders_total', type='counter')")
    return _recorded(type, name, help, tuple(labelnames), buckets, reg)


def _timed(method: Optional[str], reg: Registry) -> Callable[[F], F]:
    calls = reg.counter("method_calls_total", "Calls of instrumented methods", ("method",))
    errors = reg.counter("method_errors_total", "Calls of instrumented methods that failed", ("method",))
    duration = reg.histogram("method_duration_seconds", "Duration of instrumented methods", ("method",))

    def decorate(f: F) -> F:
        if not callable(f):
            raise InvalidArgumentError(f"@metric decorates functions, got {describe(f)}")
        label = method if method is not None else getattr(f, "__qualname__", getattr(f, "__name__", "call"))
        inc_calls, inc_errors, observe = calls.labels(label).inc, errors.labels(label).inc, duration.labels(label).observe
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                inc_calls()
                start = time.perf_counter()
                try:
                    return await f(*args, **kwargs)
                except BaseException:
                    inc_errors()
                    raise
                finally:
                    observe(time.perf_counter() - start)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inc_calls()
            start = time.perf_counter()
            try:
                return f(*args, **kwargs)
            except BaseException:
                inc_errors()
                raise
            finally:
                observe(time.perf_counter() - start)

        return wrapper  # type: ignore[return-value]

    return decorate


def _recorded(
    kind: str, name: str, help: str, labelnames: tuple[str, ...], buckets: Optional[Sequence[float]], reg: Registry
) -> Callable[[F], F]:
    m: Union[Counter, Gauge, Histogram]
    if kind == "counter":
        m = reg.counter(name, help, labelnames)
    elif kind == "gauge":
        m = reg.gauge(name, help, labelnames)
    elif kind == "histogram":
        m = reg.histogram(name, help, labelnames, buckets=buckets)
    else:
        raise InvalidArgumentError(f"@metric() type must be 'counter', 'gauge' or 'histogram', got {describe(kind)}")

    def record(args: tuple[Any, ...]) -> None:
        # Methods: skip `self` when the arguments are one longer than what is recorded.
        if isinstance(m, Counter):
            values = args[-len(labelnames):] if labelnames else ()
            (m.labels(*values) if labelnames else m).inc()
            return
        rest = args[-(len(labelnames) + 1):]
        if isinstance(m, Gauge):
            (m.labels(*rest[1:]) if labelnames else m).set(rest[0])
        else:
            (m.labels(*rest[1:]) if labelnames else m).observe(rest[0])

    def decorate(f: F) -> F:
        if not callable(f):
            raise InvalidArgumentError(f"@metric decorates functions, got {describe(f)}")
        # The arguments as the function sees them, keywords and defaults included, in its
        # parameters' order (a method's `self` left out): read by name, not by position.
        sig = inspect.signature(f)
        skip = 1 if next(iter(sig.parameters), None) in ("self", "cls") else 0
        every = len(sig.parameters)

        def recorded(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if not kwargs and len(args) == every:
                record(args[skip:])  # every argument given in order: nothing to look up
                return
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            record(tuple(bound.arguments.values())[skip:])

        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                recorded(args, kwargs)
                return await f(*args, **kwargs)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            recorded(args, kwargs)
            return f(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = [
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "REGISTRY",
    "Counter",
    "CounterChild",
    "Gauge",
    "GaugeChild",
    "Histogram",
    "HistogramChild",
    "MetricsServer",
    "Registry",
    "generate_latest",
    "metric",
    "start_http_server",
]
