"""Run by test_telemetry.py in a process of its own (tracing is installed once per process, from
the OTEL_* variables the test sets): peers, the official OpenTelemetry SDK, @trace and span();
prints what it saw as one JSON line."""

import asyncio
import json
import sys
import tempfile
from typing import Any

from opentelemetry import trace as otel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from omnitron import Peer, current_trace, public, service, span, trace, tracing_enabled
from omnitron.queue import Queue, Worker
from omnitron.workflow import WorkflowEngine, compensate, stage, workflow

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
otel.set_tracer_provider(provider)
tracer = otel.get_tracer("user-code")


def seen() -> dict[str, Any]:
    sc = otel.get_current_span().get_span_context()
    return {"trace": current_trace(), "otel": f"{sc.trace_id:032x}-{sc.span_id:016x}" if sc.is_valid else None}


@workflow(name="traced-order")
class TracedOrder:
    def __init__(self) -> None:
        self.released: list[Any] = []

    @stage(name="reserve")
    async def reserve(self, order: dict[str, Any]) -> Any:
        return current_trace()

    @stage(name="label", depends_on="reserve")
    def label(self, _: Any) -> Any:
        # A sync stage, in a thread: its span is current there too.
        return current_trace()

    @stage(name="charge", depends_on="label")
    async def charge(self, _: Any) -> None:
        raise ValueError("card declined")

    @compensate("reserve")
    def release(self, _: Any) -> None:
        self.released.append(current_trace())


@service("probe@1.0.0")
class Probe:
    @public
    async def context(self) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        return seen()

    @public
    def context_sync(self) -> dict[str, Any]:
        return seen()

    @public
    async def contexts(self, n: int) -> Any:
        for _ in range(n):
            await asyncio.sleep(0)
            yield seen()

    @public
    async def fail(self) -> None:
        raise ValueError("out of stock: sku-9")


class Checkout:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    @trace(operation="create-order", attributes={"channel": "web"})
    async def create(self) -> dict[str, Any]:
        return {"outer": current_trace(), "seen": await self.peer.call("probe", "context")}

    @trace
    def failing(self) -> None:
        raise RuntimeError("no stock")


async def main() -> None:
    out: dict[str, Any] = {"enabled": tracing_enabled()}
    addr = f"unix:{tempfile.mkdtemp()}/private/rpc.sock"
    server = await Peer.listen(addr, name="server", token="t")
    client = await Peer.connect(addr, name="client", token="t")
    out["enabled"] = tracing_enabled()
    await server.expose(Probe())
    out["plain"] = await client.call("probe", "context")
    out["plain_sync"] = await client.call("probe", "context_sync")
    with tracer.start_as_current_span("user-op") as s:
        c = s.get_span_context()
        out["sdk"] = f"{c.trace_id:032x}-{c.span_id:016x}"
        out["in_sdk"] = await client.call("probe", "context")
        out["in_sdk_sync"] = await client.call("probe", "context_sync")
        out["in_sdk_stream"] = [item async for item in client.stream("probe", "contexts", 2)]
    out["checkout"] = await Checkout(client).create()
    try:
        Checkout(client).failing()
    except RuntimeError:
        out["failing_raised"] = True
    try:
        await client.call("probe", "fail")
    except Exception as e:  # noqa: BLE001
        out["fail_code"] = getattr(e, "code", None)
    with span("manual-step") as h:
        out["manual"] = h
    # A workflow run started inside a span: one trace, a span per stage and compensation.
    async with WorkflowEngine.in_memory() as engine:
        wf = TracedOrder()
        engine.register(wf)
        with span("checkout") as h:
            out["checkout_span"] = h
            try:
                await engine.run("traced-order", {"id": 1}, run_id="traced-1")
            except Exception as e:  # noqa: BLE001
                out["run_error"] = str(e)
        info = await engine.get("traced-1")
        out["workflow"] = {
            "state": info.state,
            "stages": {st.name: st.output for st in info.stages},
            "released": wf.released,
            "trace": info.trace,
        }
    # Queue jobs: each handler (async, and def in a thread) runs in the trace its job was added in.
    q = await Queue.open("traced", store=f"sqlite:{tempfile.mkdtemp()}/q.db")
    jobs: dict[int, Any] = {}
    with span("signup") as h:
        out["signup_span"] = h
        await q.add("welcome", {"n": 1})
        await q.add_many([("welcome", {"n": 2})])
    await q.add("welcome", {"n": 3})

    async def handle(job: Any) -> None:
        jobs[job.data["n"]] = current_trace()
        assert job.traceparent == (current_trace() or (None,))[0]

    def handle_sync(job: Any) -> None:
        jobs[job.data["n"] + 10] = current_trace()

    w = Worker(q, handle)
    for _ in range(500):
        if len(jobs) == 3:
            break
        await asyncio.sleep(0.01)
    await w.close()
    q2 = await Queue.open("traced-sync", store=f"sqlite:{tempfile.mkdtemp()}/q.db")
    with span("signup-sync") as h:
        out["signup_sync_span"] = h
        await q2.add("welcome", {"n": 1})
    w2 = Worker(q2, handle_sync)
    for _ in range(500):
        if 11 in jobs:
            break
        await asyncio.sleep(0.01)
    await w2.close()
    out["jobs"] = {str(k): v for k, v in jobs.items()}
    out["sdk_spans"] = [sp.name for sp in exporter.get_finished_spans()]
    await client.close()
    await server.close()
    print(json.dumps(out))
    sys.stdout.flush()


asyncio.run(main())
