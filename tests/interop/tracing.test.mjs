// One trace across four languages, with real processes: a span started with the official
// OpenTelemetry SDK in Node is the parent of Node's call to Python inventory, whose handler calls
// C shipping, whose handler calls Rust calc. Each process exports its spans over OTLP/HTTP to a
// receiver that decodes them with the official opentelemetry-proto package (Python); each also writes
// its logs as JSON lines carrying the trace's id. Run by `make interop-test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { start, until } from './procs.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const require = createRequire(join(root, 'bindings/node/package.json'));
const PYTHON = process.env.OMNITRON_PYTHON ?? join(root, '.venv/bin/python');
const RUST_SERVICE = process.env.OMNITRON_RUST_SERVICE;
const C_TRACE = process.env.OMNITRON_C_TRACE;
const TOKEN = 'trace-token';


test('one trace through Node, Python, C and Rust reaches the collector with its parent links', { timeout: 90_000 }, async () => {
  assert.ok(RUST_SERVICE && C_TRACE, 'OMNITRON_RUST_SERVICE and OMNITRON_C_TRACE are set by `make interop-test`');
  const receiver = start(PYTHON, [join(root, 'tests/interop/otlp_receiver.py')]);
  await until('the receiver', () => receiver.lines.some((l) => l.startsWith('port ')));
  const port = receiver.lines.find((l) => l.startsWith('port ')).split(' ')[1];
  // Every process also writes its logs as JSON lines with the per-call line at debug: each must
  // carry the trace's id.
  const otel = (service) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_SERVICE_NAME: service,
    OMNITRON_LOG: 'info,omnitron.rpc=debug',
    OMNITRON_LOG_FORMAT: 'json',
  });
  Object.assign(process.env, otel('node-hub'));

  // The official SDK, as an application would register it; its spans stay in memory here.
  const { trace } = require('@opentelemetry/api');
  const { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-node');
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
  provider.register();
  const { Peer, flushTraces } = require(join(root, 'bindings/node'));

  const address = `unix:${mkdtempSync(join(tmpdir(), 'omni-trace-'))}/private/hub.sock`;
  const hub = await Peer.listen(address, { name: 'node-hub', token: TOKEN });
  const py = start(PYTHON, [join(root, 'tests/interop/py_trace.py'), address, TOKEN], otel('py-inventory'));
  const c = start(C_TRACE, [address, TOKEN], otel('c-shipping'));
  const rust = start(RUST_SERVICE, [address, TOKEN], otel('rust-calc'));
  const children = [py, c, rust];
  try {
    await until('the services to register', () => {
      const names = hub.services().map((s) => s.name);
      return ['inventory', 'shipping', 'calc'].every((n) => names.includes(n));
    });
    let root_;
    const answer = await trace.getTracer('app').startActiveSpan('place-order', async (span) => {
      root_ = span.spanContext();
      try {
        return await hub.call('inventory@^1', 'reserve', ['sku-7']);
      } finally {
        span.end();
      }
    });
    const T = root_.traceId;
    // Every handler ran in the SDK span's trace.
    assert.equal(answer.python[0].split('-')[1], T);
    assert.equal(answer.otel, T, 'OpenTelemetry in the Python handler sees the same trace');
    assert.equal(answer.shipped.c.split('-')[1], T);
    assert.equal(answer.shipped.sum, 42);

    // Each process exports its spans: Node now, the children when they close.
    await flushTraces(5000);
    for (const p of [py, c]) p.stdin.end();
    await Promise.all([py.exited, c.exited]);
    const spans = () => receiver.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((s) => s.trace === T);
    await until('the Rust service to export its span', () => spans().some((s) => s.language === 'rust'));

    const all = spans();
    const one = (name, kind) => {
      const found = all.filter((s) => s.name === name && s.kind === kind);
      assert.equal(found.length, 1, `one ${name} span of kind ${kind}: ${JSON.stringify(all, null, 1)}`);
      return found[0];
    };
    const chain = [
      one('inventory/reserve', 3),
      one('inventory/reserve', 2),
      one('shipping/ship', 3),
      one('shipping/ship', 2),
      one('calc/add', 3),
      one('calc/add', 2),
    ];
    assert.equal(chain[0].parent, root_.spanId, "the SDK span is the parent of Node's call");
    for (let i = 1; i < chain.length; i++) assert.equal(chain[i].parent, chain[i - 1].span, `${chain[i].name} (${chain[i].service}) has the right parent`);
    assert.deepEqual(
      chain.map((s) => `${s.service}:${s.language}`),
      ['node-hub:nodejs', 'py-inventory:python', 'py-inventory:python', 'c-shipping:cpp', 'c-shipping:cpp', 'rust-calc:rust'],
    );
    assert.ok(chain.every((s) => s.status !== 2 && s.attributes['rpc.system'] === 'omnitron'));

    // The logs of every process carry the same trace id for this order: each served call's line
    // (written by the engine, at debug) and the handlers' own records (Python logging, C).
    const records = (p) => p.errLines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const logged = (p, msg) => records(p).find((r) => r.msg.startsWith(msg));
    for (const [p, name, call, span] of [
      [py, 'py-inventory', 'inventory/reserve completed', chain[1].span],
      [c, 'c-shipping', 'shipping/ship completed', chain[3].span],
    ]) {
      const r = logged(p, call);
      assert.ok(r, `${name} logged "${call}": ${p.errLines.join('\n')}`);
      assert.equal(r.trace_id, T);
      assert.equal(r.span_id, span, "the call's line names its server span");
      assert.equal(r.level, 20);
      assert.equal(r.name, name);
    }
    assert.equal(logged(py, 'reserving sku-7')?.trace_id, T);
    assert.equal(logged(py, 'reserving sku-7')?.method, 'reserve');
    assert.equal(logged(c, 'shipping')?.trace_id, T);
    assert.equal(logged(c, 'shipping')?.service, 'shipping');
    await until('the Rust service to log its call', () => logged(rust, 'calc/add completed') !== undefined);
    assert.equal(logged(rust, 'calc/add completed').trace_id, T);
  } finally {
    for (const ch of children) ch.kill();
    receiver.stdin.end();
    await hub.close();
  }
});
