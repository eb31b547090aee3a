// Process pools: trivial tasks/s through a pool of 2 Node worker processes (@omnitron-dev/native)
// next to piscina with 2 worker threads and a hand-written child_process.fork pool of 2 (process.send,
// round-robin), with one task in flight (rate and p50 latency) and with 256 in flight; a map of
// 20,000 items (chunked, and one call per item) against a task per item; then spawn-to-ready of one
// Node, Python and Rust child. Cases are interleaved in rounds; the median
// round is kept.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Piscina } from 'piscina';
import * as omni from '@omnitron-dev/native';
import { measureInFlight } from './harness.js';

const here = import.meta.dirname;
const root = resolve(here, '..', '..', '..');
const ROUNDS = 5;

interface Run {
  rate: number;
  p50: number;
}

async function measure(inFlight: number, total: number, call: () => Promise<unknown>): Promise<Run> {
  return measureInFlight(inFlight, total, call);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- Omnitron: a pool of 2 Node worker processes ------------------------------------------------
const pool = await omni.Pool.start<{ echo(x: number): number }>({
  service: (await import('./pool_worker.js')).Echo,
  module: join(here, 'pool_worker.js'),
  size: 2,
  concurrency: 256,
});
const omniCall = () => pool.exec('echo', 42);

// ---- piscina: 2 worker threads ------------------------------------------------------------------
const piscina = new Piscina({ filename: join(here, 'pool_piscina.js'), minThreads: 2, maxThreads: 2 });
const piscinaCall = () => piscina.run(42);

// ---- a hand-written child_process.fork pool of 2 ------------------------------------------------
const children: ChildProcess[] = [0, 1].map(() => fork(join(here, 'pool_fork.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
const forkPending = new Map<number, (v: unknown) => void>();
for (const c of children) {
  c.on('message', (m: any) => {
    forkPending.get(m.id)?.(m.x);
    forkPending.delete(m.id);
  });
}
let forkId = 0;
const forkCall = () =>
  new Promise((res) => {
    const id = forkId++;
    forkPending.set(id, res);
    children[id & 1].send({ id, x: 42 });
  });

const cases: [string, () => Promise<unknown>][] = [
  ['omnitron pool', omniCall],
  ['piscina', piscinaCall],
  ['fork pool', forkCall],
];
// This loop's busy polling (it reads the pool's connections) would also catch the other pools'
// messages: it is off while they run, as it would be in a process without Omnitron.
const POLL = omni.busyPoll();
const pollFor = (name: string) => omni.busyPoll(name === 'omnitron pool' ? POLL : 0);
for (const [name, f] of cases) {
  pollFor(name);
  await measure(16, 20_000, f); // warm-up
}

console.log(`Process pools of 2, trivial echo task (Node ${process.version}), median of ${ROUNDS} interleaved rounds`);
console.log('case'.padEnd(36) + 'tasks/s'.padStart(12) + 'p50 us'.padStart(10));
const results: Record<string, Run> = {};
for (const [inFlight, total] of [
  [1, 10_000],
  [256, 200_000],
] as const) {
  const rounds: Record<string, Run[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, f] of cases) {
      pollFor(name);
      (rounds[name] ??= []).push(await measure(inFlight, total, f));
    }
  }
  for (const [name] of cases) {
    const runs = rounds[name];
    const res = { rate: median(runs.map((x) => x.rate)), p50: median(runs.map((x) => x.p50)) };
    results[`${name} ${inFlight}`] = res;
    console.log(`${name}, ${inFlight} in flight`.padEnd(36) + res.rate.toFixed(0).padStart(12) + res.p50.toFixed(1).padStart(10));
  }
}
const ratio = (a: string, b: string) => (results[a].rate / results[b].rate).toFixed(2);
console.log(
  `\nomnitron vs piscina: ${ratio('omnitron pool 256', 'piscina 256')}x with 256 in flight (goal >= 1.5x); ` +
    `p50 with 1 in flight ${results['omnitron pool 1'].p50.toFixed(1)} vs ${results['piscina 1'].p50.toFixed(1)} us (goal: lower)`,
);
console.log(
  `omnitron vs fork pool: ${ratio('omnitron pool 256', 'fork pool 256')}x with 256 in flight; ` +
    `p50 with 1 in flight ${results['omnitron pool 1'].p50.toFixed(1)} vs ${results['fork pool 1'].p50.toFixed(1)} us`,
);
// ---- map over many items: chunks (one message per chunk) against a task per item -----------------
const MAP_ITEMS = 20_000;
const items = Array.from({ length: MAP_ITEMS }, (_, i) => i);
const mapCases: [string, () => Promise<unknown>][] = [
  ['omnitron pool.map (chunks)', () => pool.map(items, 'echo')],
  ['omnitron pool.map (chunksize 1)', () => pool.map(items, 'echo', { chunksize: 1 })],
  ['piscina, a run() per item', () => Promise.all(items.map((x) => piscina.run(x)))],
  ['fork pool, a send() per item', () => Promise.all(items.map(() => forkCall()))],
];
const mapRounds: Record<string, number[]> = {};
for (let r = 0; r <= ROUNDS; r++) {
  for (const [name, f] of mapCases) {
    pollFor(name.startsWith('omnitron') ? 'omnitron pool' : name);
    const t0 = process.hrtime.bigint();
    await f();
    const rate = MAP_ITEMS / (Number(process.hrtime.bigint() - t0) / 1e9);
    if (r > 0) (mapRounds[name] ??= []).push(rate); // round 0 warms up
  }
}
console.log(`
map of ${MAP_ITEMS.toLocaleString('en')} items (items/s, median of ${ROUNDS} interleaved rounds)`);
const mapChunks = median(mapRounds[mapCases[0][0]]);
for (const [name] of mapCases) {
  const rate = median(mapRounds[name]);
  console.log(name.padEnd(36) + rate.toFixed(0).padStart(12) + (name === mapCases[0][0] ? '' : `   chunks ${(mapChunks / rate).toFixed(2)}x`));
}

await pool.stop();
await piscina.destroy();
for (const c of children) c.kill();

// ---- spawn to ready ------------------------------------------------------------------------------
async function spawnToReady(name: string, opts: omni.PoolOptions): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    const p = await omni.Pool.start({ ...opts, size: 1 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await p.stop();
  }
  console.log(`${name}`.padEnd(36) + `${median(times).toFixed(1)} ms`.padStart(12));
}
console.log('\nspawn to ready, one child (median of 5)');
await spawnToReady('Node (omnitron-node-worker)', { service: (await import('./pool_worker.js')).Echo, module: join(here, 'pool_worker.js') });
const python = join(root, '.venv/bin/python');
if (existsSync(python)) {
  const dir = mkdtempSync(join(tmpdir(), 'omni-pool-bench-'));
  writeFileSync(
    join(dir, 'echo_worker.py'),
    'from omnitron import public, service\n\n@service("echo@1.0.0")\nclass Echo:\n    @public\n    def echo(self, x):\n        return x\n',
  );
  await spawnToReady('Python (python -m omnitron.worker)', { command: [python, '-m', 'omnitron.worker', 'echo_worker:Echo'], cwd: dir });
}
const rust = [join(root, 'target/x86_64-unknown-linux-gnu/release/calc-worker'), join(root, 'target/x86_64-unknown-linux-gnu/debug/calc-worker')].find(existsSync);
if (rust) await spawnToReady(`Rust (calc-worker, ${rust.includes('release') ? 'release' : 'debug'})`, { command: rust });
