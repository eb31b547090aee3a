import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Pool, WorkflowEngine, type ServiceProxy } from '@omnitron-dev/native';
import { OrdersService, PlaceOrder, type Inventory, type Reservation } from '../src/orders.service.js';

// dist/test/ -> services/orders, and the Python service next to it.
const ORDERS_DIR = join(__dirname, '..', '..');
const INVENTORY_DIR = join(ORDERS_DIR, '..', 'inventory');
// The Python that has the omnitron package (the project's virtualenv).
const PYTHON = process.env.OMNITRON_PYTHON ?? 'python3';

test('the saga releases what it reserved when the payment fails (no processes)', async () => {
  const log: string[] = [];
  const inventory = {
    reserve: async (key: string, sku: string, qty: number): Promise<Reservation> => (log.push(`reserve:${key}`), { reservation: key, sku, qty }),
    release: async (key: string) => (log.push(`release:${key}`), true),
  } as ServiceProxy<Inventory>;
  const engine = WorkflowEngine.inMemory();
  try {
    engine.register(new PlaceOrder(inventory));
    const out = await engine.run('place-order', { id: 'a', sku: 'book', qty: 2, card: '4242424242424242' }, { runId: 'a' });
    assert.deepEqual(out.pay, { charge: 'ch-4242-2500' });
    await assert.rejects(engine.run('place-order', { id: 'b', sku: 'book', qty: 1, card: '4000000000000000' }, { runId: 'b' }), /declined/);
    assert.deepEqual(log, ['reserve:a:reserve', 'reserve:b:reserve', 'release:b:reserve']);
  } finally {
    engine.close();
  }
});

test('orders calls the Python inventory in another process, and compensates', { timeout: 60_000 }, async () => {
  // The two processes omnitron.yaml runs, started here as children of the test: orders' calls to
  // inventory@^1 go through this process, as they go through `omnitron start`'s.
  const inventory = await Pool.start<Inventory>({
    command: [PYTHON, '-m', 'omnitron.worker', 'inventory:Inventory'],
    cwd: INVENTORY_DIR,
    env: { INVENTORY_STOCK: 'book=5' },
    size: 1,
  });
  try {
    const orders = await Pool.start<OrdersService>({ service: OrdersService, size: 1 });
    try {
      const placed = await orders.proxy.place({ id: 'o-1', sku: 'book', qty: 2, card: '4242424242424242' });
      assert.deepEqual(placed, { id: 'o-1', status: 'placed', reservation: 'o-1:reserve', charge: 'ch-4242-2500' });
      assert.equal(await inventory.proxy.available('book'), 3);

      const declined = await orders.proxy.place({ id: 'o-2', sku: 'book', qty: 1, card: '4000000000000000' });
      assert.equal(declined.status, 'cancelled');
      assert.match(declined.status === 'cancelled' ? declined.reason : '', /card 4000000000000000 declined/);
      assert.equal(await inventory.proxy.available('book'), 3, 'the declined order gave its book back');
      assert.deepEqual(await inventory.proxy.held(), ['o-1:reserve']);

      // Out of stock: the inventory's error cancels the order before any payment.
      const tooMany = await orders.proxy.place({ id: 'o-3', sku: 'book', qty: 9, card: '4242424242424242' });
      assert.equal(tooMany.status, 'cancelled');
    } finally {
      await orders.stop();
    }
  } finally {
    await inventory.stop();
  }
});
