import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Compensate,
  OmnitronError,
  Peer,
  Public,
  Service,
  Stage,
  Workflow,
  WorkflowEngine,
  defineWorkflow,
  type ServiceProxy,
  type StageContext,
} from '@omnitron-dev/native';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Order {
  id: string;
  sku: string;
  qty: number;
}

// The spec's example, with a payment that fails for large orders.
@Workflow({ name: 'order-processing', timeout: 30000, retries: 0 })
class OrderProcessingWorkflow {
  log: string[] = [];

  @Stage({ name: 'validate' })
  async validateOrder(order: Order) {
    this.log.push('validate');
    if (order.qty <= 0) throw new RangeError('qty must be positive');
    return order;
  }

  @Stage({ name: 'reserve', dependsOn: 'validate', timeout: 5000, retries: 2 })
  async reserveInventory(order: Order, ctx: StageContext) {
    this.log.push(`reserve:${ctx.idempotencyKey}`);
    return { reservation: `r-${order.id}`, qty: order.qty };
  }

  @Stage({ name: 'payment', dependsOn: ['reserve'] })
  async processPayment(reservation: { reservation: string; qty: number }) {
    if (reservation.qty > 10) throw new OmnitronError('PAY01', 'card declined');
    this.log.push('payment');
    return { paid: reservation.qty * 10 };
  }

  @Compensate('reserve')
  async releaseInventory(reservation: { reservation: string }, ctx: StageContext) {
    this.log.push(`release:${reservation.reservation}:${(ctx.workflowInput as Order).id}`);
  }
}

test('the decorated workflow runs its chain, passing data along', async () => {
  const engine = WorkflowEngine.inMemory();
  const wf = new OrderProcessingWorkflow();
  assert.equal(engine.register(wf), 'order-processing');
  const out = await engine.run('order-processing', { id: 'o1', sku: 'book', qty: 2 }, { runId: 'o1' });
  assert.deepEqual(out, {
    validate: { id: 'o1', sku: 'book', qty: 2 },
    reserve: { reservation: 'r-o1', qty: 2 },
    payment: { paid: 20 },
  });
  assert.deepEqual(wf.log, ['validate', 'reserve:o1:reserve', 'payment']);
  const info = await engine.get('o1');
  assert.equal(info.state, 'completed');
  assert.deepEqual(info.stages.map((s) => [s.name, s.state, s.attempts]), [
    ['validate', 'completed', 1],
    ['reserve', 'completed', 1],
    ['payment', 'completed', 1],
  ]);
  assert.deepEqual(info.input, { id: 'o1', sku: 'book', qty: 2 });
  // The same id again is the same run: nothing runs twice.
  const again = await engine.start('order-processing', { id: 'o1', sku: 'book', qty: 2 }, { runId: 'o1' });
  assert.deepEqual(await again.wait(), out);
  assert.equal(wf.log.length, 3);
  assert.deepEqual((await engine.list({ workflow: 'order-processing' })).map((r) => [r.runId, r.state]), [['o1', 'completed']]);
  engine.close();
});

test('a failing payment compensates the reservation with its output', async () => {
  const engine = WorkflowEngine.inMemory();
  const wf = new OrderProcessingWorkflow();
  engine.register(wf);
  await assert.rejects(engine.run('order-processing', { id: 'o2', sku: 'piano', qty: 50 }, { runId: 'o2' }), (e: any) => {
    assert.equal(e.code, 'WF007');
    assert.equal(e.name, 'StageFailedError');
    assert.match(e.message, /payment/);
    assert.match(e.message, /compensated 'reserve'/);
    assert.equal(e.errors[0].code, 'E004'); // an application code the engine does not know
    assert.match(e.errors[0].message, /PAY01.*card declined/);
    return true;
  });
  assert.deepEqual(wf.log, ['validate', 'reserve:o2:reserve', 'release:r-o2:o2']);
  const info = await engine.get('o2');
  assert.equal(info.state, 'compensated');
  assert.equal(info.stages.find((s) => s.name === 'reserve')!.state, 'compensated');
  engine.close();
});

