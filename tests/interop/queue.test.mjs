// One queue, two languages: jobs added by Node are run by a Python worker and the other way round,
// on the embedded store (one SQLite file) and on Redis. The payload is MessagePack, so each side
// reads the other's data and results as its own values. Run by `make interop-test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const { Queue, Worker, QueueProcessor, OnQueueEvent, Module, Omnitron, Injectable, Interval } = require(join(root, 'bindings/node'));
const PYTHON = process.env.OMNITRON_PYTHON ?? join(root, '.venv/bin/python');
const N = 20;

function python(...args) {
  const child = spawn(PYTHON, [join(root, 'tests/interop/py_queue.py'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onReady;
  child.ready = new Promise((resolve) => (onReady = resolve));
  child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('ready')) onReady();
  });
  child.done = new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 && out.includes('done') ? resolve(out) : reject(new Error(`python ${args[0]} exited with ${code}: ${out}`)))),
  );
  return child;
}

const stores = [
  ['the embedded store', () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'omni-queue-interop-')), 'q.db')}`],
  ['Redis', () => `redis://127.0.0.1:6379/0?prefix=omni-interop-${process.pid}-${Math.floor(Math.random() * 1e9)}`],
];

function dropKeys(store) {
  const prefix = new URL(store).searchParams.get('prefix');
  if (!prefix) return;
  const keys = execFileSync('redis-cli', ['--scan', '--pattern', `${prefix}:*`]).toString().split('\n').filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) execFileSync('redis-cli', ['del', ...keys.slice(i, i + 500)]);
}

for (const [where, make] of stores) {
  test(`jobs added by Node are run by Python, on ${where}`, { timeout: 60_000 }, async () => {
    const store = make();
    try {
      const q = await Queue.open('to-python', { store });
      await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'double', data: { n: i, from: 'node' }, opts: { id: `node-${i}` } })));
      await python('work', store, 'to-python', String(N)).done;
      for (let i = 0; i < N; i++) {
        const job = await q.getJob(`node-${i}`);
        assert.equal(job.state, 'completed');
        assert.deepEqual(job.result, { by: 'python', double: i * 2, from: 'node' });
      }
    } finally {
      if (store.startsWith('redis')) dropKeys(store);
    }
  });

  test(`jobs added by Python are run by Node, on ${where}`, { timeout: 60_000 }, async () => {
    const store = make();
    try {
      await python('add', store, 'to-node', String(N)).done;
      const q = await Queue.open('to-node', { store });
      const seen = [];
      const all = new Promise((resolve) => q.on('completed', () => seen.length === N && resolve()));
      const w = new Worker(q, (job) => {
        seen.push(job.data);
        return { by: 'node', double: job.data.n * 2 };
      }, { concurrency: 4, pollInterval: 20 });
      await all;
      await w.close();
      assert.deepEqual(seen.map((d) => d.n).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
      assert.ok(seen.every((d) => d.from === 'python'));
      assert.deepEqual((await q.getJob('py-3')).result, { by: 'node', double: 6 });
    } finally {
      if (store.startsWith('redis')) dropKeys(store);
    }
  });
}

// Events cross processes and languages: @OnQueueEvent handlers hear the workers of the other side.
for (const [where, make] of stores) {
  test(`a Python @on_queue_event handler hears a Node worker's completions, on ${where}`, { timeout: 60_000 }, async () => {
    const store = make();
    try {
      const listener = python('listen', store, 'heard-by-python', String(N));
      await listener.ready;
      const q = await Queue.open('heard-by-python', { store });
      const w = new Worker(q, (job) => ({ by: 'node', n: job.data }), { concurrency: 4, pollInterval: 20 });
      await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'j', data: i, opts: { id: `n-${i}` } })));
      const out = await listener.done;
      await w.close();
      const heard = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      assert.deepEqual(heard.map((e) => e.id).sort(), Array.from({ length: N }, (_, i) => `n-${i}`).sort());
      for (const e of heard) assert.deepEqual(e.result, { by: 'node', n: Number(e.id.slice(2)) });
    } finally {
      if (store.startsWith('redis')) dropKeys(store);
    }
  });

  test(`a Node @OnQueueEvent handler hears a Python worker's completions, on ${where}`, { timeout: 60_000 }, async () => {
    const store = make();
    try {
      const heard = [];
      class Listener {
        completed(e) {
          heard.push(e);
        }
      }
      OnQueueEvent('completed')(Listener.prototype, 'completed', Object.getOwnPropertyDescriptor(Listener.prototype, 'completed'));
      QueueProcessor('heard-by-node')(Listener);
      class AppModule {}
      Module({ providers: [Listener] })(AppModule);
      const app = await Omnitron.create(AppModule, { queues: { store } });
      const q = await Queue.open('heard-by-node', { store });
      await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'double', data: { n: i, from: 'node' }, opts: { id: `p-${i}` } })));
      await python('work', store, 'heard-by-node', String(N)).done;
      const deadline = Date.now() + 20_000;
      while (heard.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await app.close();
      assert.deepEqual(heard.map((e) => e.id).sort(), Array.from({ length: N }, (_, i) => `p-${i}`).sort());
      assert.ok(heard.every((e) => e.event === 'completed' && e.result.by === 'python'));
    } finally {
      if (store.startsWith('redis')) dropKeys(store);
    }
  });
}

