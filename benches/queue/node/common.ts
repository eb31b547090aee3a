// What the Node runners (bullmq.ts, omnitron.ts) share: the command line, the clocks and the cases'
// skeletons, so that both measure the same thing the same way. Each runner is one process per case:
//   node dist/<runner>.js <case> --store <url> [--n N] [--concurrency C] [--seconds S]
// and prints one JSON line (see ../run.py for the cases).

import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Args {
  case: string;
  store: string;
  n: number;
  concurrency: number;
  seconds: number;
}

export function args(): Args {
  const [kase, ...rest] = process.argv.slice(2);
  const a: Args = { case: kase ?? '', store: '', n: 10_000, concurrency: 1, seconds: 6 };
  for (let i = 0; i < rest.length; i += 2) {
    const v = rest[i + 1];
    switch (rest[i]) {
      case '--store': a.store = v; break;
      case '--n': a.n = Number(v); break;
      case '--concurrency': a.concurrency = Number(v); break;
      case '--seconds': a.seconds = Number(v); break;
      default: throw new Error(`unknown option ${rest[i]}`);
    }
  }
  if (!a.case || !a.store) throw new Error('usage: <case> --store <url> [--n N] [--concurrency C] [--seconds S]');
  return a;
}

/** The trivial jobs every case adds. */
export function jobs(n: number): { name: string; data: { i: number } }[] {
  return Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i } }));
}

/**
 * This process's CPU time, ms: the time on CPU of each of its threads, in nanoseconds, from
 * /proc/self/task/<tid>/schedstat (/proc/self/stat counts 10 ms ticks, too coarse for a few seconds).
 */
export function cpuMs(): number {
  let ns = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      ns += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return ns / 1e6;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function done(result: object): never {
  console.log(JSON.stringify(result));
  process.exit(0);
}

export function rate(n: number, t0: bigint): { rate: number } {
  return { rate: n / (Number(process.hrtime.bigint() - t0) / 1e9) };
}

/** Times `n` jobs added one after another, each awaited. */
export async function addOne(n: number, add: (i: number) => Promise<unknown>): Promise<{ rate: number }> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await add(i);
  return rate(n, t0);
}

/**
 * Times a worker from its start until the store holds all `n` prefilled jobs as completed:
 * `start(onRan)` starts it with a handler that calls `onRan` once per job; `completed()` asks the store.
 */
export async function processAll(n: number, start: (onRan: () => void) => unknown, completed: () => Promise<number>): Promise<{ rate: number }> {
  let ran = 0;
  let allRan!: () => void;
  const all = new Promise<void>((r) => (allRan = r));
  const t0 = process.hrtime.bigint();
  start(() => {
    if (++ran === n) allRan();
  });
  await all;
  while ((await completed()) < n) await sleep(0.5);
  return rate(n, t0);
}

const PICKUP_GAP_MS = 5;
const PICKUP_WARMUP = 20;

/**
 * Idle pickup: a worker in a child process (this script with `pickup-worker`) reports, per job,
 * CLOCK_MONOTONIC at its handler's start less the `t0` the job carries. `add(t0)` adds one job.
 */
export async function pickup(n: number, add: (t0: string) => Promise<unknown>): Promise<object> {
  const child = fork(process.argv[1], ['pickup-worker', ...process.argv.slice(3)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const next = messages(child);
  if ((await next()) !== 'ready') throw new Error('the pickup worker did not start');
  await sleep(300);
  const samples: number[] = [];
  for (let i = 0; i < n + PICKUP_WARMUP; i++) {
    await add(process.hrtime.bigint().toString());
    const ns = Number(await next());
    if (i >= PICKUP_WARMUP) samples.push(ns / 1000);
    await sleep(PICKUP_GAP_MS);
  }
  child.kill('SIGKILL');
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))];
  return { p50_us: pct(0.5), p99_us: pct(0.99), samples: samples.length };
}

/** In the pickup worker: what its handler runs first. */
export function reportPickup(t0: string): void {
  process.send!((process.hrtime.bigint() - BigInt(t0)).toString());
}

function messages(child: ChildProcess): () => Promise<unknown> {
  const queued: unknown[] = [];
  let waiting: ((m: unknown) => void) | undefined;
  child.on('message', (m) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(m);
    } else queued.push(m);
  });
  child.on('exit', (code) => waiting?.(`exited ${code}`));
  return () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((r) => (waiting = r)));
}

/**
 * A kept lease's cost: this process's CPU per second over `seconds` with `held` jobs in flight
 * (their handlers never end), less the process's own before the worker started (over half as
 * long). `start(onHeld)` starts the worker; `fill()` adds the jobs.
 */
export async function leaseCost(held: number, seconds: number, start: (onHeld: () => void) => unknown, fill: () => Promise<unknown>): Promise<object> {
  await sleep(500);
  const base = await cpuPerSecond((seconds * 1000) / 2);
  let n = 0;
  start(() => n++);
  await fill();
  while (n < held) await sleep(10);
  await sleep(1000);
  const busy = await cpuPerSecond(seconds * 1000);
  return { cpu_ms_per_s: busy - base, base_ms_per_s: base, jobs: held };
}

async function cpuPerSecond(ms: number): Promise<number> {
  const c0 = cpuMs();
  await sleep(ms);
  return ((cpuMs() - c0) * 1000) / ms;
}
