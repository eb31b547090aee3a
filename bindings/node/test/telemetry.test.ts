// Tracing from TypeScript: the context handlers run in and pass on, @Trace spans, the bridge with
// the official OpenTelemetry SDK, and what reaches a real OTLP/HTTP receiver. This file is its own
// process (node --test), so the OTEL_* variables set here are read by the first peer it makes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { Test } from '@omnitron-dev/native/testing';
import {
  Compensate,
  Controller,
  Get,
  Module,
  OmnitronError,
  Param,
  Peer,
  Public,
  Queue,
  Service,
  Stage,
  type StageContext,
  Trace,
  Workflow,
  WorkflowEngine,
  Worker,
  currentTrace,
  flushTraces,
  tracingEnabled,
  withSpan,
} from '@omnitron-dev/native';

// A real OTLP/HTTP receiver: keeps every body POSTed to /v1/traces.
const bodies: Buffer[] = [];
const receiver: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf') {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200).end();
    } else {
      res.writeHead(404).end();
    }
  });
});

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
const tracer = trace.getTracer('user-code');

const traceId = (traceparent: string | undefined) => traceparent?.split('-')[1];
const spanId = (traceparent: string | undefined) => traceparent?.split('-')[2];
const received = () => Buffer.concat(bodies);
const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;

class Checkout {
  @Trace({ operation: 'create-order', attributes: { channel: 'web' } })
  async create(peer: Peer): Promise<{ outer: string | undefined; seen: { trace?: string; otel?: string } }> {
    const outer = currentTrace()?.traceparent;
    const seen = await peer.call<{ trace?: string; otel?: string }>('probe', 'context');
    return { outer, seen };
  }

  @Trace()
  failing(): never {
    throw new Error('out of stock: sku-9');
  }
}

@Service('probe@1.0.0')
class Probe {
  /** The trace context the handler runs in, as the engine and as OpenTelemetry see it. */
  @Public()
  async *contexts(n: number): AsyncGenerator<{ trace?: string; otel?: string }> {
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, 1));
      const sc = trace.getSpanContext(context.active());
      yield { trace: currentTrace()?.traceparent, otel: sc ? `${sc.traceId}-${sc.spanId}` : undefined };
    }
  }

  @Public()
  async context(): Promise<{ trace?: string; otel?: string }> {
    await new Promise((r) => setTimeout(r, 1));
    const sc = trace.getSpanContext(context.active());
    return { trace: currentTrace()?.traceparent, otel: sc ? `${sc.traceId}-${sc.spanId}` : undefined };
  }
}

