"""The application's structured logger for Python.

Python's ``logging`` stays the API: :func:`install` adds a handler that writes every record
through the engine's logger, so a Python process writes the same JSON lines (pino's shape) as the
application's processes in other languages, with the process's name, the call being served and
the current trace's ids, and one filter (``OMNITRON_LOG``, ``omnitron.yaml``'s ``logging:``,
``omnitron log-level``) decides what each module (a logger's name) writes::

    import logging
    from omnitron import log

    log.install()                        # once, at start (Omnitron.create does it if logging is unset)
    logger = logging.getLogger("orders.payment")
    logger.info("charged", extra={"order_id": 42})
    log.set_level("orders", "debug")     # this module and those under it, at once
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import threading
import traceback
from typing import Any, Callable, Optional

from . import _native
from .telemetry import current_trace

__all__ = [
    "OmnitronHandler",
    "filter",
    "install",
    "set_filter",
    "set_level",
]

# The call a handler is serving: (service, method), set by the RPC layer around each call.
_CALL: contextvars.ContextVar[Optional[tuple[str, str]]] = contextvars.ContextVar("omnitron_call", default=None)

# What a LogRecord has of its own; anything else on it came from `extra=` and is a field.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

_init_error = _native.log_init("")
if _init_error is not None:
    import warnings

    warnings.warn(_init_error, RuntimeWarning, stacklevel=2)


def _engine_level(levelno: int) -> int:
    """Python's level number as the engine's: DEBUG is debug, anything below is trace."""
    if levelno < logging.DEBUG:
        return 10
    if levelno < logging.INFO:
        return 20
    if levelno < logging.WARNING:
        return 30
    if levelno < logging.ERROR:
        return 40
    if levelno < logging.CRITICAL:
        return 50
    return 60


def _python_level(engine: Optional[int]) -> int:
    """The Python level that lets the engine's `engine` level (and above) through."""
    return {None: logging.CRITICAL + 1, 10: 1, 20: logging.DEBUG, 30: logging.INFO, 40: logging.WARNING, 50: logging.ERROR}.get(
        engine, logging.CRITICAL
    )


def _error(exc: BaseException, tb_text: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc), "stack": tb_text}
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        out["code"] = code
    return out


def _finite(v: Any) -> Any:
    """`v` with NaN and the infinities as strings (JSON has no such numbers)."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def _json(fields: dict[str, Any]) -> str:
    try:
        return json.dumps(fields, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(fields), default=str, allow_nan=False)


class OmnitronHandler(logging.Handler):
    """Writes ``logging`` records through the engine's logger (module = the logger's name)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = _engine_level(record.levelno)
            module = "" if record.name == "root" else record.name
            if not _native.log_enabled(level, module):
                return
            msg = record.getMessage()
            fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
            if record.exc_info and record.exc_info[1] is not None:
                fields["err"] = _error(record.exc_info[1], "".join(traceback.format_exception(*record.exc_info)))
            elif record.stack_info:
                fields["stack"] = record.stack_info
            call = _CALL.get()
            trace = current_trace()
            _native.log_write(
                level,
                module,
                msg,
                _json(fields) if fields else None,
                call[0] if call else None,
                call[1] if call else None,
                trace[0] if trace else None,
            )
        except Exception:
            self.handleError(record)


def named_dispatch(service: str, dispatch: Callable[[str, list[Any], Any], Any]) -> Callable[[str, list[Any], Any], Any]:
    """A handler dispatcher whose calls' records name their service and method."""

    def d(method: str, args: list[Any], call: Any) -> Any:
        token = _CALL.set((service, method))
        try:
            return dispatch(method, args, call)
        finally:
            _CALL.reset(token)

    return d


def named_stream_dispatch(service: str, dispatch: Callable[[str, list[Any]], Any]) -> Callable[[str, list[Any]], Any]:
    """A stream dispatcher whose generators' records name their service and method."""

    def d(method: str, args: list[Any]) -> Any:
        token = _CALL.set((service, method))
        try:
            pull, stop = dispatch(method, args)
        finally:
            _CALL.reset(token)

        def named_pull(call: Any) -> None:
            # Each step is a task or a thread job made here: it copies this context.
            token = _CALL.set((service, method))
            try:
                pull(call)
            finally:
                _CALL.reset(token)

        return named_pull, stop

    return d


_lock = threading.Lock()
_installed: dict[int, OmnitronHandler] = {}
_watching = False


def _sync(logger: logging.Logger) -> None:
    # Python filters by logger level before any handler runs: let through what the engine's filter
    # might write, and let the handler decide per module.
    logger.setLevel(_python_level(_native.log_most_verbose()))


def _watch() -> None:
    """Follows filter changes made from outside (`omnitron log-level`) with the logger's level."""
    global _watching
    if _watching or not os.environ.get("OMNITRON_LOG_CONTROL"):
        return
    _watching = True

    def run() -> None:
        seen = _native.log_generation()
        while True:
            threading.Event().wait(0.25)
            now = _native.log_generation()
            if now != seen:
                seen = now
                _resync()

    threading.Thread(target=run, name="omnitron-log-level", daemon=True).start()


def install(logger: Optional[logging.Logger] = None, *, level: Optional[str] = None) -> OmnitronHandler:
    """Writes ``logger``'s records (the root logger's: every logger's) through the engine's logger.

    Idempotent. ``level`` sets the default level of the application's filter (``"debug"``).
    """
    if logger is not None and not isinstance(logger, logging.Logger):
        raise TypeError(f"install() takes a logging.Logger, got {type(logger).__name__}")
    target = logger if logger is not None else logging.getLogger()
    with _lock:
        if level is not None:
            set_level("", level)
        h = _installed.get(id(target))
        if h is None:
            h = OmnitronHandler()
            target.addHandler(h)
            _installed[id(target)] = h
        _sync(target)
        _watch()
        return h


def _resync() -> None:
    # A snapshot: other threads may be making loggers meanwhile.
    loggers = [logging.getLogger()] + [v for v in list(logging.Logger.manager.loggerDict.values()) if isinstance(v, logging.Logger)]
    for h in list(_installed.values()):
        for lg in loggers:
            try:
                if h in lg.handlers:
                    _sync(lg)
            except Exception:  # noqa: BLE001 - one logger must not stop the others following the filter
                continue


def set_filter(spec: str) -> None:
    """Replaces the process's filter: ``"info,orders=debug"`` (ValueError naming a bad item; nothing changes then)."""
    if not isinstance(spec, str):
        raise TypeError(f"set_filter() takes a filter string, got {type(spec).__name__}")
    _native.log_set_filter(spec)
    _resync()


def set_level(module: str, level: str) -> None:
    """Sets one module's level (``""``: the default), keeping the rest of the filter."""
    if not isinstance(module, str) or not isinstance(level, str):
        raise TypeError("set_level() takes a module name and a level name")
    _native.log_set_level(module, level)
    _resync()


def filter() -> str:  # noqa: A001 - the filter, as set_filter() reads it
    """The filter in force, as :func:`set_filter` reads it."""
    return str(_native.log_filter())
