"""Metrics: counters, gauges and histograms in the engine's registry, exposed in the Prometheus text
format, as OpenMetrics, as a snapshot, and over HTTP (``registry.serve(port=...)``).

::

    from omnitron.metrics import REGISTRY

    orders = REGISTRY.counter("orders_total", "Orders", labelnames=("status",))
    orders.labels("paid").inc()
    latency = REGISTRY.histogram("latency_seconds", "Latency")
    with latency.time():
        ...
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar, Union, overload
from contextlib import contextmanager

from . import _native
from .errors import InvalidArgumentError, from_code
from .di.tokens import describe

F = TypeVar("F", bound=Callable[..., Any])


class Registry:
    """A set of metrics exposed together. :data:`REGISTRY` is the process-wide one, where the
    engine reports its own metrics too."""

    def __init__(self, native: Optional[_native.NativeRegistry] = None) -> None:
        self._native = native if native is not None else _native.NativeRegistry()
        self._metrics: dict[str, "_Family"] = {}

    def counter(self, name: str, documentation: str = "", labelnames: Sequence[str] = (), *, cardinality_limit: Optional[int] = None) -> "Counter":
        return self._get(Counter, "counter", name, documentation, labelnames, None, cardinality_limit)  # type: ignore[return-value]

    def gauge(self, name: str, documentation: str = "", labelnames: Sequence[str] = (), *, cardinality_limit: Optional[int] = None) -> "Gauge":
        return self._get(Gauge, "gauge", name, documentation, labelnames, None, cardinality_limit)  # type: ignore[return-value]

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
        if not isinstance(name, str):
            raise InvalidArgumentError(f"a metric needs a name (a string), got {describe(name)}")
        if not isinstance(documentation, str):
            raise InvalidArgumentError(f"the documentation of '{name}' must be a string")
        if isinstance(labelnames, str) or not all(isinstance(n, str) for n in labelnames):
            raise InvalidArgumentError(f"labelnames of '{name}' must be a sequence of strings, got {describe(labelnames)}")
        if buckets is not None and (isinstance(buckets, str) or not all(isinstance(b, (int, float)) for b in buckets)):
            raise InvalidArgumentError(f"buckets of '{name}' must be a sequence of numbers")
        family = self._native.metric(
            kind, name, documentation, list(labelnames), [float(b) for b in buckets] if buckets is not None else None, limit
        )
        existing = self._metrics.get(name)
        if existing is not None:
            return existing
        m = cls(family, tuple(labelnames))
        self._metrics[name] = m
        return m

    def unregister(self, name: str) -> None:
        self._metrics.pop(name, None)
        self._native.unregister(name)

    def clear(self) -> None:
        self._metrics.clear()
        self._native.clear()

    def generate_latest(self) -> str:
        """Every metric in the Prometheus text format."""
        return self._native.text()

    text = generate_latest

    def openmetrics(self) -> str:
        """Every metric in the OpenMetrics format."""
        return self._native.openmetrics()

    #: Content type of :meth:`generate_latest`.
    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def snapshot(self) -> list[dict[str, Any]]:
        """Every metric as plain data."""
        data: list[dict[str, Any]] = json.loads(self._native.snapshot_json())
        return data

    def serve(self, port: int = 9464, host: str = "127.0.0.1") -> "MetricsServer":
        """Serves ``GET /metrics`` over HTTP. ``port=0`` picks a free port (see ``server.port``)."""
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise InvalidArgumentError(f"port must be 0..65535, got {describe(port)}")
        if not isinstance(host, str):
            raise InvalidArgumentError(f"host must be a string, got {describe(host)}")
        return MetricsServer(self._native.serve(f"{host}:{port}"), host)


@dataclass
class MetricsServer:
    """A running ``/metrics`` server."""

    _native: _native.NativeExporter
    host: str

    @property
    def port(self) -> int:
        return self._native.port

    def stop(self) -> None:
        """Stops the server (idempotent)."""
        self._native.stop()

    def __enter__(self) -> "MetricsServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Family:
    def __init__(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        self._family = family
        self._labelnames = labelnames
        self._children: dict[tuple[str, ...], Any] = {}
        self._unlabeled: Optional[_native.NativeSeries] = family.series([]) if not labelnames else None

    @property
    def name(self) -> str:
        return self._family.name

    def _child(self, values: tuple[Any, ...], named: dict[str, Any]) -> _native.NativeSeries:
        # Label values given as strings, positionally, are their own key: one dict lookup.
        if not named:
            s: Optional[_native.NativeSeries] = self._children.get(values)
            if s is not None:
                return s
        return self._series(self._label_values(values, named))

    def _series(self, values: tuple[str, ...]) -> _native.NativeSeries:
        s = self._children.get(values)
        if s is None:
            s = self._family.series(list(values))
            self._children[values] = s
        return s

    def _label_values(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, ...]:
        names = self._labelnames
        if kwargs:
            if args or set(kwargs) != set(names):
                raise from_code("M002", f"metric '{self.name}' has labels [{', '.join(names)}] but got {sorted(kwargs)}")
            return tuple(str(kwargs[n]) for n in names)
        if len(args) != len(names):
            raise from_code("M002", f"metric '{self.name}' has labels [{', '.join(names)}] but got {len(args)} value(s)")
        return tuple(str(a) for a in args)

    def _own(self) -> _native.NativeSeries:
        if self._unlabeled is None:
            raise from_code("M002", f"metric '{self.name}' has labels [{', '.join(self._labelnames)}]: use .labels(...)")
        return self._unlabeled


class Counter(_Family):
    """A counter: only goes up."""

    def __init__(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        super().__init__(family, labelnames)
        if self._unlabeled is not None:
            self.inc = self._unlabeled.inc  # type: ignore[method-assign]  # one native call

    def inc(self, amount: float = 1.0) -> None:
        """Adds ``amount`` (refuses negative amounts)."""
        self._own().inc(amount)

    def labels(self, *values: Any, **named: Any) -> _native.NativeSeries:
        """The child for these label values (positional in ``labelnames`` order, or by name)."""
        return self._child(values, named)

    def get(self, *values: Any) -> float:
        return (self.labels(*values) if values else self._own()).value()


class Gauge(_Family):
    """A gauge: goes up and down."""

    def __init__(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        super().__init__(family, labelnames)
        if self._unlabeled is not None:
            self.inc = self._unlabeled.inc  # type: ignore[method-assign]
            self.dec = self._unlabeled.dec  # type: ignore[method-assign]
            self.set = self._unlabeled.set  # type: ignore[method-assign]

    def set(self, value: float) -> None:
        self._own().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self._own().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._own().dec(amount)

    def labels(self, *values: Any, **named: Any) -> _native.NativeSeries:
        return self._child(values, named)

    def get(self, *values: Any) -> float:
        return (self.labels(*values) if values else self._own()).value()


class Histogram(_Family):
    """A histogram: counts observations into buckets, with their sum and count."""

    def __init__(self, family: _native.NativeMetric, labelnames: tuple[str, ...]) -> None:
        super().__init__(family, labelnames)
        if self._unlabeled is not None:
            self.observe = self._unlabeled.observe  # type: ignore[method-assign]

    def observe(self, value: float) -> None:
        self._own().observe(value)

    def labels(self, *values: Any, **named: Any) -> _native.NativeSeries:
        return self._child(values, named)

    @contextmanager
    def time(self, *values: Any) -> Iterator[None]:
        """Observes the seconds the ``with`` block takes."""
        target = self.labels(*values) if values else self._own()
        start = time.perf_counter()
        try:
            yield
        finally:
            target.observe(time.perf_counter() - start)

    def count_and_sum(self, *values: Any) -> tuple[float, float]:
        return (self.labels(*values) if values else self._own()).count_and_sum()


#: The process-wide registry.
REGISTRY = Registry(_native.NativeRegistry.global_registry())


@overload
def metric(name: str, *, registry: Optional[Registry] = None) -> Callable[[F], F]: ...
@overload
def metric(
    *,
    type: str,
    name: str,
    help: str = "",
    labelnames: Sequence[str] = (),
    buckets: Optional[Sequence[float]] = None,
    registry: Optional[Registry] = None,
) -> Callable[[F], F]: ...


def metric(
    name: Optional[str] = None,
    *,
    type: Optional[str] = None,
    help: str = "",
    labelnames: Sequence[str] = (),
    buckets: Optional[Sequence[float]] = None,
    registry: Optional[Registry] = None,
    **extra: Any,
) -> Callable[[F], F]:
    """``@metric("users.find_one")`` records calls, errors and duration of a function (in
    ``method_calls_total``, ``method_errors_total`` and ``method_duration_seconds``, labelled
    ``method="users.find_one"``). ``@metric(type="counter"|"histogram"|"gauge", name=..., ...)``
    records the function's arguments: a counter is incremented with them as label values, a histogram
    observes the first (the rest are label values), a gauge is set to the first. Works on ``def`` and
    ``async def``."""
    if extra:
        raise InvalidArgumentError(f"@metric() got unknown options {sorted(extra)}")
    reg = registry if registry is not None else REGISTRY
    if type is None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"@metric() needs a non-empty name, got {describe(name)}")
        return _timed(name, reg)
    if name is None:
        raise InvalidArgumentError("@metric(type=...) needs name=")
    return _recorded(type, name, help, tuple(labelnames), buckets, reg)


def _timed(method: str, reg: Registry) -> Callable[[F], F]:
    calls = reg.counter("method_calls_total", "Calls of instrumented methods", ("method",)).labels(method)
    errors = reg.counter("method_errors_total", "Calls of instrumented methods that failed", ("method",)).labels(method)
    duration = reg.histogram("method_duration_seconds", "Duration of instrumented methods", ("method",)).labels(method)

    def decorate(f: F) -> F:
        if not callable(f):
            raise InvalidArgumentError(f"@metric decorates functions, got {describe(f)}")
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                calls.inc()
                start = time.perf_counter()
                try:
                    return await f(*args, **kwargs)
                except BaseException:
                    errors.inc()
                    raise
                finally:
                    duration.observe(time.perf_counter() - start)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.inc()
            start = time.perf_counter()
            try:
                return f(*args, **kwargs)
            except BaseException:
                errors.inc()
                raise
            finally:
                duration.observe(time.perf_counter() - start)

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
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                record(args)
                return await f(*args, **kwargs)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            record(args)
            return f(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = ["REGISTRY", "Counter", "Gauge", "Histogram", "MetricsServer", "Registry", "metric"]
