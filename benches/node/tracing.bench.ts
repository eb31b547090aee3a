// What tracing costs an RPC call from Node, next to what the official OpenTelemetry SDK costs the
// call a Node user would otherwise make (child_process IPC, process.send), in one run:
//   Omnitron: tracing off; on with a sampling ratio of 0; on with every call exported (OTLP/HTTP).
//   IPC: plain; with @opentelemetry/sdk-trace-node spans on both sides (W3C context in the
//   message, BatchSpanProcessor, OTLP/HTTP protobuf exporter) exporting every call.
// Every process exports to one collector here (a sink that reads and acknowledges each POST).
// Each measurement is a fresh client process (a process sets tracing up once); modes are
// interleaved round by round and the median round kept. `node dist/tracing.bench.js`.
import { fork, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureInFlight } from './harness.js';

const here = import.meta.dirname;
const self = join(here, 'tracing.bench.js');
const TOKEN = 'bench';
const [role, mode, arg1, arg2] = process.argv.slice(2);

type Mode = 'omni-off' | 'omni-ratio0' | 'omni-all' | 'ipc' | 'ipc-otel';

async function otelSdk(service: string): Promise<void> {
  const { NodeTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const exporter = new OTLPTraceExporter({ url: `${process.env.BENCH_SINK}/v1/traces` });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65536, scheduledDelayMillis: 1000 })],
  });
  provider.register();
  (globalThis as any).benchProvider = provider;
}

