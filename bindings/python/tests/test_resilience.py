"""Resilience through the Python package: breaker, retry, rate limit, bulkhead, timeout, on def and
async def."""

import asyncio
import threading
import time
from typing import Any

import pytest

from conftest import run
from omnitron import (
    Bulkhead,
    CircuitBreaker,
    OmnitronError,
    RateLimiter,
    Registry,
    RetryPolicy,
    bulkhead,
    circuit_breaker,
    rate_limit,
    retry,
    timeout,
)


def code(e: Any) -> str:
    return str(e.value.code)


def boom() -> None:
    raise RuntimeError("bank down")


def test_breaker_opens_after_threshold_and_fails_fast() -> None:
    reg = Registry()
    b = CircuitBreaker("payments", threshold=3, timeout=60, registry=reg)
    changes: list[tuple[str, str]] = []
    b.on_state_change(lambda old, new: changes.append((old, new)))
    calls = []
    for _ in range(2):
        with pytest.raises(RuntimeError):
            b.call(boom)
    b.call(lambda: calls.append(1))  # resets the consecutive count
    for _ in range(3):
        with pytest.raises(RuntimeError):
            b.call(boom)
    assert b.state == "open"
    assert changes == [("closed", "open")]
    with pytest.raises(OmnitronError, match="'payments'") as e:
        b.call(lambda: calls.append(2))
    assert code(e) == "R001"
    assert type(e.value).__name__ == "CircuitOpenError" or e.value.code == "R001"
    assert calls == [1], "an open breaker does not call"
    text = reg.generate_latest()
    assert 'omnitron_circuit_breaker_state{breaker="payments"} 1' in text


def test_half_open_then_closed() -> None:
    b = CircuitBreaker("trial", threshold=1, timeout=0.03, registry=Registry())
    with pytest.raises(RuntimeError):
        b.call(boom)
    time.sleep(0.08)
    assert b.call(lambda: "back") == "back"
    assert b.state == "closed"


def test_predicate_fallback_and_call_timeout() -> None:
    b = CircuitBreaker("pred", threshold=1, is_failure=lambda e: not isinstance(e, KeyError), registry=Registry())
    with pytest.raises(KeyError):
        b.call(lambda: {}["x"])
    assert b.state == "closed"

    f = CircuitBreaker("fb", threshold=1, fallback=lambda x, e: f"fallback {x} {type(e).__name__}", registry=Registry())
    assert f.call(lambda x: boom(), 7) == "fallback 7 RuntimeError"
    assert f.call(lambda x: "never", 8).startswith("fallback 8")

    t = CircuitBreaker("slow", threshold=1, call_timeout=0.02, registry=Registry())
    with pytest.raises(OmnitronError) as e:
        t.call(time.sleep, 0.5)
    assert code(e) == "E006"
    assert t.state == "open"


def test_breaker_on_async_functions_and_as_decorator() -> None:
    @circuit_breaker(threshold=2, registry=Registry())
    async def charge(amount: int) -> str:
        if amount < 0:
            raise ValueError("negative")
        return f"charged {amount}"

    assert run(charge(5)) == "charged 5"
    for _ in range(2):
        with pytest.raises(ValueError):
            run(charge(-1))
    with pytest.raises(OmnitronError) as e:
        run(charge(5))
    assert code(e) == "R001"
    assert charge.circuit_breaker.state == "open"  # type: ignore[attr-defined]

    class Prices:
        @circuit_breaker(threshold=1, fallback=lambda self, item, e: "cached", registry=Registry())
        def price(self, item: str) -> str:
            if item == "bad":
                raise RuntimeError("no price")
            return f"price of {item}"

    p = Prices()
    assert p.price("a") == "price of a"
    assert p.price("bad") == "cached"
    assert p.price("a") == "cached"


def test_bad_breaker_options_are_refused() -> None:
    for kwargs in (
        {"threshold": 0},
        {"timeout": -1.0},
        {"failure_rate": 2.0},
        {"window": 0.0},
        {"call_timeout": 0.0},
        {"timeout": 1e300},  # more seconds than a clock can add
    ):
        with pytest.raises(OmnitronError) as e:
            CircuitBreaker("x", registry=Registry(), **kwargs)  # type: ignore[arg-type]
        assert code(e) == "R005", kwargs
    with pytest.raises(TypeError):
        CircuitBreaker("x", threshold="five")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CircuitBreaker("x", fallback=3)  # type: ignore[arg-type]
    with pytest.raises(OmnitronError):
        circuit_breaker(threshold=0)
    # The engine's messages name the option as Python spells it, durations in seconds.
    with pytest.raises(OmnitronError, match=r"circuit breaker 'p': min_calls must be a whole number of at least 1, got 0"):
        CircuitBreaker("p", min_calls=0)
    with pytest.raises(OmnitronError, match=r"failure_rate must be a number above 0 and at most 1, got 1.5"):
        CircuitBreaker("p", failure_rate=1.5)
    with pytest.raises(OmnitronError, match=r"window must be a number of seconds above 0, got 0"):
        CircuitBreaker("p", window=0)
    with pytest.raises(TypeError, match=r"threshold must be a whole number of at least 1, got True"):
        CircuitBreaker("p", threshold=True)