test('stage 3 failing compensates 2 then 1; a stage returning nothing gives null', async () => {
  const log: string[] = [];
  const engine = WorkflowEngine.inMemory();
  engine.register(
    defineWorkflow('three')
      .stage('one', () => {
        log.push('one');
      })
      .stage('two', async (v) => {
        log.push(`two:${v}`);
        return 2;
      }, { dependsOn: 'one' })
      .stage('three', () => {
        throw new Error('boom');
      }, { dependsOn: 'two' })
      .compensate('one', (v) => void log.push(`undo-one:${v}`))
      .compensate('two', async (v) => {
        await sleep(5);
        log.push(`undo-two:${v}`);
      })
      .build(),
  );
  await assert.rejects(engine.run('three', null), code('WF007'));
  assert.deepEqual(log, ['one', 'two:null', 'undo-two:2', 'undo-one:null']);
  engine.close();
});

test('parallel stages run concurrently and a join gets both outputs', async () => {
  const engine = WorkflowEngine.inMemory();
  // Each of a and b waits until both have started: they can only finish if they run at once.
  const started = new Set<string>();
  const both = async (name: string) => {
    started.add(name);
    while (started.size < 2) await sleep(5);
    return name.toUpperCase();
  };
  engine.register(
    defineWorkflow({ name: 'fan' })
      .stage('a', () => both('a'))
      .stage('b', () => both('b'))
      .stage('join', (both: { a: string; b: string }) => both.a + both.b, { dependsOn: ['a', 'b'] })
      .build(),
  );
  const out = await engine.run('fan');
  assert.equal(out.join, 'AB');
  engine.close();
});

test('a retry succeeds on the second attempt; a stage timeout fails the run', async () => {
  const engine = WorkflowEngine.inMemory();
  let attempts = 0;
  let aborted = false;
  engine.register(
    defineWorkflow('retry')
      .stage('flaky', (_: unknown, ctx: StageContext) => {
        attempts++;
        if (ctx.attempt === 1) throw new Error('not yet');
        return ctx.attempt;
      }, { retries: 2, retryDelay: 10 })
      .build(),
  );
  engine.register(
    defineWorkflow('slow')
      .stage('wait', (_: unknown, ctx: StageContext) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve('late');
          });
        }), { timeout: 50 })
      .build(),
  );
  assert.deepEqual(await engine.run('retry'), { flaky: 2 });
  assert.equal(attempts, 2);
  await assert.rejects(engine.run('slow', {}, { runId: 'slow-1' }), (e: any) => e.code === 'WF008' && e.name === 'StageTimeoutError');
  assert.ok(aborted, 'the abandoned stage saw its signal abort');
  const info = await engine.get('slow-1');
  assert.equal(info.stages[0].errors[0].error.code, 'WF008');
  engine.close();
});