if (role === 'server') {
  // ---- a server process: Omnitron echo, or IPC echo (with or without the SDK) ----------------
  if (mode === 'ipc' || mode === 'ipc-otel') {
    if (mode === 'ipc-otel') {
      await otelSdk('ipc-server');
      const api = await import('@opentelemetry/api');
      const tracer = api.trace.getTracer('bench');
      process.on('message', (m: any) => {
        const parent = api.propagation.extract(api.ROOT_CONTEXT, { traceparent: m.tp });
        const span = tracer.startSpan('echo/echo', { kind: api.SpanKind.SERVER }, parent);
        process.send!({ id: m.id, x: m.x });
        span.end();
      });
    } else {
      process.on('message', (m: any) => process.send!(m));
    }
  } else {
    const omni = await import('@omnitron-dev/native');
    class Echo {
      echo(x: unknown): unknown {
        return x;
      }
    }
    omni.Service('echo@1.0.0')(Echo);
    omni.Public()(Echo.prototype, 'echo', Object.getOwnPropertyDescriptor(Echo.prototype, 'echo')!);
    const peer = await omni.Peer.listen(arg1, { name: 'bench-server', token: TOKEN });
    await peer.expose(new Echo());
    console.log('ready');
  }
} else if (role === 'client') {
  // ---- a client process: one measurement, printed as JSON -------------------------------------
  const [inFlight, total] = [Number(arg1), Number(arg2)];
  let call: () => Promise<unknown>;
  let stop: () => Promise<void>;
  if (mode === 'ipc' || mode === 'ipc-otel') {
    const child = fork(self, ['server', mode], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const pending = new Map<number, (v: unknown) => void>();
    child.on('message', (m: any) => {
      pending.get(m.id)?.(m.x);
      pending.delete(m.id);
    });
    let id = 0;
    if (mode === 'ipc-otel') {
      await otelSdk('ipc-client');
      const api = await import('@opentelemetry/api');
      const tracer = api.trace.getTracer('bench');
      call = () => {
        const span = tracer.startSpan('echo/echo', { kind: api.SpanKind.CLIENT });
        const carrier: Record<string, string> = {};
        api.propagation.inject(api.trace.setSpan(api.context.active(), span), carrier);
        return new Promise((res) => {
          const n = id++;
          pending.set(n, (v) => {
            span.end();
            res(v);
          });
          child.send({ id: n, x: 42, tp: carrier.traceparent });
        });
      };
    } else {
      call = () =>
        new Promise((res) => {
          const n = id++;
          pending.set(n, res);
          child.send({ id: n, x: 42 });
        });
    }
    stop = async () => {
      await (globalThis as any).benchProvider?.forceFlush();
      child.kill();
    };
  } else {
    const omni = await import('@omnitron-dev/native');
    const address = `unix:${mkdtempSync(join(tmpdir(), 'omni-tb-'))}/private/s.sock`;
    const server = spawn(process.execPath, [self, 'server', mode, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => server.stdout!.on('data', (d) => String(d).includes('ready') && res()));
    const client = await omni.Peer.connect(address, { name: 'bench-client', token: TOKEN });
    call = () => client.call('echo@1.0.0', 'echo', [42]);
    stop = async () => {
      await client.close();
      server.kill();
    };
  }
  for (let i = 0; i < 2000; i++) await call();
  const r = await measureInFlight(inFlight, total, call);
  await stop();
  console.log(JSON.stringify(r));
  process.exit(0);
} else {
  // ---- the orchestrator ---------------------------------------------------------------------
  let posts = 0;
  const sink = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      posts++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  const envs: Record<Mode, Record<string, string>> = {
    'omni-off': {},
    'omni-ratio0': { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
    'omni-all': { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_MAX_QUEUE_SIZE: '65536' },
    ipc: {},
    'ipc-otel': { BENCH_SINK: endpoint },
  };
  // BENCH_MODES=omni-off,omni-ratio0 and BENCH_IN_FLIGHT=64 narrow a run (when tuning one case).
  const only = process.env.BENCH_MODES?.split(',');
  const modes = (Object.keys(envs) as Mode[]).filter((m) => !only || only.includes(m));
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
  const runOne = (m: Mode, inFlight: number, total: number) =>
    new Promise<{ rate: number; p50: number }>((res, rej) => {
      const c = spawn(process.execPath, [self, 'client', m, String(inFlight), String(total)], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ...envs[m] },
      });
      let out = '';
      c.stdout!.on('data', (d) => (out += d));
      c.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!)) : rej(new Error(`${m} exited ${code}`))));
    });
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  console.log(`Tracing's cost on an RPC call from Node (${ROUNDS} rounds, interleaved, median)`);
  console.log('case'.padEnd(44) + 'in flight'.padStart(10) + 'calls/s'.padStart(12) + 'p50 us'.padStart(10) + 'cost'.padStart(10));
  for (const [inFlight, total] of [
    [1, 10_000],
    [64, 100_000],
  ].filter(([n]) => !process.env.BENCH_IN_FLIGHT || Number(process.env.BENCH_IN_FLIGHT) === n)) {
    const rates: Record<string, number[]> = {};
    const p50s: Record<string, number[]> = {};
    for (let r = 0; r < ROUNDS; r++) {
      for (const m of modes) {
        const got = await runOne(m, inFlight, total);
        (rates[m] ??= []).push(got.rate);
        (p50s[m] ??= []).push(got.p50);
      }
    }
    const names: Record<Mode, [string, Mode]> = {
      'omni-off': ['omnitron, tracing off', 'omni-off'],
      'omni-ratio0': ['omnitron, tracing on, ratio 0', 'omni-off'],
      'omni-all': ['omnitron, every call exported', 'omni-off'],
      ipc: ['child_process IPC', 'ipc'],
      'ipc-otel': ['IPC + OpenTelemetry SDK, every call exported', 'ipc'],
    };
    for (const m of modes) {
      const [name, base] = names[m];
      const rate = median(rates[m]);
      const cost = m === base ? '' : `${(100 * (1 - rate / median(rates[base]))).toFixed(1)}%`;
      console.log(name.padEnd(44) + String(inFlight).padStart(10) + rate.toFixed(0).padStart(12) + median(p50s[m]).toFixed(1).padStart(10) + cost.padStart(10));
    }
  }
  console.log(`export requests the collector took: ${posts}`);
  sink.close();
}
