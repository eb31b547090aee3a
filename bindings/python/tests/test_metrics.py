"""Metrics through the Python package, checked with prometheus_client's own parsers."""

import asyncio
import urllib.error
from typing import Any, Optional
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from conftest import run
from omnitron import OmnitronError, metric
from omnitron.metrics import REGISTRY, Registry


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in parse_text(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_gauges_histograms_parse_back() -> None:
    r = Registry()
    jobs = r.counter("jobs_total", "Jobs")
    jobs.inc()
    jobs.inc(2.5)
    orders = r.counter("orders_total", "Orders", labelnames=("status", "method"))
    orders.labels("paid", "card").inc()
    orders.labels(status="paid", method="card").inc(2)
    depth = r.gauge("queue_depth", "Depth")
    depth.set(7)
    depth.dec()
    lat = r.histogram("latency_seconds", "Latency", buckets=[0.1, 1.0])
    for v in (0.05, 0.5, 0.5, 5.0):
        lat.observe(v)
    by_route = r.histogram("route_seconds", "By route", labelnames=("route",))
    with by_route.time("/a"):
        pass

    s = samples(r.generate_latest())
    assert s[("jobs_total", ())] == 3.5
    assert s[("orders_total", (("method", "card"), ("status", "paid")))] == 3
    assert s[("queue_depth", ())] == 6
    assert s[("latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert s[("latency_seconds_bucket", (("le", "1.0"),))] == 3
    assert s[("latency_seconds_bucket", (("le", "+Inf"),))] == 4
    assert s[("latency_seconds_sum", ())] == pytest.approx(6.05)
    assert s[("latency_seconds_count", ())] == 4
    assert s[("route_seconds_count", (("route", "/a"),))] == 1
    assert jobs.get() == 3.5
    assert lat.count_and_sum() == (4.0, pytest.approx(6.05))

    fams = {f.name: f for f in parse_openmetrics(r.openmetrics())}
    assert fams["jobs"].type == "counter"
    assert fams["jobs"].samples[0].value == 3.5
    assert fams["latency_seconds"].type == "histogram"

    snap = {m["name"]: m for m in r.snapshot()}
    assert snap["queue_depth"]["series"][0]["value"] == 6


def test_bad_input_is_refused_with_clear_errors() -> None:
    r = Registry()
    with pytest.raises(OmnitronError, match="users_findOne") as e:
        r.counter("users.findOne")
    assert e.value.code == "M001"
    with pytest.raises(OmnitronError) as e:
        r.counter("x_total", labelnames=("__x",))
    assert e.value.code == "M001"
    for bad in ([2.0, 1.0], [], [1.0, 1.0], [-1.0, 1.0], [0.0, 1.0]):
        with pytest.raises(OmnitronError) as e:
            r.histogram("h", buckets=bad)
        assert e.value.code == "M005"
    c = r.counter("up_total")
    for v in (-1.0, float("nan")):
        with pytest.raises(OmnitronError) as e:
            c.inc(v)
        assert e.value.code == "M006"
    assert c.get() == 0
    labeled = r.counter("l_total", labelnames=("a", "b"))
    with pytest.raises(OmnitronError, match=r"\[a, b\]") as e:
        labeled.labels("only-one")
    assert e.value.code == "M002"
    with pytest.raises(OmnitronError):
        labeled.labels(a="x", c="y")
    with pytest.raises(OmnitronError):
        labeled.inc()
    with pytest.raises(OmnitronError) as e:
        r.gauge("up_total")
    assert e.value.code == "M004"
    with pytest.raises(TypeError):
        r.counter(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        r.counter("lab_total", labelnames="a")
    with pytest.raises(TypeError):
        r.histogram("obs").observe("fast")  # type: ignore[arg-type]
    capped = r.counter("per_user_total", labelnames=("user",), cardinality_limit=2)
    capped.labels("a").inc()
    capped.labels("b").inc()
    with pytest.raises(OmnitronError) as e:
        capped.labels("c")
    assert e.value.code == "M003"


def test_metric_decorator_forms() -> None:
    r = Registry()

    class Users:
        @metric("users.find_one", registry=r)
        def find_one(self, user_id: str) -> str:
            if user_id == "missing":
                raise KeyError(user_id)
            return user_id

        @metric("users.find_async", registry=r)
        async def find_async(self, user_id: str) -> str:
            return user_id

        @metric(type="counter", name="orders_total", help="Orders", labelnames=("status", "payment_method"), registry=r)
        def increment_orders(self, status: str, payment_method: str) -> None:
            pass

        @metric(type="histogram", name="order_processing_duration", buckets=[0.1, 0.5, 1, 2, 5, 10], registry=r)
        def record_processing_time(self, duration: float) -> None:
            pass

        @metric(type="gauge", name="active_connections", registry=r)
        def set_active_connections(self, count: int) -> None:
            pass

    u = Users()
    u.find_one("1")
    with pytest.raises(KeyError):
        u.find_one("missing")
    assert run(u.find_async("2")) == "2"
    u.increment_orders("paid", "card")
    u.increment_orders("paid", payment_method="card")  # by keyword: read by name
    u.increment_orders(status="failed", payment_method="paypal")
    u.record_processing_time(0.7)
    u.set_active_connections(count=12)
    s = samples(r.generate_latest())
    assert s[("orders_total", (("payment_method", "paypal"), ("status", "failed")))] == 1
    assert s[("method_calls_total", (("method", "users.find_one"),))] == 2
    assert s[("method_errors_total", (("method", "users.find_one"),))] == 1
    assert s[("method_duration_seconds_count", (("method", "users.find_one"),))] == 2
    assert s[("method_calls_total", (("method", "users.find_async"),))] == 1
    assert s[("orders_total", (("payment_method", "card"), ("status", "paid")))] == 2
    assert s[("order_processing_duration_bucket", (("le", "1.0"),))] == 1
    assert s[("active_connections", ())] == 12
    with pytest.raises(TypeError):
        metric(type="summary", name="x")


def test_metrics_are_served_over_real_http_and_parsed() -> None:
    r = Registry()
    r.counter("scraped_total", "Scrapes").inc(3)
    with r.serve(port=0) as server:
        assert server.port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = resp.read().decode()
        assert samples(body)[("scraped_total", ())] == 3
        req = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        with urllib.request.urlopen(req) as resp:
            fams = {f.name: f for f in parse_openmetrics(resp.read().decode())}
        assert fams["scraped"].samples[0].value == 3
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other")
        assert e.value.code == 404
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)
    with pytest.raises(TypeError):
        r.serve(port=70000)


def test_a_metrics_server_closes_as_everything_else_does() -> None:
    async def main() -> None:
        r = Registry()
        r.counter("async_scraped_total", "Scrapes").inc()
        async with r.serve(port=0) as server:
            loop = asyncio.get_running_loop()
            body = await loop.run_in_executor(None, lambda: urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read())
            assert samples(body.decode())[("async_scraped_total", ())] == 1
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)
        other = r.serve(port=0)
        await other.close()
        await other.close()  # idempotent

    asyncio.run(main())


def test_the_global_registry_has_the_engines_breaker_metrics() -> None:
    from omnitron import CircuitBreaker

    CircuitBreaker("global-check", threshold=1).call(lambda: 1)
    fams = {f.name: f for f in parse_text(REGISTRY.generate_latest())}
    assert "omnitron_circuit_breaker_calls" in fams or "omnitron_circuit_breaker_calls_total" in fams


# ---- written as prometheus_client users write them ----------------------------------------------

import asyncio  # noqa: E402
import warnings  # noqa: E402

import prometheus_client  # noqa: E402

import omnitron  # noqa: E402
from omnitron import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest, start_http_server  # noqa: E402
from omnitron.errors import (  # noqa: E402
    InvalidArgumentError,
    InvalidBucketsError,
    InvalidLabelsError,
    InvalidMetricNameError,
    InvalidMetricValueError,
    MetricConflictError,
)


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples of a text exposition, without prometheus_client's `_created` timestamps."""
    return {k: v for k, v in samples(text).items() if not k[0].endswith("_created")}


def exercise(counter: Any, gauge: Any, histogram: Any, registry: Any, prefix: str) -> None:
    """The same user code, for prometheus_client's classes or ours."""
    orders = counter(f"{prefix}_orders_total", "Orders", ["status"], registry=registry)
    orders.labels("paid").inc()
    orders.labels(status="paid").inc(2)
    orders.labels(status="failed").inc()
    jobs = counter(f"{prefix}_jobs", "Jobs", registry=registry)  # exposed as ..._jobs_total
    jobs.inc(1.5)
    sent = counter("sent", "Bytes", namespace=prefix, subsystem="net", unit="bytes", registry=registry)
    sent.inc(10)
    depth = gauge(f"{prefix}_queue_depth", "Depth", registry=registry)
    depth.set(7)
    depth.inc(3)
    depth.dec(2)
    with depth.track_inprogress():
        pass
    temp = gauge(f"{prefix}_temp", "Temperature", ["room"], registry=registry)
    temp.labels(room="kitchen").set(21.5)
    lat = histogram(f"{prefix}_latency_seconds", "Latency", buckets=[0.1, 0.5, 1.0, float("inf")], registry=registry)
    for v in (0.05, 0.3, 0.3, 2.0):
        lat.observe(v)
    by_route = histogram(f"{prefix}_route_seconds", "By route", ["route"], buckets=(0.5, 1.0), registry=registry)
    by_route.labels("/a").observe(0.7)
    failures = counter(f"{prefix}_failures_total", "Failures", registry=registry)
    with pytest.raises(KeyError):
        with failures.count_exceptions(KeyError):
            raise KeyError("x")
    with failures.count_exceptions(KeyError):
        pass


def test_the_same_code_gives_the_same_samples_as_prometheus_client() -> None:
    theirs = prometheus_client.CollectorRegistry()
    exercise(prometheus_client.Counter, prometheus_client.Gauge, prometheus_client.Histogram, theirs, "pc")
    ours = Registry()
    exercise(Counter, Gauge, Histogram, ours, "pc")
    expected = values(prometheus_client.generate_latest(theirs).decode())
    got = values(generate_latest(ours).decode())
    assert got == expected
    assert ("pc_jobs_total", ()) in got and ("pc_net_sent_bytes_total", ()) in got


def test_constructors_register_in_the_default_registry_and_generate_latest_gives_bytes() -> None:
    orders = Counter("spec_orders_total", "Orders", ["status"])
    orders.labels("paid").inc()
    Gauge("spec_gauge", "help").set(3)
    Histogram("spec_hist", "help", buckets=[1.0, 2.0]).observe(1.5)
    out = omnitron.generate_latest(registry=REGISTRY)
    assert isinstance(out, bytes)
    s = samples(out.decode())
    assert s[("spec_orders_total", (("status", "paid"),))] == 1
    assert s[("spec_gauge", ())] == 3
    assert s[("spec_hist_bucket", (("le", "2.0"),))] == 1
    assert CONTENT_TYPE_LATEST == "text/plain; version=0.0.4; charset=utf-8"
    # Declared again, it is the same series (prometheus_client would refuse the duplicate).
    Counter("spec_orders_total", "Orders", ["status"]).labels("paid").inc()
    assert orders.labels("paid").get() == 2
    # registry=None: a metric exposed nowhere.
    hidden = Counter("spec_hidden_total", "Hidden", registry=None)
    hidden.inc()
    assert hidden.get() == 1 and b"spec_hidden" not in generate_latest()


def test_time_and_track_inprogress_decorate_def_and_async_def() -> None:
    r = Registry()
    h = Histogram("timed_seconds", "Timed", ["kind"], registry=r)
    g = Gauge("running", "Running", registry=r)
    seen: list[float] = []

    @h.labels("sync").time()
    @g.track_inprogress()
    def work() -> str:
        seen.append(g.get())
        return "done"

    @h.labels("async").time()
    @g.track_inprogress()
    async def awork() -> str:
        await asyncio.sleep(0)
        seen.append(g.get())
        return "done"

    assert work() == "done"
    assert asyncio.run(awork()) == "done"
    assert seen == [1.0, 1.0] and g.get() == 0
    assert h.count_and_sum("sync")[0] == 1 and h.count_and_sum("async")[0] == 1
    took = Gauge("took_seconds", "Took", registry=r)
    with took.time():
        pass
    assert took.get() >= 0
    now = Gauge("now_seconds", "Now", registry=r)
    now.set_to_current_time()
    assert now.get() > 1e9


def test_errors_are_valueerrors_with_the_engines_codes_and_lose_nothing() -> None:
    r = Registry()
    with pytest.raises(InvalidMetricNameError) as e:
        Counter("users.find", "x", registry=r)
    assert isinstance(e.value, ValueError) and e.value.code == "M001"
    with pytest.raises(ValueError):
        Counter("", "x", registry=r)
    with pytest.raises(ValueError):
        Histogram("h_le", "x", ["le"], registry=r)
    c = Counter("errs_total", "x", ["a", "b"], registry=r)
    with pytest.raises(InvalidLabelsError):
        c.labels("only-one")
    with pytest.raises(ValueError):
        c.labels(a="x", c="y")
    with pytest.raises(ValueError):
        c.labels("x", b="y")
    with pytest.raises(ValueError):
        c.inc()  # labelled: use .labels(...)
    plain = Counter("plain_total", "x", registry=r)
    with pytest.raises(ValueError):
        plain.labels("x")
    with pytest.raises(InvalidMetricValueError):
        plain.inc(-1)
    assert plain.get() == 0
    with pytest.raises(InvalidBucketsError):
        Histogram("unsorted", "x", buckets=[2.0, 1.0], registry=r)
    with pytest.raises(MetricConflictError):
        Gauge("plain_total", "x", registry=r)
    with pytest.raises(InvalidArgumentError):
        Counter("typed_total", "x", labelnames="a", registry=r)  # a string is not a list of names
    with pytest.raises(InvalidArgumentError):
        Histogram("bad_buckets", "x", buckets=["fast"], registry=r)
    with pytest.raises(InvalidArgumentError):
        Counter("reg_total", "x", registry="default")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        plain.count_exceptions("KeyError")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        generate_latest("registry")  # type: ignore[arg-type]
    assert [m["name"] for m in r.snapshot()] == ["errs_total", "plain_total"]


def test_unknown_keywords_are_refused_naming_the_nearest() -> None:
    r = Registry()

    def unknown(key: str, hint: Optional[str], context: str) -> Any:
        pattern = rf"unknown option '{key}' in {context}"
        if hint:
            pattern += rf".*did you mean '{hint}'"
        return pytest.raises(InvalidArgumentError, match=pattern)

    with unknown("labelNames", "labelnames", r"Counter\(\)"):
        Counter("k_total", "x", labelNames=["a"], registry=r)  # type: ignore[call-arg]
    with unknown("multiprocess_mode", None, r"Gauge\(\)"):
        Gauge("k_gauge", "x", multiprocess_mode="all", registry=r)  # type: ignore[call-arg]
    with unknown("bucket", "buckets", r"Histogram\(\)"):
        Histogram("k_hist", "x", bucket=[1.0], registry=r)  # type: ignore[call-arg]
    with unknown("label_names", "labelnames", r"Registry.counter\(\)"):
        r.counter("k2_total", "x", label_names=("a",))  # type: ignore[call-arg]
    with unknown("bukets", "buckets", r"@metric\(\)"):
        metric("k3", type="histogram", bukets=[1.0])  # type: ignore[call-overload]
    with unknown("adr", "addr", r"start_http_server\(\)"):
        start_http_server(0, adr="127.0.0.1")  # type: ignore[call-arg]
    assert r.snapshot() == []


def test_start_http_server_serves_the_registry() -> None:
    r = Registry()
    Counter("served_total", "Served", registry=r).inc(4)
    server = start_http_server(0, addr="127.0.0.1", registry=r)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as resp:
            assert samples(resp.read().decode())[("served_total", ())] == 4
    finally:
        server.stop()


def test_bare_metric_times_the_function_under_its_qualified_name() -> None:
    r = Registry()

    class Jobs:
        @metric(registry=r)
        def run(self) -> int:
            return 1

    @metric
    def operation() -> int:
        return 2

    assert Jobs().run() == 1 and operation() == 2
    assert samples(r.generate_latest())[("method_calls_total", (("method", "test_bare_metric_times_the_function_under_its_qualified_name.<locals>.Jobs.run"),))] == 1
    s = samples(REGISTRY.generate_latest())
    assert s[("method_calls_total", (("method", "test_bare_metric_times_the_function_under_its_qualified_name.<locals>.operation"),))] == 1


def test_the_old_constructor_form_still_works_with_a_deprecation_warning() -> None:
    family = _native_family()
    with pytest.warns(DeprecationWarning, match="deprecated") as caught:
        c = Counter(family, ("route",))  # type: ignore[arg-type]
    assert caught[0].filename == __file__, "the warning points at the caller (shown by default filters)"
    c.labels("/a").inc()
    assert c.get("/a") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Registry().counter("new_way_total", "x").inc()  # the registry's own path warns nothing


def _native_family() -> Any:
    from omnitron import _native

    return _native.NativeRegistry().metric("counter", "old_way_total", "Old", ["route"], None, None)