def test_breaker_counts_stay_exact_across_threads() -> None:
    reg = Registry()
    b = CircuitBreaker("busy", threshold=1_000_000, registry=reg)

    def work(i: int) -> None:
        for k in range(500):
            try:
                b.call(boom if (i * 500 + k) % 5 == 0 else (lambda: None))
            except RuntimeError:
                pass

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = reg.generate_latest()
    assert 'breaker="busy",outcome="success"} 3200' in text
    assert 'breaker="busy",outcome="failure"} 800' in text


def test_retry_sync_and_async() -> None:
    n = [0]

    @retry(attempts=4, backoff="fixed", delay=0.001)
    def flaky() -> int:
        n[0] += 1
        if n[0] < 3:
            raise RuntimeError("flaky")
        return n[0]

    assert flaky() == 3

    @retry(attempts=3, delay=0.001)
    async def always_fails(tag: str) -> None:
        raise RuntimeError(f"fail {tag}")

    with pytest.raises(OmnitronError, match="after 3 attempt") as e:
        run(always_fails("x"))
    assert code(e) == "R004"
    assert e.value.attempts == 3  # type: ignore[attr-defined]
    assert str(e.value.__cause__) == "fail x"

    tries = [0]

    @retry(attempts=5, delay=0.001, retry_if=lambda e: str(e) != "fatal")
    def picky() -> None:
        tries[0] += 1
        raise RuntimeError("fatal")

    with pytest.raises(RuntimeError, match="fatal"):
        picky()
    assert tries == [1]

    exp = RetryPolicy(5, backoff="exponential", delay=0.1, factor=2, max_delay=0.3)
    assert [round(exp.delay(a), 3) for a in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]
    lin = RetryPolicy(backoff="linear", delay=0.1, step=0.05)
    assert [round(lin.delay(a), 3) for a in (1, 2, 3)] == [0.1, 0.15, 0.2]
    for kwargs in ({"attempts": 0}, {"backoff": "random"}, {"jitter": "lots"}):
        with pytest.raises(OmnitronError) as e:
            RetryPolicy(**kwargs)  # type: ignore[arg-type]
        assert code(e) == "R005"


def test_rate_limits() -> None:
    l = RateLimiter(points=2, duration=60)
    assert l.try_acquire()
    l.consume()
    assert not l.try_acquire()
    with pytest.raises(OmnitronError, match="retry in") as e:
        l.consume()
    assert code(e) == "R002"

    @rate_limit(points=1, duration=60)
    def once() -> str:
        return "ok"

    assert once() == "ok"
    with pytest.raises(OmnitronError):
        once()

    @rate_limit(points=1, duration=0.02, wait=True)
    async def throttled(i: int) -> int:
        return i

    async def both() -> list[int]:
        return [await throttled(1), await throttled(2)]

    start = time.perf_counter()
    assert run(both()) == [1, 2]
    assert time.perf_counter() - start >= 0.015
    for kwargs in ({"points": 0, "duration": 1}, {"points": 1, "duration": -1}, {"points": 1, "duration": 1, "kind": "leaky"}):
        with pytest.raises(OmnitronError) as e:
            RateLimiter(**kwargs)  # type: ignore[arg-type]
        assert code(e) == "R005"
    # The engine's messages, in Python's words.
    with pytest.raises(OmnitronError, match=r"rate limiter 'api': duration must be a number of seconds above 0, got -1"):
        RateLimiter(1, -1, name="api")
    with pytest.raises(OmnitronError, match=r"max_concurrent must be a whole number of at least 1, got 0"):
        Bulkhead(0)
    with pytest.raises(OmnitronError, match=r"retry: max_delay must be a number of seconds above 0, got -1"):
        RetryPolicy(max_delay=-1)


