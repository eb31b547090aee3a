// Workflow runs/s from Node: a four-stage saga (reserve -> pay -> ship -> notify, three
// compensations, JSON values, stages as in-process async functions) through the engine with an
// in-memory journal and with a SQLite file, next to the same four steps as a plain async function
// chain, in one run. 64 runs in flight and 1 at a time; interleaved rounds, median kept.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowEngine, defineWorkflow } from '@omnitron-dev/native';

type Order = { id: number; sku: string; qty: number };

const reserve = async (o: Order) => ({ reservation: `r-${o.id}`, qty: o.qty });
const pay = async (r: { reservation: string; qty: number }) => ({ payment: `p-${r.reservation}`, amount: r.qty * 10 });
const ship = async (p: { payment: string }) => ({ shipment: `s-${p.payment}` });
const notify = async (s: { shipment: string }) => ({ sent: s.shipment });
const undo = async () => {};

async function plain(o: Order): Promise<unknown> {
  const r = await reserve(o);
  const p = await pay(r);
  const s = await ship(p);
  return { reserve: r, pay: p, ship: s, notify: await notify(s) };
}

const saga = defineWorkflow('saga')
  .stage('reserve', reserve)
  .stage('pay', pay, { dependsOn: 'reserve' })
  .stage('ship', ship, { dependsOn: 'pay' })
  .stage('notify', notify, { dependsOn: 'ship' })
  .compensate('reserve', undo)
  .compensate('pay', undo)
  .compensate('ship', undo)
  .build();

/** Runs/s doing `total` runs with `inFlight` at a time. */
async function rate(inFlight: number, total: number, one: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) await one(next++);
    }),
  );
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'omni-wf-bench-'));
  const memory = WorkflowEngine.inMemory();
  const file = await WorkflowEngine.open(join(dir, 'journal.db'));
  memory.register(saga);
  file.register(saga);
  const order = (i: number): Order => ({ id: i, sku: 'book', qty: 1 + (i % 5) });
  const cases: [string, (i: number) => Promise<unknown>, number][] = [
    ['plain async fn chain', (i) => plain(order(i)), 20_000],
    ['engine, in-memory journal', (i) => memory.run('saga', order(i)), 2_000],
    ['engine, SQLite file', (i) => file.run('saga', order(i)), 1_000],
  ];
  const rounds = 5;
  const results = new Map<string, { many: number[]; one: number[] }>(cases.map(([n]) => [n, { many: [], one: [] }]));
  for (const [, f, n] of cases) await rate(64, Math.min(n, 500), f); // warm up
  for (let r = 0; r < rounds; r++) {
    for (const [name, f, n] of cases) {
      results.get(name)!.many.push(await rate(64, n, f));
      results.get(name)!.one.push(await rate(1, Math.max(50, n / 10), f));
    }
  }
  const base = results.get('plain async fn chain')!;
  console.log('\nWorkflows from Node: a four-stage saga, runs/s (median of 5 interleaved rounds)');
  console.log('case'.padEnd(28) + 'runs/s, 64 in flight'.padStart(22) + 'vs plain'.padStart(10) + 'runs/s, 1 in flight'.padStart(22) + 'us/run, 1'.padStart(12));
  for (const [name] of cases) {
    const { many, one } = results.get(name)!;
    const m = median(many);
    const o = median(one);
    console.log(name.padEnd(28) + m.toFixed(0).padStart(22) + `${(median(base.many) / m).toFixed(1)}x`.padStart(10) + o.toFixed(0).padStart(22) + (1e6 / o).toFixed(1).padStart(12));
  }
  memory.close();
  file.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