test('traces cross peers, join the OpenTelemetry SDK, and reach the collector', async () => {
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as { port: number }).port;
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
  process.env.OTEL_SERVICE_NAME = 'node-test';
  const addr = `unix:${mkdtempSync(join(tmpdir(), 'omni-'))}/private/rpc.sock`;
  const server = await Peer.listen(addr, { name: 'server', token: 't' });
  const client = await Peer.connect(addr, { name: 'client', token: 't' });
  try {
    assert.equal(tracingEnabled(), true);
    await server.expose(new Probe());

    // Outside any trace: the handler is in a root trace of the engine's.
    const plain = await client.call<{ trace?: string; otel?: string }>('probe', 'context');
    assert.match(plain.trace ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // ... which OpenTelemetry code inside the handler sees as its active span context.
    assert.equal(plain.otel, `${traceId(plain.trace)}-${spanId(plain.trace)}`);

    // A span the user started with the official SDK is the parent of the engine's call.
    let sdkSpan: { traceId: string; spanId: string } | undefined;
    const inSdk = await tracer.startActiveSpan('user-op', async (span) => {
      sdkSpan = span.spanContext();
      try {
        return await client.call<{ trace?: string; otel?: string }>('probe', 'context');
      } finally {
        span.end();
      }
    });
    assert.equal(traceId(inSdk.trace), sdkSpan!.traceId, 'the handler runs in the SDK span\'s trace');
    assert.notEqual(spanId(inSdk.trace), sdkSpan!.spanId, 'under the engine\'s spans, not the SDK span itself');
    assert.equal(inSdk.otel?.split('-')[0], sdkSpan!.traceId);
    assert.equal(exporter.getFinishedSpans().filter((s) => s.name === 'user-op').length, 1);
    // A streaming handler steps in its call's trace too.
    const items = await tracer.startActiveSpan('user-stream', async (span) => {
      try {
        const got: { trace?: string; otel?: string }[] = [];
        for await (const item of client.stream<{ trace?: string; otel?: string }>('probe', 'contexts', [2])) got.push(item);
        return { got, traceId: span.spanContext().traceId };
      } finally {
        span.end();
      }
    });
    assert.equal(items.got.length, 2);
    for (const item of items.got) {
      assert.equal(traceId(item.trace), items.traceId);
      assert.equal(item.otel?.split('-')[0], items.traceId);
    }

    // @Trace: a span of its own, the parent of the calls made inside.
    const r = await new Checkout().create(client);
    assert.ok(r.outer);
    assert.equal(traceId(r.seen.trace), traceId(r.outer));
    assert.notEqual(spanId(r.seen.trace), spanId(r.outer));
    // Inside an SDK span, @Trace continues the SDK's trace.
    const nested = await tracer.startActiveSpan('outer-sdk', async (span) => {
      try {
        return await new Checkout().create(client);
      } finally {
        span.end();
      }
    });
    assert.equal(traceId(nested.outer), exporter.getFinishedSpans().find((s) => s.name === 'outer-sdk')!.spanContext().traceId);

    // A failing @Trace method: the error goes on, and the span says so.
    assert.throws(() => new Checkout().failing(), /out of stock/);
    // withSpan for code without a decorator.
    const inner = withSpan('manual-step', () => currentTrace()?.traceparent);
    assert.match(inner ?? '', /^00-/);

    assert.equal(await flushTraces(5000), true);
    const all = received();
    // Every engine span of the SDK-rooted call carries the SDK's trace id.
    assert.ok(all.includes(Buffer.from(sdkSpan!.traceId, 'hex')), 'the SDK trace reached the collector');
    assert.ok(all.includes(Buffer.from(traceId(r.outer)!, 'hex')));
    for (const name of ['probe/context', 'create-order', 'Checkout.failing', 'manual-step', 'node-test', 'out of stock: sku-9', 'channel', 'nodejs']) {
      assert.ok(all.includes(Buffer.from(name)), `${name} was exported`);
    }
  } finally {
    await client.close();
    await server.close();
    receiver.close();
  }
});

@Workflow({ name: 'traced-order' })
class TracedOrder {
  released: (string | undefined)[] = [];

  @Stage('reserve')
  async reserve(_input: unknown, ctx: StageContext): Promise<{ trace?: string }> {
    await new Promise((r) => setTimeout(r, 1));
    assert.equal(ctx.traceparent, currentTrace()?.traceparent);
    return { trace: currentTrace()?.traceparent };
  }

  @Stage({ name: 'charge', dependsOn: 'reserve' })
  charge(): never {
    throw new Error('card declined');
  }

  @Compensate('reserve')
  release(): void {
    this.released.push(currentTrace()?.traceparent);
  }
}