def test_bulkhead_sync_and_async() -> None:
    b = Bulkhead(max_concurrent=2, max_queue=1)
    running = [0]
    peak = [0]

    async def task() -> str:
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.02)
        running[0] -= 1
        return "done"

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(b.call_async(task) for _ in range(4)), return_exceptions=True))

    results = run(main())
    assert results.count("done") == 3
    errors = [r for r in results if isinstance(r, OmnitronError)]
    assert len(errors) == 1 and errors[0].code == "R003"
    assert peak[0] == 2
    assert b.active == 0

    @bulkhead(max_concurrent=1, max_queue=5)
    def exclusive(i: int) -> int:
        time.sleep(0.005)
        return i

    out: list[int] = []
    threads = [threading.Thread(target=lambda i=i: out.append(exclusive(i))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == [0, 1, 2, 3]
    for kwargs in ({"max_concurrent": 0}, {"max_concurrent": 1, "max_queue": -1}):
        with pytest.raises(OmnitronError) as e:
            Bulkhead(**kwargs)
        assert code(e) == "R005"


def test_timeouts_on_sync_and_async() -> None:
    @timeout(0.02)
    async def slow_async() -> None:
        await asyncio.sleep(0.5)

    with pytest.raises(OmnitronError) as e:
        run(slow_async())
    assert code(e) == "E006"

    @timeout(0.02)
    def slow_sync() -> None:
        time.sleep(0.3)

    with pytest.raises(OmnitronError) as e:
        slow_sync()
    assert code(e) == "E006"

    @timeout(1)
    def fast() -> int:
        return 5

    assert fast() == 5
    with pytest.raises(OmnitronError):
        timeout(0)
    with pytest.raises(TypeError):
        timeout("soon")  # type: ignore[arg-type]


def test_a_cancelled_trial_call_gives_its_permit_back() -> None:
    b = CircuitBreaker("cancelled-trial", threshold=1, timeout=0.05, registry=Registry())

    @b
    async def slow(fail: bool) -> str:
        if fail:
            raise RuntimeError("down")
        await asyncio.sleep(10)
        return "slow"

    @b
    async def fast() -> str:
        return "fast"

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            await slow(True)
        assert b.state == "open"
        await asyncio.sleep(0.08)
        task = asyncio.ensure_future(slow(False))  # the one half-open trial
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Had the trial's permit leaked, the breaker would refuse every call from now on.
        assert await fast() == "fast"
        assert b.state == "closed"

    asyncio.run(scenario())


def test_unknown_keywords_are_refused_naming_the_nearest() -> None:
    from typing import Optional

    from omnitron import bulkhead, rate_limit, retry, timeout
    from omnitron.errors import InvalidArgumentError

    def unknown(key: str, hint: Optional[str], context: str) -> Any:
        pattern = rf"unknown option '{key}' in {context}"
        if hint:
            pattern += rf".*did you mean '{hint}'"
        return pytest.raises(InvalidArgumentError, match=pattern)

    with unknown("treshold", "threshold", r"@circuit_breaker\(\)"):
        circuit_breaker(treshold=5)  # type: ignore[call-arg]
    with unknown("reset_timeout", None, r"CircuitBreaker\(\)"):
        CircuitBreaker("x", reset_timeout=5.0)  # type: ignore[call-arg]
    with unknown("attempt", "attempts", r"@retry\(\)"):
        retry(attempt=3)  # type: ignore[call-arg]
    with unknown("maxDelay", "max_delay", r"RetryPolicy\(\)"):
        RetryPolicy(3, maxDelay=1.0)  # type: ignore[call-arg]
    with unknown("durations", "duration", r"@rate_limit\(\)"):
        rate_limit(points=10, durations=60)  # type: ignore[call-arg]
    with unknown("kinds", "kind", r"RateLimiter\(\)"):
        RateLimiter(10, 60, kinds="sliding-window")  # type: ignore[call-arg]
    with unknown("max_concurent", "max_concurrent", r"@bulkhead\(\)"):
        bulkhead(max_concurent=2)  # type: ignore[call-arg]
    with unknown("maxQueue", "max_queue", r"Bulkhead\(\)"):
        Bulkhead(2, maxQueue=1)  # type: ignore[call-arg]
    with unknown("second", "seconds", r"@timeout\(\)"):
        timeout(second=1.0)  # type: ignore[call-arg]
    # The spec's @CircuitBreaker({ threshold, timeout }) and @RateLimit({ points, duration }), in Python.
    circuit_breaker(threshold=5, timeout=60.0)
    rate_limit(points=10, duration=60)


def test_resilience_errors_have_their_own_classes() -> None:
    from omnitron.errors import BulkheadFullError, CircuitOpenError, RateLimitedError, RetryExhaustedError

    b = CircuitBreaker("classes", threshold=1, registry=Registry())
    with pytest.raises(KeyError):
        b.call(lambda: {}["x"])
    with pytest.raises(CircuitOpenError):
        b.call(lambda: 1)
    limiter = RateLimiter(1, 60)
    limiter.consume()
    with pytest.raises(RateLimitedError):
        limiter.consume()
    with pytest.raises(RetryExhaustedError):
        RetryPolicy(2, delay=0.001).call(lambda: {}["x"])
    full = Bulkhead(1, 0)

    async def main() -> None:
        gate = asyncio.Event()

        async def hold() -> None:
            await gate.wait()

        first = asyncio.ensure_future(full.call_async(hold))
        await asyncio.sleep(0)
        with pytest.raises(BulkheadFullError):
            await full.call_async(hold)
        gate.set()
        await first

    asyncio.run(main())


def test_bare_circuit_breaker_takes_the_defaults() -> None:
    @circuit_breaker
    def ping() -> str:
        return "pong"

    assert ping() == "pong"
    assert ping.circuit_breaker.state == "closed"  # type: ignore[attr-defined]
