// RPC from Node through @omnitron-dev/native to a Node process, next to child_process IPC
// (process.send) and worker_threads postMessage, in one run: calls/s and p50/p99 with one call in
// flight and with 64; then events/s from this process to a subscriber in the other; then Node to a
// Python service and a Python client to this Node service (no peer does these; figures only).
import { fork, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as omni from '@omnitron-dev/native';
import { measureInFlight } from './harness.js';

const TOKEN = 'bench';
const here = import.meta.dirname;
const root = resolve(here, '..', '..', '..');

interface Run {
  rate: number;
  p50: number;
  p99: number;
}

async function measure(inFlight: number, total: number, call: () => Promise<unknown>): Promise<Run> {
  for (let i = 0; i < 2000; i++) await call();
  return measureInFlight(inFlight, total, call);
}

function row(name: string, r: Run): void {
  console.log(name.padEnd(40) + r.rate.toFixed(0).padStart(10) + r.p50.toFixed(1).padStart(10) + r.p99.toFixed(1).padStart(10));
}

function waitReady(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((res, rej) => {
    child.stdout!.on('data', (d) => String(d).includes('ready') && res());
    child.on('exit', (c) => rej(new Error(`server exited ${c}`)));
  });
}

// ---- Omnitron --------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'omni-bench-'));
const address = `unix:${dir}/private/node.sock`;
const server = spawn(process.execPath, [join(here, 'rpc_server.js'), 'omni', address, TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] });
await waitReady(server);
const client = await omni.Peer.connect(address, { token: TOKEN });
const echo = () => client.call('echo@1.0.0', 'echo', [42]);
// The same with busy polling off at both ends (this process's loop while it runs, and a server
// started with OMNITRON_BUSY_POLL_US=0).
const quietAddress = `unix:${dir}/private/quiet.sock`;
const quietServer = spawn(process.execPath, [join(here, 'rpc_server.js'), 'omni', quietAddress, TOKEN], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, OMNITRON_BUSY_POLL_US: '0' },
});
await waitReady(quietServer);
const quietClient = await omni.Peer.connect(quietAddress, { token: TOKEN });
const quietEcho = () => quietClient.call('echo@1.0.0', 'echo', [42]);
// This loop's polling (it reads Omnitron connections) would also catch the peers' messages: it is
// off while they run, as it would be in a process without Omnitron.
const POLL = omni.busyPoll();
const polling = async <T>(us: number, f: () => Promise<T>): Promise<T> => {
  omni.busyPoll(us);
  try {
    return await f();
  } finally {
    omni.busyPoll(POLL);
  }
};