test('definitions: a cycle names its path; empty workflows give {}; bad input is a clear error', async () => {
  const engine = WorkflowEngine.inMemory();
  const f = () => 1;
  assert.throws(
    () => engine.register(defineWorkflow('loop').stage('a', f, { dependsOn: 'b' }).stage('b', f, { dependsOn: 'c' }).stage('c', f, { dependsOn: 'a' }).build()),
    (e: any) => e.code === 'WF001' && e.name === 'WorkflowCycleError' && e.message.includes('a -> b -> c -> a'),
  );
  assert.throws(() => engine.register(defineWorkflow('typo').stage('reserve', f).stage('pay', f, { dependsOn: 'reserv' }).build()), (e: any) => e.code === 'WF002' && /did you mean 'reserve'/.test(e.message));
  assert.throws(() => engine.register(defineWorkflow('dup').stage('a', f).stage('a', f).build()), code('WF003'));
  assert.throws(() => engine.register(defineWorkflow('ghost').stage('a', f).compensate('b', f).build()), (e: any) => e.code === 'WF004' && /'b'/.test(e.message));
  engine.register(defineWorkflow('empty').build());
  assert.throws(() => engine.register(defineWorkflow('empty').build()), code('WF014'));
  assert.deepEqual(await engine.run('empty'), {});

  // Wrong types from JavaScript: clear errors, never a crash.
  assert.throws(() => defineWorkflow('x').stage('a', 'not a function' as any), (e: any) => e.code === 'E001' && /must be a function/.test(e.message));
  assert.throws(() => defineWorkflow('x').stage('a', f, { dependsOn: 42 as any }), (e: any) => e.code === 'E001' && /dependsOn/.test(e.message));
  assert.throws(() => defineWorkflow('x').stage('a', f, { dependsOn: ['b', 3] as any }), code('E001'));
  assert.throws(() => defineWorkflow('x').stage('a', f, { timeout: -1 }), code('WF004'));
  assert.throws(() => defineWorkflow('x').stage('a', f, { retries: 1.5 }), code('WF004'));
  assert.throws(() => defineWorkflow('x').stage(7 as any, f), code('WF004'));
  assert.throws(() => defineWorkflow('').stage('a', f), code('WF004'));
  assert.throws(() => defineWorkflow({ name: 'x', recovery: 'sometimes' as any }), code('WF004'));
  assert.throws(() => defineWorkflow('x').compensate('a', null as any), code('E001'));
  assert.throws(() => Stage({ dependsOn: {} as any }), code('E001'));
  assert.throws(() => Compensate(5 as any), code('E001'));
  assert.throws(() => Workflow({ name: '' }), code('WF004'));
  assert.throws(() => engine.register(class NotAWorkflow {} as any), (e: any) => e.code === 'E001' && /@Workflow/.test(e.message));
  assert.throws(() => engine.register(42 as any), code('E001'));
  assert.throws(() => engine.register({ name: 'raw', options: {}, orphans: [], stages: [{ name: 'a', run: 'nope', dependsOn: [] }] } as any), (e: any) => e.code === 'E001' && /must be a function/.test(e.message));
  await assert.rejects(engine.run('nope'), (e: any) => e.code === 'WF005' && /registered: empty/.test(e.message));
  await assert.rejects(engine.run(42 as any), code('E001'));
  await assert.rejects(engine.run('empty', { big: 1n }), code('E001'));
  await assert.rejects(engine.start('empty', {}, { runId: 5 as any }), code('E001'));
  await assert.rejects(engine.get('no-such-run'), code('WF006'));
  await assert.rejects(engine.cancel('no-such-run'), code('WF006'));
  await assert.rejects(engine.list({ state: 'sleeping' as any }), code('E001'));

  // A stage whose result is not JSON fails its run with a clear error.
  engine.register(defineWorkflow('bigint').stage('a', () => 1n).build());
  await assert.rejects(engine.run('bigint'), (e: any) => e.code === 'WF007' && /cannot be turned into JSON/.test(e.errors[0].message));
  engine.close();
  await assert.rejects(engine.run('empty'), code('E001'));
});

test('a failing compensation ends compensation_failed, keeping both errors', async () => {
  const engine = WorkflowEngine.inMemory();
  engine.register(
    defineWorkflow('broken')
      .stage('reserve', () => 'r1')
      .stage('pay', () => {
        throw new TypeError('card declined');
      }, { dependsOn: 'reserve' })
      .compensate('reserve', () => {
        throw new Error('warehouse closed');
      })
      .build(),
  );
  await assert.rejects(engine.run('broken', {}, { runId: 'b1' }), (e: any) => {
    assert.equal(e.code, 'WF010');
    assert.equal(e.name, 'CompensationFailedError');
    assert.match(e.message, /card declined/);
    assert.match(e.message, /warehouse closed/);
    assert.equal(e.errors.length, 2);
    assert.equal(e.errors[0].code, 'WF007');
    assert.match(e.errors[1].message, /warehouse closed/);
    return true;
  });
  const info = await engine.get('b1');
  assert.equal(info.state, 'compensation_failed');
  assert.equal(info.stages[0].state, 'compensation_failed');
  assert.match(info.stages[0].compensationErrors[0].error.message, /Error: warehouse closed/);
  engine.close();
});

