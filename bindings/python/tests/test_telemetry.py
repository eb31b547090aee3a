"""Tracing from Python, against a real OTLP/HTTP receiver whose requests are decoded with the
official ``opentelemetry-proto`` package, and with the official OpenTelemetry SDK in the traced
process (a child process: tracing is installed once per process)."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from omnitron import span, trace, tracing_from_env
from omnitron.errors import InvalidArgumentError, InvalidConfigError

HERE = Path(__file__).parent


class Receiver:
    """Collects the spans of every export request POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
                if ok:
                    req = ExportTraceServiceRequest.FromString(body)
                    for rs in req.resource_spans:
                        res = {kv.key: kv.value for kv in rs.resource.attributes}
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                spans.append(
                                    {
                                        "service": res["service.name"].string_value,
                                        "language": res["telemetry.sdk.language"].string_value,
                                        "scope": ss.scope.name,
                                        "name": s.name,
                                        "kind": s.kind,
                                        "trace": s.trace_id.hex(),
                                        "span": s.span_id.hex(),
                                        "parent": s.parent_span_id.hex(),
                                        "status": (s.status.code, s.status.message),
                                        "attributes": {kv.key: kv.value for kv in s.attributes},
                                        "start": s.start_time_unix_nano,
                                        "end": s.end_time_unix_nano,
                                    }
                                )
                self.send_response(200 if ok else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def test_a_python_process_traces_its_calls_with_the_official_sdk_as_parent() -> None:
    r = Receiver()
    try:
        env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=r.endpoint, OTEL_SERVICE_NAME="py-test")
        p = subprocess.run([sys.executable, str(HERE / "telemetry_child.py")], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        r.server.shutdown()
    assert out["enabled"] is True

    def tid(h: Any) -> str:
        return str(h[0].split("-")[1])

    def sid(h: Any) -> str:
        return str(h[0].split("-")[2])

    # Outside any trace the handler runs in a root trace of the engine's, current in OpenTelemetry
    # too, async and sync handlers alike.
    for k in ("plain", "plain_sync"):
        assert out[k]["otel"] == f"{tid(out[k]['trace'])}-{sid(out[k]['trace'])}"
    # A span started with the official SDK is the parent of the engine's client span.
    sdk_trace, sdk_span = out["sdk"].split("-")
    for k in ("in_sdk", "in_sdk_sync"):
        assert tid(out[k]["trace"]) == sdk_trace
        assert out[k]["otel"].split("-")[0] == sdk_trace
    # A streaming handler steps in its call's trace too.
    assert len(out["in_sdk_stream"]) == 2
    for item in out["in_sdk_stream"]:
        assert tid(item["trace"]) == sdk_trace and item["otel"].split("-")[0] == sdk_trace
    spans = r.spans
    assert {s["service"] for s in spans} == {"py-test"}
    assert {s["language"] for s in spans} == {"python"}
    client = [s for s in spans if s["trace"] == sdk_trace and s["kind"] == 3 and s["name"] == "probe/context"]
    server = [s for s in spans if s["trace"] == sdk_trace and s["kind"] == 2 and s["name"] == "probe/context"]
    assert len(client) == 1 and len(server) == 1, spans
    assert client[0]["parent"] == sdk_span
    assert server[0]["parent"] == client[0]["span"]
    assert server[0]["span"] == sid(out["in_sdk"]["trace"])
    assert server[0]["attributes"]["rpc.system"].string_value == "omnitron"
    assert client[0]["start"] <= server[0]["start"] <= server[0]["end"] <= client[0]["end"]
    # @trace: a span of its own, the parent of the call made inside it.
    order = [s for s in spans if s["name"] == "create-order"]
    assert len(order) == 1 and order[0]["attributes"]["channel"].string_value == "web"
    assert tid(out["checkout"]["outer"]) == order[0]["trace"] == tid(out["checkout"]["seen"]["trace"])
    inner = [s for s in spans if s["parent"] == order[0]["span"]]
    assert [s["name"] for s in inner] == ["probe/context"]
    # Failures: the @trace span and both spans of the failed call say so.
    assert out["failing_raised"] is True
    failing = [s for s in spans if s["name"] == "Checkout.failing"]
    assert failing[0]["status"] == (2, "no stock")
    assert failing[0]["attributes"]["error.type"].string_value == "RuntimeError"
    failed = [s for s in spans if s["name"] == "probe/fail"]
    assert len(failed) == 2 and all(s["status"][0] == 2 for s in failed), failed
    assert out["fail_code"]
    assert any(s["name"] == "manual-step" for s in spans)
    assert out["sdk_spans"] == ["user-op"]
    # A workflow run: one trace under the span it was started in, a span per stage attempt and
    # compensation, each current while its function runs (async, in a thread, compensating).
    wf = out["workflow"]
    assert wf["state"] == "compensated" and "card declined" in out["run_error"]
    run = [s for s in spans if s["name"] == "workflow traced-order"]
    assert len(run) == 1 and run[0]["trace"] == tid(out["checkout_span"]) and run[0]["parent"] == sid(out["checkout_span"])
    assert run[0]["status"][0] == 2
    assert wf["trace"].split("-")[2] == run[0]["span"], "the run's trace is kept with it"
    by_name = {s["name"]: s for s in spans if s["trace"] == run[0]["trace"] and s["parent"] == run[0]["span"]}
    assert set(by_name) == {"stage reserve", "stage label", "stage charge", "compensate reserve"}, by_name
    assert by_name["stage charge"]["status"][0] == 2
    assert sid(wf["stages"]["reserve"]) == by_name["stage reserve"]["span"]
    assert sid(wf["stages"]["label"]) == by_name["stage label"]["span"]
    assert sid(wf["released"][0]) == by_name["compensate reserve"]["span"]
    # Queue jobs: a PRODUCER span under the caller's, a CONSUMER span per attempt under it, the
    # handler (async or def) running in the latter.
    jobs = out["jobs"]
    for n, parent in (("1", out["signup_span"]), ("2", out["signup_span"]), ("11", out["signup_sync_span"])):
        process = [s for s in spans if s["span"] == sid(jobs[n])]
        assert len(process) == 1 and process[0]["kind"] == 5 and process[0]["trace"] == tid(parent), (n, process)
        publish = [s for s in spans if s["span"] == process[0]["parent"]]
        assert publish[0]["kind"] == 4 and publish[0]["parent"] == sid(parent), publish
    assert jobs["3"] is None or tid(jobs["3"]) != tid(out["signup_span"])


def test_bad_trace_options_are_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        trace(operation=5)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="operation"):
        trace(opration="x")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError):
        trace(kind="sideways")
    with pytest.raises(InvalidArgumentError):
        with span(""):
            pass
    with pytest.raises(InvalidArgumentError):
        with span("x", kind="sideways"):
            pass
    with pytest.raises(InvalidArgumentError, match="'order'"):
        trace(attributes={"order": [1, 2]})
    with pytest.raises(InvalidArgumentError):
        with span("x", attributes={"k": None}):  # type: ignore[dict-item]
            pass


def test_bad_tracing_variables_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Refused before anything is installed: this process stays untraced.
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(InvalidConfigError, match="OTEL_TRACES_EXPORTER: 'zipkin'"):
        tracing_from_env("x")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")
    with pytest.raises(InvalidConfigError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        tracing_from_env("x")


def test_an_http_handler_runs_in_the_trace_of_its_request() -> None:
    # This process does not trace: the handler runs in the client's context, passed on as it came.
    from omnitron import current_trace
    from omnitron.http import HttpApp, controller, get
    from omnitron.testing import TestClient

    @controller("trace")
    class TraceController:
        @get("/{id}")
        async def find(self, id: int) -> dict[str, Any]:
            return {"id": id, "trace": current_trace()}

        @get("/sync/{id}")
        def find_sync(self, id: int) -> dict[str, Any]:
            return {"id": id, "trace": current_trace()}

    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with TestClient(HttpApp([TraceController()])) as client:
        for path in ("/trace/7", "/trace/sync/7"):
            r = client.get(path, headers={"traceparent": parent, "tracestate": "vendor=1"})
            assert r.status_code == 200
            assert r.json()["trace"] == [parent, "vendor=1"], path
        assert client.get("/trace/8").json()["trace"] is None
