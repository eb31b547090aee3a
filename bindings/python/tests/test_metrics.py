"""Metrics through the Python package, checked with prometheus_client's own parsers."""

import urllib.error
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
    u.increment_orders("paid", "card")
    u.record_processing_time(0.7)
    u.set_active_connections(12)
    s = samples(r.generate_latest())
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


def test_the_global_registry_has_the_engines_breaker_metrics() -> None:
    from omnitron import CircuitBreaker

    CircuitBreaker("global-check", threshold=1).call(lambda: 1)
    fams = {f.name: f for f in parse_text(REGISTRY.generate_latest())}
    assert "omnitron_circuit_breaker_calls" in fams or "omnitron_circuit_breaker_calls_total" in fams
