"""The HTTP app: controllers' routes handed to core, and the requests core sends back, run on one
asyncio loop.

Core queues each request of a declared route in the app's inbox; the loop takes every queued
request in one pass (``_dispatch``: one ``json.loads`` for the batch), binds each handler's
arguments, and starts it: an ``async def`` handler runs its first step right there (no task unless
it waits, ``_eager.Starter``), a ``def`` handler runs in a thread pool. The answers of one pass go
back in one call (``answer_many``); those of handlers that waited go back at the end of the loop
turn they finished in."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import json
import logging
import threading
from typing import Any, Callable, Optional, Sequence

from .. import _native
from .._background import spawn
from .._eager import Starter
from ..errors import InvalidArgumentError, OmnitronError
from ..telemetry import current_trace, in_trace
from ._decorators import CHECK, CONTROLLER, DECLARED, INDICATOR, ROUTES, HealthCheckResult, declared_of_class, merge
from ._encode import answer_of, dumps
from ._params import Plan, core_path, plan
from ._schema import Invalid
from ._types import HTTPException

log = logging.getLogger("omnitron.http")

#: Threads running ``def`` handlers (and ``def`` health checks), shared by every app: as many as
#: FastAPI's default (anyio's 40).
MAX_THREADS = 40
_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _threads() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="omnitron-http")
        return _pool


class _Route:
    __slots__ = ("fn", "plan", "is_async", "what")

    def __init__(self, fn: Callable[..., Any], plan: Plan, what: str) -> None:
        self.fn = fn
        self.plan = plan
        self.is_async = inspect.iscoroutinefunction(fn)
        self.what = what


def _join(prefix: str, path: str) -> str:
    parts = [p.strip("/") for p in (prefix, path) if p and p.strip("/")]
    return "/" + "/".join(parts)


def _instance(x: Any, what: str) -> Any:
    if isinstance(x, type):
        try:
            return x()
        except TypeError as e:
            raise InvalidArgumentError(
                f"{what} {x.__name__} takes constructor arguments: give an instance, or list it in a module's controllers"
            ) from e
    return x


class HttpApp:
    """Controllers served by core's HTTP server: ``HttpApp([UsersController()], cors={...})``.

    ``controllers`` are ``@controller`` instances (a class is instantiated without arguments);
    ``indicators`` are ``@health_indicator`` instances (or classes); ``options`` are the app's (core's
    ``AppOptions``: ``body_limit``, ``header_read_timeout``, ``shutdown_timeout``, ``cors``,
    ``jwt``, ``rate_limit``, ``openapi``, ``health``, ``health_timeout``, ``metrics``, ``tls``,
    ``security_headers``; checked by core, an unknown key is refused naming the nearest).
    ``on_audit(record)`` takes the audit records of ``@audit_log`` routes (a dict: ``action``,
    ``actor``, ``method``, ``path``, ``route``, ``params``, ``status``, ``outcome``, ``time``,
    ``request_id``, ``remote``) on the app's loop, instead of the log.

    Routes are checked at once (a clash or a bad declaration is ``InvalidRouteError``). The app
    binds to the running event loop at its first :meth:`listen` or :meth:`inject`: ``async def``
    handlers run on that loop, ``def`` handlers in a thread pool."""

    def __init__(
        self,
        controllers: Sequence[Any] = (),
        *,
        indicators: Sequence[Any] = (),
        on_audit: Optional[Callable[[dict[str, Any]], Any]] = None,
        **options: Any,
    ) -> None:
        if not isinstance(controllers, (list, tuple)):
            raise InvalidArgumentError(f"HttpApp() takes a list of controllers, got {type(controllers).__name__}")
        if on_audit is not None and not callable(on_audit):
            raise InvalidArgumentError(f"HttpApp(on_audit=) takes a function, got {type(on_audit).__name__}")
        self._native = _native.NativeHttpApp(options)
        if on_audit is not None:
            self._native.on_audit(_audit_caller(on_audit))
        self._routes: list[_Route] = []
        self._checks: list[Callable[[], Any]] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._starter: Optional[Starter] = None
        self._answers: list[Any] = []
        self._flushing = False
        self._closed = False
        for c in controllers:
            self._add_controller(_instance(c, "controller"))
        for h in indicators:
            self._add_indicator(_instance(h, "health indicator"))
        self._native.build()

    # ---- declaration --------------------------------------------------------------------------

    def _add_controller(self, obj: Any) -> None:
        cls = type(obj)
        meta = getattr(cls, CONTROLLER, None)
        if meta is None:
            raise InvalidArgumentError(f"{cls.__name__} is not a controller: decorate it with @controller('prefix')")
        prefix, class_options = meta
        on_class = declared_of_class(cls)
        for attr in dir(cls):
            raw = getattr(cls, attr, None)
            routes = getattr(raw, ROUTES, None) if raw is not None else None
            if not routes:
                continue
            fn = getattr(obj, attr)
            for n, (method, path, route_options) in enumerate(routes):
                what = f"{cls.__name__}.{attr}"
                self._add_route(fn, method, _join(prefix, path), what, n, class_options, on_class, getattr(raw, DECLARED, {}), route_options)

    def _add_route(
        self,
        fn: Callable[..., Any],
        method: str,
        path: str,
        what: str,
        n: int,
        class_options: dict[str, Any],
        on_class: dict[str, Any],
        on_method: dict[str, Any],
        route_options: dict[str, Any],
    ) -> None:
        spec: dict[str, Any] = {"operation_id": what if n == 0 else f"{what}_{n}"}
        merge(spec, class_options)
        merge(spec, on_class)
        merge(spec, on_method)
        options = dict(route_options)
        response_model = options.pop("response_model", None)
        merge(spec, options)
        upload = spec.get("upload")
        field = upload.get("field") if isinstance(upload, dict) else None
        p = plan(fn, path, what, field, bool(spec.get("paginated")))
        if isinstance(upload, dict) and field is None and p.upload_param is not None:
            spec["upload"] = {**upload, "field": p.upload_param}
        for key, schema in (("params", p.params_schema), ("query", p.query_schema), ("body", p.body_schema), ("response", p.response_schema)):
            if schema is not None and key not in spec:
                spec[key] = json.dumps(schema)
        if response_model is not None:
            from ._schema import root_schema

            spec["response"] = json.dumps(root_schema(response_model))
        for key in ("params", "query", "body", "response"):
            if isinstance(spec.get(key), dict):
                spec[key] = json.dumps(spec[key])
        spec["method"] = method
        spec["path"] = core_path(path)
        self._native.route(spec, len(self._routes), what)
        self._routes.append(_Route(fn, p, what))

    def _add_indicator(self, obj: Any) -> None:
        cls = type(obj)
        if not getattr(cls, INDICATOR, False):
            raise InvalidArgumentError(f"{cls.__name__} is not a health indicator: decorate it with @health_indicator")
        for attr in dir(cls):
            raw = getattr(cls, attr, None)
            check = getattr(raw, CHECK, None) if raw is not None else None
            if check is None:
                continue
            name, timeout = check
            self._native.health_check(name, len(self._checks), timeout)
            self._checks.append(getattr(obj, attr))

    # ---- the loop -------------------------------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return loop
        if self._closed:
            raise InvalidArgumentError("this HTTP app is closed")
        if self._loop is not None and not self._loop.is_closed():
            raise InvalidArgumentError("this HTTP app runs on another event loop: use it from the loop it was first used on")
        self._loop = loop
        self._starter = Starter(loop)
        self._native.bind(self._dispatch, _settle, self._health)
        loop.add_reader(self._native.inbox_fd(), self._native.drain)
        return loop

    def _dispatch(self, batch: bytes) -> None:
        # On the loop, from `drain`: every request queued since the last pass.
        routes = self._routes
        self._flushing = True  # answers of this pass go back together, below
        try:
            for item in json.loads(batch):
                rid, h, env = item
                route = routes[h]
                try:
                    args, kwargs = route.plan.bind(env)
                except Invalid as e:
                    self._invalid(rid, e)
                    continue
                traceparent = env.get("traceparent")
                if traceparent is None:
                    self._start(route, rid, env, args, kwargs, item)
                else:
                    # The handler, and what it starts, runs in the request's trace.
                    with in_trace((traceparent, env.get("tracestate"))):
                        self._start(route, rid, env, args, kwargs, item)
        finally:
            self._flush()

    def _start(
        self, route: _Route, rid: int, env: dict[str, Any], args: list[Any], kwargs: Optional[dict[str, Any]], item: Any
    ) -> None:
        if not route.is_async:
            if current_trace() is None:
                _threads().submit(self._run_sync, route, rid, env, args, kwargs)
            else:
                _threads().submit(contextvars.copy_context().run, self._run_sync, route, rid, env, args, kwargs)
            return
        try:
            coro = route.fn(*args, **kwargs) if kwargs else route.fn(*args)
        except BaseException as e:  # noqa: BLE001 - the request gets a problem, the server goes on
            self._fail(rid, env, route, e)
            return
        assert self._starter is not None
        self._starter.run(coro, self._finish, item)

    def _finish(self, item: Any, value: Any, error: Optional[BaseException]) -> None:
        rid, h, env = item
        if error is None:
            try:
                self._answers.append(answer_of(rid, value))
            except BaseException as e:  # noqa: BLE001
                error = e
            else:
                if not self._flushing:
                    self._flushing = True
                    assert self._loop is not None
                    self._loop.call_soon(self._flush)
                return
        self._fail(rid, env, self._routes[h], error)

    def _flush(self) -> None:
        self._flushing = False
        answers = self._answers
        if answers:
            self._answers = []
            try:
                self._native.answer_many(answers)
            except Exception:  # noqa: BLE001 - those requests got a 500; the rest were answered
                log.exception("an HTTP answer could not be sent")

    def _run_sync(self, route: _Route, rid: int, env: dict[str, Any], args: list[Any], kwargs: Optional[dict[str, Any]]) -> None:
        # In a pool thread.
        try:
            value = route.fn(*args, **kwargs) if kwargs else route.fn(*args)
            a = answer_of(rid, value)
        except BaseException as e:  # noqa: BLE001
            self._fail(rid, env, route, e)
            return
        try:
            self._native.answer(*a)
        except Exception:  # noqa: BLE001 - the request got a 500
            log.exception("the answer of %s could not be sent", route.what)

    def _invalid(self, rid: int, e: Invalid) -> None:
        detail = "; ".join(f"{where}: {message}" for where, message in e.errors)
        self._native.fail(rid, 400, detail, "H009")

    def _fail(self, rid: int, env: dict[str, Any], route: _Route, e: BaseException) -> None:
        if isinstance(e, HTTPException):
            detail = e.detail if e.detail is None or isinstance(e.detail, str) else dumps(e.detail)
            headers = [(str(k), str(v)) for k, v in e.headers.items()] if e.headers else None
            self._native.fail(rid, e.status_code, detail, None, headers)
            return
        if isinstance(e, Invalid):
            self._invalid(rid, e)
            return
        if isinstance(e, OmnitronError):
            # An engine error (a timeout, an open breaker, a missing service, H009 ...): the status
            # core gives its code (504, 503, 404, 400 ...), the message as the detail.
            self._native.fail(rid, 0, e.message, e.code)
            return
        if isinstance(e, asyncio.CancelledError):
            self._native.fail(rid, 503, "the handler was cancelled (the app is closing)", "H005")
            return
        log.error(
            "HTTP handler %s failed (request %s %s, id %s)",
            route.what, env.get("method"), env.get("path"), env.get("requestId"), exc_info=e,
        )
        self._native.fail(rid, 500, "the handler failed", "H005")

    def _health(self, hid: int, index: int) -> None:
        # On the loop: start health check `index`; its answer goes to `health_answer(hid, ...)`.
        check = self._checks[index]
        if inspect.iscoroutinefunction(check):
            assert self._loop is not None
            task = self._loop.create_task(_async_check(check))
            task.add_done_callback(lambda t: self._health_done(hid, t))
        else:
            fut = _threads().submit(check)
            fut.add_done_callback(lambda f: self._health_done(hid, f))

    def _health_done(self, hid: int, f: Any) -> None:
        try:
            up, message, details = _report(f.result())
        except BaseException as e:  # noqa: BLE001 - a failing check is down
            up, message, details = False, f"{type(e).__name__}: {e}", None
        try:
            self._native.health_answer(hid, up, message, dumps(details) if details else None)
        except Exception:  # noqa: BLE001
            log.exception("a health check's answer could not be sent")

    # ---- serving ----------------------------------------------------------------------------------

    async def listen(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Serves on ``host:port`` (0 picks a free port) and returns the port; ``/health/ready``
        is ready from then on."""
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InvalidArgumentError(f"listen() takes a port from 0 to 65535, got {port!r}")
        loop = self._bind()
        fut: asyncio.Future[int] = loop.create_future()
        self._native.listen(host, port, fut)
        return await fut

    async def inject(
        self, method: str, url: str, headers: Optional[Sequence[tuple[str, str]]] = None, body: Optional[bytes] = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answers a request in-process, without a socket, through the same pipeline:
        ``(status, headers, body)``. What :class:`omnitron.testing.AsyncTestClient` uses."""
        loop = self._bind()
        fut: asyncio.Future[tuple[int, list[tuple[str, str]], bytes]] = loop.create_future()
        self._native.inject(method, url, list(headers or ()), body, fut)
        return await fut

    async def check_health(self) -> dict[str, dict[str, Any]]:
        """Runs every health check now (each within its timeout, as ``/health`` does):
        ``{"database": {"status": "up", "message": ..., **details}, ...}``."""
        loop = self._bind()
        fut: asyncio.Future[list[tuple[str, bool, Optional[str], Optional[str]]]] = loop.create_future()
        self._native.check_health(fut)
        out: dict[str, dict[str, Any]] = {}
        for name, up, message, details in await fut:
            report: dict[str, Any] = {"status": "up" if up else "down"}
            if message is not None:
                report["message"] = message
            if details:
                report.update(json.loads(details))
            out[name] = report
        return out

    @property
    def port(self) -> Optional[int]:
        """The port it listens on, if it does."""
        return self._native.port()

    @property
    def ready(self) -> bool:
        """Whether ``/health/ready`` says ready (listening, not closing)."""
        return self._native.is_ready()

    async def close(self) -> None:
        """Stops serving: ``/health/ready`` down at once, no new connections, the requests in flight
        answered (up to the ``shutdown_timeout`` option, 30 s), then every connection closed.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        fut: asyncio.Future[None] = loop.create_future()
        self._native.close(fut)
        try:
            await fut
        finally:
            self._flush()
            loop.remove_reader(self._native.inbox_fd())
            if self._starter is not None:
                self._starter.close()

    async def __aenter__(self) -> "HttpApp":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _audit_caller(on_audit: Callable[[dict[str, Any]], Any]) -> Callable[[str], None]:
    def deliver(record: str) -> None:
        # On the app's loop.
        try:
            r = on_audit(json.loads(record))
            if inspect.isawaitable(r):
                spawn(r, "an HTTP audit handler")
        except Exception:  # noqa: BLE001 - a failing sink does not fail the request (answered already)
            log.exception("the HTTP audit handler failed")

    return deliver


def _settle(fut: "asyncio.Future[Any]", value: Any, error: Any) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)


async def _async_check(check: Callable[[], Any]) -> Any:
    return await check()


def _report(r: Any) -> tuple[bool, Optional[str], Optional[dict[str, Any]]]:
    """A check's result as ``(up, message, details)``."""
    if r is None or r is True:
        return True, None, None
    if r is False:
        return False, None, None
    if isinstance(r, HealthCheckResult):
        return r.status == "up", r.message, r.details
    if isinstance(r, dict):
        status = r.get("status", "up")
        if status not in ("up", "down"):
            raise InvalidArgumentError(f"a health check's status is 'up' or 'down', got {status!r}")
        message = r.get("message")
        details = {k: v for k, v in r.items() if k not in ("status", "message")}
        return status == "up", None if message is None else str(message), details or None
    raise InvalidArgumentError(f"a health check returns a dict, a HealthCheckResult, a bool or None, got {type(r).__name__}")


__all__ = ["HttpApp", "MAX_THREADS"]