// Two applications declaring different schedules share one store: each runs its own, and neither
// takes (and fails) the other's firings.
for (const [where, make] of stores) {
  test(`a Node and a Python application with different schedules share ${where}`, { timeout: 60_000 }, async () => {
    const store = make();
    try {
      let ticks = 0;
      class NodeTicker {
        tick() {
          ticks++;
        }
      }
      Interval(1000)(NodeTicker.prototype, 'tick', Object.getOwnPropertyDescriptor(NodeTicker.prototype, 'tick'));
      Injectable()(NodeTicker);
      class TickModule {}
      Module({ providers: [NodeTicker] })(TickModule);
      const app = await Omnitron.create(TickModule, { queues: { store } });
      const py = python('tick', store, '-', '2');
      await py.done;
      const deadline = Date.now() + 20_000;
      while (ticks < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await app.close();
      assert.ok(ticks >= 2, `the Node schedule ran ${ticks} times`);
      for (const name of ['cron:NodeTicker.tick', 'cron:PyTicker.tick']) {
        const counts = await (await Queue.open(name, { store })).getCounts();
        assert.ok(counts.completed >= 1, `${name}: ${JSON.stringify(counts)}`);
        assert.equal(counts.dead, 0, `${name}: ${JSON.stringify(counts)}`);
        const failed = await (await Queue.open(name, { store })).getDead();
        assert.deepEqual(failed, []);
      }
    } finally {
      if (store.startsWith('redis')) dropKeys(store);
    }
  });
}

// `omnitron.yaml`'s spec-3.1 keys act by themselves in the processes `omnitron start` runs: a Python
// process whose code declares nothing fires the `cronJobs:` entry, a Node `@QueueProcessor('cron')`
// runs its firings, and a Node processor that sets no options in code takes the process's
// `concurrency` (4, not 1), bounded by its queue's `concurrency` entry (2).
test("omnitron.yaml's queues: and cronJobs: reach the Node and Python processes omnitron start runs", { timeout: 90_000 }, async () => {
  const bin = process.env.OMNITRON_BIN ?? join(root, 'target/x86_64-unknown-linux-gnu/debug/omnitron');
  const dir = mkdtempSync(join(tmpdir(), 'omni-yaml-queues-'));
  const app = `yaml-queues-${process.pid}`;
  writeFileSync(
    join(dir, 'omnitron.yaml'),
    `name: ${app}
queueStore: sqlite:queues.db
processes:
  scheduler:
    type: scheduler
    command: ${PYTHON} ${join(root, 'tests/interop/py_queue.py')} deployed
    cronJobs:
      - every: 1s
        handler: jobs/tick
  queue:
    type: queue
    command: ${process.execPath} ${join(root, 'tests/interop/node_yaml_app.mjs')}
    concurrency: 4
    queues:
      - name: yaml-slow
        concurrency: 2
`,
  );
  const supervisor = spawn(bin, ['start', join(dir, 'omnitron.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  supervisor.stdout.on('data', (d) => (out += d));
  supervisor.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => supervisor.on('exit', resolve));
  try {
    const store = `sqlite:${join(dir, 'queues.db')}`;
    const slow = await Queue.open('yaml-slow', { store });
    await slow.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'slow', data: i, opts: { id: `s-${i}` } })));
    const cron = await Queue.open('cron', { store });
    const deadline = Date.now() + 60_000;
    const settled = async () => (await slow.getCounts()).completed === 6 && (await cron.getCounts()).completed >= 2;
    while (!(await settled()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(await settled(), `slow: ${JSON.stringify(await slow.getCounts())}, cron: ${JSON.stringify(await cron.getCounts())}\n${out}`);
    const most = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await slow.getJob(`s-${i}`)).result));
    assert.equal(Math.max(...most), 2, `most running at once, per job: ${most}`);
    assert.equal((await cron.getCounts()).dead, 0);
  } finally {
    supervisor.kill('SIGTERM');
    await exited;
  }
});