test('cancel compensates completed stages and aborts the one in flight', async () => {
  const engine = WorkflowEngine.inMemory();
  const log: string[] = [];
  engine.register(
    defineWorkflow('cancellable')
      .stage('first', () => 'one')
      .stage('long', (_: unknown, ctx: StageContext) => new Promise((r) => ctx.signal.addEventListener('abort', () => (log.push('aborted'), r(null)))), { dependsOn: 'first' })
      .compensate('first', (v) => void log.push(`undo:${v}`))
      .build(),
  );
  const run = await engine.start('cancellable', {});
  await sleep(50);
  const info = await run.cancel();
  assert.equal(info.state, 'cancelled');
  assert.deepEqual(log.sort(), ['aborted', 'undo:one']);
  await assert.rejects(run.wait(), (e: any) => e.code === 'WF011' && e.name === 'RunCancelledError');
  engine.close();
});

test('a SQLite journal keeps a completed run for a second engine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omni-wf-'));
  const path = join(dir, 'journal.db');
  const def = defineWorkflow('durable').stage('a', (n: number) => ({ doubled: n * 2 })).build();
  try {
    const first = await WorkflowEngine.open(path);
    first.register(def);
    await first.run('durable', 21, { runId: 'd1' });
    first.close();
    const second = await WorkflowEngine.open(path);
    second.register(def);
    const info = await second.get('d1');
    assert.equal(info.state, 'completed');
    assert.deepEqual(info.stages[0].output, { doubled: 42 });
    assert.deepEqual(await second.wait('d1'), { a: { doubled: 42 } });
    assert.deepEqual(await second.recover(), { resumed: [], compensating: [], unrecovered: [] });
    second.close();
    await assert.rejects(WorkflowEngine.open(''), code('E001'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A stage is just an async function: it can call another process's service.
@Service('inventory@1.2.0')
class InventoryService {
  released: string[] = [];

  @Public()
  async reserve(sku: string, qty: number, key: string): Promise<{ id: string; sku: string; qty: number }> {
    return { id: `res-${key}`, sku, qty };
  }

  @Public()
  async release(id: string): Promise<boolean> {
    this.released.push(id);
    return true;
  }
}

test('stages call a service over RPC (ServiceProxy) and compensate through it', async () => {
  const addr = `unix:${mkdtempSync(join(tmpdir(), 'omni-'))}/private/rpc.sock`;
  const server = await Peer.listen(addr, { name: 'inventory', token: 't' });
  const inventory = new InventoryService();
  await server.expose(inventory);
  const client = await Peer.connect(addr, { name: 'orders', token: 't' });
  const engine = WorkflowEngine.inMemory();
  try {
    const proxy: ServiceProxy<InventoryService> = await client.queryInterface<InventoryService>('inventory@^1');
    engine.register(
      defineWorkflow('remote-order')
        .stage('reserve', (o: { sku: string; qty: number }, ctx: StageContext) => proxy.reserve(o.sku, o.qty, ctx.idempotencyKey))
        .stage('pay', () => {
          throw new Error('no funds');
        }, { dependsOn: 'reserve' })
        .compensate('reserve', (r: { id: string }) => proxy.release(r.id))
        .build(),
    );
    await assert.rejects(engine.run('remote-order', { sku: 'lamp', qty: 1 }, { runId: 'ro1' }), code('WF007'));
    assert.deepEqual(inventory.released, ['res-ro1:reserve']);
  } finally {
    engine.close();
    await client.close();
    await server.close();
  }
});