// ---- child_process IPC -----------------------------------------------------------------------
const ipc = fork(join(here, 'rpc_server.js'), ['ipc'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const ipcPending = new Map<number, (v: unknown) => void>();
ipc.on('message', (m: any) => {
  ipcPending.get(m.id)?.(m.x);
  ipcPending.delete(m.id);
});
let ipcId = 0;
const ipcCall = () =>
  new Promise((res) => {
    const id = ipcId++;
    ipcPending.set(id, res);
    ipc.send({ id, x: 42 });
  });

// ---- worker_threads --------------------------------------------------------------------------
const worker = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));`, { eval: true });
const wPending = new Map<number, (v: unknown) => void>();
worker.on('message', (m: any) => {
  wPending.get(m.id)?.(m.x);
  wPending.delete(m.id);
});
let wId = 0;
const workerCall = () =>
  new Promise((res) => {
    const id = wId++;
    wPending.set(id, res);
    worker.postMessage({ id, x: 42 });
  });

const ROUNDS = 5;
console.log(`RPC from Node to another process (Node ${process.version}; median of ${ROUNDS} interleaved rounds)`);
console.log('case'.padEnd(40) + 'calls/s'.padStart(10) + 'p50 us'.padStart(10) + 'p99 us'.padStart(10));
const results: Record<string, Run> = {};
const median = (runs: Run[]) => runs.sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)];
for (const [inFlight, total] of [
  [1, 5_000],
  [64, 60_000],
] as const) {
  // Rounds interleaved, the median (by rate) kept: this machine's noise hits all three alike.
  const runs: Record<string, Run[]> = { omnitron: [], quiet: [], ipc: [], worker: [] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.omnitron.push(await measure(inFlight, total, echo));
    runs.quiet.push(await polling(0, () => measure(inFlight, total, quietEcho)));
    runs.ipc.push(await polling(0, () => measure(inFlight, total, ipcCall)));
    runs.worker.push(await polling(0, () => measure(inFlight, total, workerCall)));
  }
  for (const k of Object.keys(runs)) results[`${k} ${inFlight}`] = median(runs[k]);
  row(`omnitron call, ${inFlight} in flight`, results[`omnitron ${inFlight}`]);
  row(`  same, busy polling off`, results[`quiet ${inFlight}`]);
  row(`child_process IPC, ${inFlight} in flight`, results[`ipc ${inFlight}`]);
  row(`worker_threads postMessage, ${inFlight} in flight`, results[`worker ${inFlight}`]);
}
const r = (a: string, b: string) => (results[a].rate / results[b].rate).toFixed(2);
console.log(
  `\nomnitron vs child_process IPC: ${r('omnitron 64', 'ipc 64')}x with 64 in flight (goal >= 2x); p50 with 1 in flight ${results['omnitron 1'].p50.toFixed(1)} vs ${results['ipc 1'].p50.toFixed(1)} us`,
);
console.log(
  `omnitron vs worker_threads: ${r('omnitron 64', 'worker 64')}x with 64 in flight (goal >= 2x); p50 with 1 in flight ${results['omnitron 1'].p50.toFixed(1)} vs ${results['worker 1'].p50.toFixed(1)} us`,
);

// ---- events: this process publishes, the server counts -----------------------------------------
{
  const N = 200_000;
  const counted = new Promise<number>((res) => client.subscribe('bench-count', (n) => res(n as number)));
  await new Promise((r2) => setTimeout(r2, 100));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) client.publish('bench.tick', i);
  client.publish('bench-done', null);
  const n = await counted;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`\nevents from Node to a Node subscriber in another process: ${(n / secs).toFixed(0)} events/s (${n} of ${N} delivered)`);
  const ipcN = 200_000;
  let got = 0;
  const done = new Promise<void>((res) => {
    const h = () => {
      if (++got === ipcN) {
        ipc.off('message', h);
        res();
      }
    };
    ipc.on('message', h);
  });
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < ipcN; i++) ipc.send({ id: -1, x: i });
  await done;
  const ipcSecs = Number(process.hrtime.bigint() - t1) / 1e9;
  console.log(`child_process IPC streaming (sent and echoed): ${(ipcN / ipcSecs).toFixed(0)} messages/s`);
}

// ---- Node <-> Python --------------------------------------------------------------------------
{
  const python = join(root, '.venv/bin/python');
  const pyAddr = `unix:${dir}/private/py.sock`;
  const py = spawn(python, [join(root, 'benches/python/rpc_peer.py'), 'serve', pyAddr, TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] });
  await waitReady(py);
  const toPy = await omni.Peer.connect(pyAddr, { token: TOKEN });
  const p1 = await measure(1, 5_000, () => toPy.call('echo@1.0.0', 'echo', [42]));
  const p64 = await measure(64, 50_000, () => toPy.call('echo@1.0.0', 'echo', [42]));
  row('Node -> Python service, 1 in flight', p1);
  row('Node -> Python service, 64 in flight', p64);
  await toPy.close();
  py.kill();
  const pyClient = spawn(python, [join(root, 'benches/python/rpc_peer.py'), 'call', address, TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  pyClient.stdout!.on('data', (d) => (out += d));
  await new Promise((res) => pyClient.on('exit', res));
  process.stdout.write(out);
}

await client.close();
await quietClient.close();
server.kill();
quietServer.kill();
ipc.kill();
await worker.terminate();
