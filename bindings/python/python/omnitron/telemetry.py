"""Tracing: the trace context code runs in, ``@trace`` for spans of your own, and the bridge to the
official OpenTelemetry API. Sampling, recording and export are the engine's (OTLP/HTTP, configured
by the standard ``OTEL_*`` variables or ``omnitron.yaml``'s ``tracing:``).

The current context is, in order: the current span of ``opentelemetry-api`` when that package is
installed and a span is active (so a span started with the official SDK is the parent of the
engine's span for a call made inside it), else the context the engine runs this code in (a
handler's call, a ``@trace`` function). Handlers also run with their call's context current in
OpenTelemetry, so OpenTelemetry-instrumented code inside them joins the same trace::

    from omnitron import trace

    class Orders:
        @trace(operation="create-order")
        async def create(self, order: dict) -> dict:
            return await self.payment.charge(order["total"])  # a child span, in any language
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from typing import Any, Callable, Iterator, Optional, TypeVar, Union, overload

from . import _native
from ._options import check_keys
from .errors import InvalidArgumentError, OmnitronError

__all__ = [
    "TraceHeaders",
    "current_trace",
    "flush_traces",
    "in_trace",
    "span",
    "trace",
    "tracing_enabled",
    "tracing_from_env",
]

#: A W3C trace context: ``(traceparent, tracestate)``.
TraceHeaders = tuple[str, Optional[str]]

_TRACE: contextvars.ContextVar[Optional[TraceHeaders]] = contextvars.ContextVar("omnitron_trace", default=None)
# Set once anything ran in a trace here: until then a call does not look for one of ours.
_seen = False
_KINDS = ("internal", "server", "client", "producer", "consumer")

# The optional OpenTelemetry API: looked up once, on first use.
_otel: Any = None
_otel_looked = False


def _api() -> Any:
    global _otel, _otel_looked
    if not _otel_looked:
        _otel_looked = True
        try:
            from opentelemetry import context as otel_context
            from opentelemetry import trace as otel_trace

            _otel = (otel_trace, otel_context)
        except ImportError:
            _otel = None
    return _otel


def current_trace() -> Optional[TraceHeaders]:
    """The trace context a call made now carries, or None outside any trace."""
    api = _api()
    if api is not None:
        ctx = api[1].get_current()
        # An empty OpenTelemetry context has no span: most calls stop here.
        sc = api[0].get_current_span(ctx).get_span_context() if ctx else None
        if sc is not None and sc.is_valid:
            state = sc.trace_state.to_header() if sc.trace_state else ""
            return (f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}", state or None)
    return _TRACE.get() if _seen else None


def _traceparent() -> Optional[str]:
    """The current trace as a traceparent: what a run or a job started now carries."""
    h = current_trace()
    return h[0] if h else None


def _otel_context(api: Any, h: TraceHeaders) -> Any:
    parts = h[0].split("-")
    if len(parts) < 4:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    otel_trace = api[0]
    state = otel_trace.TraceState.from_header([h[1]]) if h[1] else None
    sc = otel_trace.SpanContext(trace_id, span_id, is_remote=True, trace_flags=otel_trace.TraceFlags(flags & 0xFF), trace_state=state)
    return otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(sc))


@contextlib.contextmanager
def in_trace(h: TraceHeaders) -> Iterator[None]:
    """Makes ``h`` the current trace context (and OpenTelemetry's current span context) inside the
    ``with`` block; tasks started inside keep it."""
    global _seen
    _seen = True
    token = _TRACE.set(h)
    api = _api()
    otel_token = None
    if api is not None:
        ctx = _otel_context(api, h)
        if ctx is not None:
            otel_token = api[1].attach(ctx)
    try:
        yield
    finally:
        if otel_token is not None:
            api[1].detach(otel_token)
        _TRACE.reset(token)


@contextlib.contextmanager
def span(name: str, *, kind: str = "internal", attributes: Optional[dict[str, Any]] = None) -> Iterator[TraceHeaders]:
    """A span of its own around the ``with`` block, a child of the current context: calls made inside
    carry it. An exception marks it failed (with the error's ``code``) and goes on. Gives the
    span's context."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"a span needs a name, got {name!r}")
    if kind not in _KINDS:
        raise InvalidArgumentError(f"'{kind}' is not a span kind: {', '.join(_KINDS)}")
    _check_attributes(attributes, "span()")
    parent = current_trace()
    sid, traceparent, tracestate = _native.trace_span_start(name, kind, *(parent or (None, None)))
    if sid and attributes:
        for k, v in attributes.items():
            _native.trace_span_attribute(sid, k, v)
    h: TraceHeaders = (traceparent, tracestate)
    try:
        with in_trace(h):
            yield h
    except BaseException as e:
        if sid:
            code = e.code if isinstance(e, OmnitronError) else type(e).__name__
            _native.trace_span_end(sid, code, str(e) or type(e).__name__)
        raise
    if sid:
        _native.trace_span_end(sid)


def _check_attributes(attributes: Any, what: str) -> None:
    """Refused before a span starts: a bad attribute found later would leave it open."""
    if attributes is None:
        return
    if not isinstance(attributes, dict):
        raise InvalidArgumentError(f"{what} takes attributes as a dict, got {type(attributes).__name__}")
    for k, v in attributes.items():
        if not isinstance(k, str) or not isinstance(v, (str, int, float, bool)):
            raise InvalidArgumentError(f"{what}: the attribute {k!r} is a str, int, float or bool, got {type(v).__name__}")


F = TypeVar("F", bound=Callable[..., Any])
_TRACE_KEYS = ("operation", "kind", "attributes")


@overload
def trace(fn: F) -> F: ...
@overload
def trace(
    fn: None = None, *, operation: Optional[str] = None, kind: str = "internal", attributes: Optional[dict[str, Any]] = None
) -> Callable[[F], F]: ...
def trace(
    fn: Optional[F] = None,
    *,
    operation: Optional[str] = None,
    kind: str = "internal",
    attributes: Optional[dict[str, Any]] = None,
    **unknown: Any,
) -> Union[F, Callable[[F], F]]:
    """``@trace`` / ``@trace(operation="create-order")``: every call of the function (``def`` or
    ``async def``) is a span named after the operation (default: its qualified name), a child of
    the current context; the calls it makes are its children, in any process and language."""
    if unknown:
        check_keys(unknown, _TRACE_KEYS, "@trace")
    if operation is not None and (not isinstance(operation, str) or not operation):
        raise InvalidArgumentError(f"@trace(operation=...) takes a non-empty str, got {operation!r}")
    if kind not in _KINDS:
        raise InvalidArgumentError(f"@trace(kind=...) is one of {', '.join(_KINDS)}, got {kind!r}")
    _check_attributes(attributes, "@trace")

    def decorate(f: F) -> F:
        if not callable(f):
            raise InvalidArgumentError(f"@trace goes on a function, not on {f!r}")
        name = operation or f.__qualname__
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                with span(name, kind=kind, attributes=attributes):
                    return await f(*args, **kwargs)

            return traced_async  # type: ignore[return-value]

        @functools.wraps(f)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with span(name, kind=kind, attributes=attributes):
                return f(*args, **kwargs)

        return traced  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def tracing_from_env(service_name: str) -> bool:
    """Turns tracing on from the standard ``OTEL_*`` variables (what every peer and
    ``Omnitron.create`` already do): True if tracing is on. A bad value raises with the variable
    named (P007)."""
    return bool(_native.tracing_install_from_env(service_name))


def tracing_enabled() -> bool:
    """Whether this process records and exports spans."""
    return bool(_native.tracing_enabled())


def flush_traces(timeout: float = 2.0) -> bool:
    """Sends every span ended so far to the collector, waiting at most ``timeout`` seconds (the GIL
    released): True if all went out."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise InvalidArgumentError(f"flush_traces() takes seconds, got {timeout!r}")
    return bool(_native.tracing_flush(float(timeout)))


def traced_dispatch(dispatch: Callable[[str, list[Any], Any], Any]) -> Callable[[str, list[Any], Any], Any]:
    """A handler dispatcher that runs each call in its trace context (when it has one)."""

    def d(method: str, args: list[Any], call: Any) -> Any:
        h = call.trace
        if h is None:
            return dispatch(method, args, call)
        with in_trace(h):
            return dispatch(method, args, call)

    return d
