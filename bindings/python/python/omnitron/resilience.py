"""Resilience: the engine's circuit breaker, retry, rate limiter, bulkhead and timeout, as classes and
as decorators for ``def`` and ``async def`` functions and methods. Durations are in seconds.

Decorators stack in the order written: the topmost is the outermost wrapper, so ::

    @retry(attempts=3, delay=0.01)
    @circuit_breaker(threshold=5)
    async def charge(amount: int) -> dict:
        return {"charged": amount}

    assert await charge(10) == {"charged": 10}

retries calls that go through the breaker (each attempt counts against it). The spec's
``@RateLimit({ points: 10, duration: 60 })`` and ``@CircuitBreaker({ threshold: 5, timeout: 60000 })``
are ``@rate_limit(points=10, duration=60)`` and ``@circuit_breaker(threshold=5, timeout=60.0)``.

On ``def`` functions, waiting happens in the calling thread (``time.sleep``, a blocking wait for a
bulkhead slot), and ``@timeout`` runs the function in a worker thread and stops waiting for it after
the timeout (Python cannot interrupt a running function; its result is discarded)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
import time
from typing import Any, Awaitable, Callable, Optional, TypeVar, cast

from . import _native
from ._options import checked_keywords
from .di.tokens import describe
from .errors import InvalidArgumentError, OmnitronError
from .metrics import Registry

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_STATES = ("closed", "open", "half-open")
_SUCCESS, _FAILURE, _IGNORED, _TIMEOUT = 0, 1, 2, 3


def _check_callable(v: Any, what: str) -> None:
    if v is not None and not callable(v):
        raise InvalidArgumentError(f"{what} must be callable, got {describe(v)}")


def _name_of(f: Callable[..., Any]) -> str:
    return getattr(f, "__qualname__", getattr(f, "__name__", "call"))


class CircuitBreaker:
    """A circuit breaker. ``call(f, *args)``, ``await call_async(f, *args)``, or
    ``@circuit_breaker(...)``."""

    @checked_keywords("CircuitBreaker()")
    def __init__(
        self,
        name: str = "breaker",
        *,
        threshold: Optional[int] = None,
        failure_rate: Optional[float] = None,
        window: Optional[float] = None,
        min_calls: Optional[int] = None,
        timeout: Optional[float] = None,
        half_open_max_calls: Optional[int] = None,
        success_threshold: Optional[int] = None,
        call_timeout: Optional[float] = None,
        is_failure: Optional[Callable[[BaseException], bool]] = None,
        fallback: Optional[Callable[..., Any]] = None,
        registry: Optional[Registry] = None,
    ) -> None:
        if not isinstance(name, str):
            raise InvalidArgumentError(f"name must be a string, got {describe(name)}")
        _check_callable(is_failure, "is_failure")
        _check_callable(fallback, "fallback")
        self.name = name
        # The values as given: core checks them (and says what is wrong in Python's words).
        given = {
            "threshold": threshold,
            "failure_rate": failure_rate,
            "window": window,
            "min_calls": min_calls,
            "timeout": timeout,
            "half_open_max_calls": half_open_max_calls,
            "success_threshold": success_threshold,
            "call_timeout": call_timeout,
        }
        self._n = _native.NativeBreaker(
            name,
            {k: v for k, v in given.items() if v is not None},
            registry._native if registry is not None else None,
        )
        self._call_timeout = call_timeout
        self._is_failure = is_failure
        self._fallback = fallback
        self._listeners: list[Callable[[str, str], None]] = []
        self._last = 0

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        return _STATES[self._n.state()]

    def on_state_change(self, listener: Callable[[str, str], None]) -> None:
        """Calls ``listener(old_state, new_state)`` after every change."""
        _check_callable(listener, "listener")
        self._listeners.append(listener)

    def _changed(self, state: int) -> None:
        if state != self._last:
            old, self._last = self._last, state
            for listener in self._listeners:
                listener(_STATES[old], _STATES[state])

    def _counts(self, e: BaseException) -> bool:
        if self._is_failure is None:
            return True
        try:
            return bool(self._is_failure(e))
        except Exception:
            return True

    def _refused(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        err = self._n.open_error()
        self._changed(self._n.state())
        if self._fallback is not None:
            return self._fallback(*args, err, **kwargs)
        raise err

    def _failed(self, permit: int, e: BaseException, outcome: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        counts = outcome == _TIMEOUT or self._counts(e)
        self._changed(self._n.record(permit, outcome if counts else _IGNORED))
        if counts and self._fallback is not None:
            return self._fallback(*args, e, **kwargs)
        raise e

    def call(self, f: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Calls ``f`` through the breaker (synchronously)."""
        permit = self._n.acquire()
        if permit < 0:
            return cast(T, self._refused(args, kwargs))
        if self._last != 0 and self._n.state() != self._last:
            self._changed(self._n.state())
        try:
            if self._call_timeout is None:
                r = f(*args, **kwargs)
            else:
                r = _run_with_timeout(f, args, kwargs, float(self._call_timeout), self.name)
        except _TimedOut as t:
            return cast(T, self._failed(permit, t.error, _TIMEOUT, args, kwargs))
        except Exception as e:
            return cast(T, self._failed(permit, e, _FAILURE, args, kwargs))
        except BaseException:
            self._n.record(permit, _IGNORED)
            raise
        self._changed(self._n.record(permit, _SUCCESS))
        return r

    async def call_async(self, f: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Awaits ``f(...)`` through the breaker."""
        permit = self._n.acquire()
        if permit < 0:
            return cast(T, self._refused(args, kwargs))
        try:
            if self._call_timeout is None:
                r = await f(*args, **kwargs)
            else:
                try:
                    r = await asyncio.wait_for(f(*args, **kwargs), float(self._call_timeout))
                except asyncio.TimeoutError:
                    raise _TimedOut(_native.timeout_exception(float(self._call_timeout), self.name)) from None
        except _TimedOut as t:
            return cast(T, self._failed(permit, t.error, _TIMEOUT, args, kwargs))
        except Exception as e:
            return cast(T, self._failed(permit, e, _FAILURE, args, kwargs))
        except BaseException:
            self._n.record(permit, _IGNORED)
            raise
        self._changed(self._n.record(permit, _SUCCESS))
        return r

    def __call__(self, f: F) -> F:
        """Use an instance as a decorator."""
        if self._call_timeout is not None:
            return _decorate(f, self.call, self.call_async)

        # `call` / `call_async` inlined, with the native methods bound once: this is the hot path.
        acquire, record = self._n.acquire, self._n.record

        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                permit = acquire()
                if permit < 0:
                    return self._refused(args, kwargs)
                if self._last:
                    self._changed(self._n.state())
                try:
                    r = await f(*args, **kwargs)
                except Exception as e:
                    return self._failed(permit, e, _FAILURE, args, kwargs)
                except BaseException:
                    # Cancelled (or exiting): not the service's fault, but the permit goes back.
                    record(permit, _IGNORED)
                    raise
                state = record(permit, _SUCCESS)
                if state != self._last:
                    self._changed(state)
                return r

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            permit = acquire()
            if permit < 0:
                return self._refused(args, kwargs)
            if self._last:
                self._changed(self._n.state())
            try:
                r = f(*args, **kwargs)
            except Exception as e:
                return self._failed(permit, e, _FAILURE, args, kwargs)
            except BaseException:
                record(permit, _IGNORED)
                raise
            state = record(permit, _SUCCESS)
            if state != self._last:
                self._changed(state)
            return r

        return wrapper  # type: ignore[return-value]


def _decorate(f: F, call: Callable[..., Any], call_async: Callable[..., Awaitable[Any]]) -> F:
    """``f`` wrapped so each call goes through ``call`` (``def``) or ``call_async`` (``async def``)."""
    if inspect.iscoroutinefunction(f):

        @functools.wraps(f)
        async def awrapper(*args: Any, **kwargs: Any) -> Any:
            return await call_async(f, *args, **kwargs)

        return awrapper  # type: ignore[return-value]

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return call(f, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class _TimedOut(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _run_with_timeout(f: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], seconds: float, name: str) -> T:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="omnitron-timeout")
    fut = _pool.submit(f, *args, **kwargs)
    try:
        return fut.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise _TimedOut(_native.timeout_exception(seconds, name)) from None


@checked_keywords("@circuit_breaker()")
def circuit_breaker(
    name: Any = None,
    *,
    threshold: Optional[int] = None,
    failure_rate: Optional[float] = None,
    window: Optional[float] = None,
    min_calls: Optional[int] = None,
    timeout: Optional[float] = None,
    half_open_max_calls: Optional[int] = None,
    success_threshold: Optional[int] = None,
    call_timeout: Optional[float] = None,
    is_failure: Optional[Callable[[BaseException], bool]] = None,
    fallback: Optional[Callable[..., Any]] = None,
    registry: Optional[Registry] = None,
) -> Callable[[F], F]:
    """``@circuit_breaker(threshold=5, timeout=60.0, fallback=...)`` on a function or method (named
    after it, or ``@circuit_breaker("payments", ...)``; ``@circuit_breaker`` alone takes the
    defaults). The breaker is shared by every call (and every instance, for methods)."""
    if callable(name):  # bare @circuit_breaker
        return circuit_breaker()(name)  # type: ignore[no-any-return]

    def decorate(f: F) -> F:
        if not callable(f):
            raise InvalidArgumentError(f"@circuit_breaker decorates functions, got {describe(f)}")
        breaker = CircuitBreaker(
            name if name is not None else _name_of(f),
            threshold=threshold,
            failure_rate=failure_rate,
            window=window,
            min_calls=min_calls,
            timeout=timeout,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            call_timeout=call_timeout,
            is_failure=is_failure,
            fallback=fallback,
            registry=registry,
        )
        wrapped = breaker(f)
        wrapped.circuit_breaker = breaker  # type: ignore[attr-defined]
        return wrapped

    # Build once now so bad options fail at decoration time.
    CircuitBreaker(name or "check", threshold=threshold, failure_rate=failure_rate, window=window, min_calls=min_calls,
                   timeout=timeout, half_open_max_calls=half_open_max_calls, success_threshold=success_threshold,
                   call_timeout=call_timeout, is_failure=is_failure, fallback=fallback, registry=registry or Registry())
    return decorate


class RetryPolicy:
    """A retry policy; delays come from the engine's one backoff implementation."""

    @checked_keywords("RetryPolicy()")
    def __init__(
        self,
        attempts: int = 3,
        *,
        backoff: str = "exponential",
        delay: float = 0.1,
        step: Optional[float] = None,
        factor: float = 2.0,
        max_delay: Optional[float] = None,
        jitter: str = "none",
        retry_if: Optional[Callable[[BaseException], bool]] = None,
    ) -> None:
        _check_callable(retry_if, "retry_if")
        # The values as given: core checks them (and says what is wrong in Python's words).
        given = {"attempts": attempts, "backoff": backoff, "delay": delay, "step": step, "factor": factor, "max_delay": max_delay, "jitter": jitter}
        self._n = _native.NativeRetry({k: v for k, v in given.items() if v is not None})
        self._retry_if = retry_if

    @property
    def max_attempts(self) -> int:
        return self._n.max_attempts

    def delay(self, attempt: int) -> float:
        """Seconds to wait after attempt ``attempt`` failed."""
        return self._n.delay(attempt)

    def _exhausted(self, attempts: int, e: BaseException) -> OmnitronError:
        err: OmnitronError = self._n.exhausted_error(attempts, str(e))  # type: ignore[assignment]
        err.attempts = attempts  # type: ignore[attr-defined]
        err.__cause__ = e
        return err

    def call(self, f: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Calls ``f`` until it succeeds; when every attempt failed raises ``RetryExhaustedError``
        (R004) with ``attempts`` and the last error as ``__cause__``."""
        attempt = 1
        while True:
            try:
                return f(*args, **kwargs)
            except Exception as e:
                if self._retry_if is not None and not self._retry_if(e):
                    raise
                if attempt >= self._n.max_attempts:
                    raise self._exhausted(attempt, e) from e
                time.sleep(self._n.delay(attempt))
                attempt += 1

    async def call_async(self, f: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        attempt = 1
        while True:
            try:
                return await f(*args, **kwargs)
            except Exception as e:
                if self._retry_if is not None and not self._retry_if(e):
                    raise
                if attempt >= self._n.max_attempts:
                    raise self._exhausted(attempt, e) from e
                await asyncio.sleep(self._n.delay(attempt))
                attempt += 1

    def __call__(self, f: F) -> F:
        """Use an instance as a decorator."""
        return _decorate(f, self.call, self.call_async)


@checked_keywords("@retry()")
def retry(
    attempts: int = 3,
    *,
    backoff: str = "exponential",
    delay: float = 0.1,
    step: Optional[float] = None,
    factor: float = 2.0,
    max_delay: Optional[float] = None,
    jitter: str = "none",
    retry_if: Optional[Callable[[BaseException], bool]] = None,
) -> Callable[[F], F]:
    """``@retry(attempts=3, backoff="exponential", delay=0.1, jitter="full")``."""
    return RetryPolicy(attempts, backoff=backoff, delay=delay, step=step, factor=factor, max_delay=max_delay, jitter=jitter, retry_if=retry_if)


class RateLimiter:
    """``points`` calls per ``duration`` seconds."""

    @checked_keywords("RateLimiter()")
    def __init__(self, points: int, duration: float, *, kind: str = "token-bucket", name: str = "rate-limit") -> None:
        self.name = name
        # The values as given: core checks them (and says what is wrong in Python's words).
        self._n = _native.NativeRateLimiter(name, {"points": points, "duration": duration, "kind": kind})

    def try_acquire(self, n: int = 1) -> bool:
        return self._n.try_acquire(n) == 0.0

    def consume(self, n: int = 1) -> None:
        """Takes ``n`` tokens now or raises ``RateLimitedError`` (R002)."""
        wait = self._n.try_acquire(n)
        if wait != 0.0:
            raise self._n.limited_error(wait)

    def acquire(self, n: int = 1) -> None:
        """Blocks until ``n`` tokens are there and takes them."""
        while True:
            wait = self._n.try_acquire(n)
            if wait == 0.0:
                return
            time.sleep(wait)

    async def acquire_async(self, n: int = 1) -> None:
        while True:
            wait = self._n.try_acquire(n)
            if wait == 0.0:
                return
            await asyncio.sleep(wait)

    @property
    def available(self) -> float:
        return self._n.available()


@checked_keywords("@rate_limit()")
def rate_limit(
    points: int, duration: float, *, kind: str = "token-bucket", wait: bool = False, name: Optional[str] = None
) -> Callable[[F], F]:
    """``@rate_limit(points=10, duration=60)``: over the limit, raises ``RateLimitedError`` (or waits
    for a token with ``wait=True``). Named after the function unless ``name`` is given."""
    limiter = RateLimiter(points, duration, kind=kind, name=name or "rate-limit")

    def decorate(f: F) -> F:
        if name is None:
            limiter.name = _name_of(f)
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                if wait:
                    await limiter.acquire_async()
                else:
                    limiter.consume()
                return await f(*args, **kwargs)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if wait:
                limiter.acquire()
            else:
                limiter.consume()
            return f(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


@checked_keywords("@timeout()")
def timeout(seconds: float) -> Callable[[F], F]:
    """``@timeout(2.5)``: the call fails with ``TimeoutError`` (E006) after ``seconds``."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise InvalidArgumentError(f"timeout takes seconds, got {describe(seconds)}")
    _native.check_timeout(float(seconds))  # the rule is core's

    def decorate(f: F) -> F:
        name = _name_of(f)
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await asyncio.wait_for(f(*args, **kwargs), float(seconds))
                except asyncio.TimeoutError:
                    raise _native.timeout_exception(float(seconds), name) from None

            return awrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return _run_with_timeout(f, args, kwargs, float(seconds), name)
            except _TimedOut as t:
                raise t.error from None

        return wrapper  # type: ignore[return-value]

    return decorate


class Bulkhead:
    """At most ``max_concurrent`` calls at once and ``max_queue`` waiting; the rest are refused with
    ``BulkheadFullError`` (R003)."""

    @checked_keywords("Bulkhead()")
    def __init__(self, max_concurrent: int, max_queue: int = 0, *, name: str = "bulkhead") -> None:
        self.name = name
        # The values as given: core checks them (and says what is wrong in Python's words).
        self._n = _native.NativeBulkhead(name, {"max_concurrent": max_concurrent, "max_queue": max_queue})
        self._lock = threading.Lock()
        self._waiters: dict[int, Callable[[], None]] = {}

    @property
    def active(self) -> int:
        return self._n.active

    @property
    def queued(self) -> int:
        return self._n.queued

    def _leave(self) -> None:
        with self._lock:
            nxt = self._n.leave()
            wake = self._waiters.pop(nxt, None) if nxt > 0 else None
        if wake is not None:
            wake()

    def call(self, f: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            ticket = self._n.try_enter()
            event: Optional[threading.Event] = None
            if ticket > 0:
                event = threading.Event()
                self._waiters[ticket] = event.set
        if ticket < 0:
            raise self._n.full_error()
        if event is not None:
            event.wait()
        try:
            return f(*args, **kwargs)
        finally:
            self._leave()

    async def call_async(self, f: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        with self._lock:
            ticket = self._n.try_enter()
            fut: Optional[asyncio.Future[None]] = None
            if ticket > 0:
                fut = loop.create_future()
                waiter = fut
                def wake() -> None:
                    loop.call_soon_threadsafe(waiter.set_result, None)

                self._waiters[ticket] = wake
        if ticket < 0:
            raise self._n.full_error()
        if fut is not None:
            await fut
        try:
            return await f(*args, **kwargs)
        finally:
            self._leave()

    def __call__(self, f: F) -> F:
        """Use an instance as a decorator."""
        return _decorate(f, self.call, self.call_async)


@checked_keywords("@bulkhead()")
def bulkhead(max_concurrent: int, max_queue: int = 0, *, name: str = "bulkhead") -> Callable[[F], F]:
    """``@bulkhead(max_concurrent=4, max_queue=16)``."""
    return Bulkhead(max_concurrent, max_queue, name=name)


__all__ = [
    "Bulkhead",
    "CircuitBreaker",
    "RateLimiter",
    "RetryPolicy",
    "bulkhead",
    "circuit_breaker",
    "rate_limit",
    "retry",
    "timeout",
]