test('a workflow run is one trace under its caller, each stage and compensation in a span of its own', async () => {
  // Tracing was installed by the first test of this file (its receiver is closed now: spans are
  // kept or dropped, the run is not slowed).
  assert.equal(tracingEnabled(), true);
  const engine = WorkflowEngine.inMemory();
  const wf = new TracedOrder();
  engine.register(wf);
  let caller: string | undefined;
  await withSpan('checkout', async () => {
    caller = currentTrace()?.traceparent;
    await assert.rejects(engine.run('traced-order', { id: 1 }, { runId: 'traced-1' }), /card declined/);
  });
  const info = await engine.get('traced-1');
  assert.equal(info.state, 'compensated');
  assert.equal(traceId(info.trace ?? undefined), traceId(caller), "the run's trace is kept with it");
  const stage = (info.stages[0]!.output as { trace?: string }).trace;
  assert.equal(traceId(stage), traceId(caller), 'the stage runs in the caller\'s trace');
  assert.notEqual(spanId(stage), spanId(caller), 'in a span of its own (the run\'s, then the stage\'s)');
  assert.equal(wf.released.length, 1);
  assert.equal(traceId(wf.released[0]), traceId(caller));
  assert.notEqual(spanId(wf.released[0]), spanId(stage), 'the compensation has a span of its own');
  // Outside any span, a run is the root of a trace of its own.
  const alone = new TracedOrder();
  const engine2 = WorkflowEngine.inMemory();
  engine2.register(alone);
  await assert.rejects(engine2.run('traced-order', {}, { runId: 'traced-2' }));
  assert.match(alone.released[0] ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.notEqual(traceId(alone.released[0]), traceId(caller));
  engine.close();
  engine2.close();
});

test("a queue job's handler runs in the trace the job was added in, in a span of its own", async () => {
  const q = await Queue.open<{ n: number }>('traced', { store: `sqlite:${join(mkdtempSync(join(tmpdir(), 'omni-q-')), 'q.db')}` });
  const seen: (string | undefined)[] = [];
  let added: string | undefined;
  await withSpan('signup', async () => {
    added = currentTrace()?.traceparent;
    await q.add('welcome', { n: 1 });
    await q.addBulk([{ name: 'welcome', data: { n: 2 } }]);
  });
  await q.add('welcome', { n: 3 });
  let done = 0;
  const w = new Worker(q, async (job) => {
    await new Promise((r) => setTimeout(r, 1));
    seen[job.data.n] = currentTrace()?.traceparent;
    if (job.traceparent !== undefined) assert.equal(job.traceparent, seen[job.data.n]);
    done++;
  });
  for (let i = 0; i < 500 && done < 3; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(done, 3);
  await w.close();
  for (const n of [1, 2]) {
    assert.equal(traceId(seen[n]), traceId(added), `job ${n} runs in the trace it was added in`);
    assert.notEqual(spanId(seen[n]), spanId(added), 'in its attempt\'s own span');
  }
  assert.notEqual(traceId(seen[3]), traceId(added), 'a job added outside any trace is not in it');
});

test('bad @Trace options and spans are refused with E001', async () => {
  assert.throws(() => Trace({ operation: 5 as unknown as string }), code('E001'));
  assert.throws(() => Trace({ opration: 'x' } as unknown as { operation: string }), (e: unknown) => code('E001')(e) && /operation/.test(String(e)));
  assert.throws(() => Trace({ kind: 'sideways' as 'internal' }), code('E001'));
  assert.throws(() => withSpan('', () => 1), code('E001'));
  assert.throws(() => withSpan('x', () => 1, { attributes: { k: null as unknown as string } }), code('E001'));
  assert.throws(() => Trace({ attributes: { order: [1] as unknown as string } }), (e: unknown) => code('E001')(e) && /'order'/.test(String(e)));
  await assert.rejects(flushTraces('soon' as unknown as number), code('E001'));
  assert.throws(() => withSpan('x', () => 1, { operation: 'y' } as unknown as { kind: 'internal' }), (e: unknown) => code('E001')(e) && /operation/.test(String(e)));
  assert.throws(() => withSpan('x', 5 as unknown as () => number), code('E001'));
});

@Controller('trace')
class TraceController {
  @Get(':id')
  async get(@Param('id') id: string) {
    await new Promise((r) => setTimeout(r, 1));
    return { id, trace: currentTrace()?.traceparent };
  }
}

@Module({ controllers: [TraceController] })
class TraceModule {}

test("an HTTP handler runs in its request's trace, under the client's traceparent", async () => {
  const app = await Test.createApplication(TraceModule);
  try {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await app.request().get('/trace/7').set('traceparent', parent).expect(200);
    assert.equal(traceId(r.body.trace), '0af7651916cd43dd8448eb211c80319c');
    // Tracing is on in this process: the handler runs in the request's own span.
    assert.notEqual(spanId(r.body.trace), 'b7ad6b7169203331');
    const plain = await app.request().get('/trace/8').expect(200);
    assert.match(plain.body.trace, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.notEqual(traceId(plain.body.trace), '0af7651916cd43dd8448eb211c80319c');
  } finally {
    await app.close();
  }
});

test("an event's subscribers run in its publisher's trace, in another peer too", async () => {
  const addr = `unix:${mkdtempSync(join(tmpdir(), 'omni-ev-'))}/private/rpc.sock`;
  const hub = await Peer.listen(addr, { name: 'hub' });
  const sub = await Peer.connect(addr, { name: 'sub' });
  const seen: [string, string | undefined][] = [];
  await sub.subscribe('order.*', (_p, topic) => void seen.push([topic, currentTrace()?.traceparent]));
  let published: string | undefined;
  await withSpan('place-order', async () => {
    published = currentTrace()?.traceparent;
    hub.publish('order.placed', { id: 1 });
  });
  hub.publish('order.cancelled', { id: 2 });
  for (let i = 0; i < 500 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  seen.sort();
  assert.ok(published);
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[1], ['order.placed', published]);
  // Outside any span: OpenTelemetry's active context here is none, so none is carried.
  assert.equal(seen[0]![0], 'order.cancelled');
  assert.equal(traceId(seen[0]![1]) === traceId(published), false);
  await sub.close();
  await hub.close();
});
