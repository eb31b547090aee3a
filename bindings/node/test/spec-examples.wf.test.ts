// The spec's examples of sections 2.4 (@Metric, @RateLimit, @CircuitBreaker), 2.6 (workflow
// orchestration), 3.2 (process supervision) and 7.3 (metrics collection), as written, with only
// imports and minimal stubs added (the spec's `this.logger`, `notifyOps`, `alertOncall`,
// `this.repository`, `this.httpClient` and the remote services). Each runs against the real engine:
// real peers on a real socket, real child processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Child,
  CircuitBreaker,
  Compensate,
  Container,
  Injectable,
  InjectProcess,
  Metric,
  OmnitronError,
  OnChildCrash,
  OnChildRestart,
  Peer,
  Public,
  RateLimit,
  Registry,
  Service,
  Stage,
  Supervisor,
  Workflow,
  WorkflowEngine,
  type ProcessInfo,
  type ServiceProxy,
} from '@omnitron-dev/native';
import { ApiWorkerProcess, WebSocketProcess } from './spec-examples.wf.workers.js';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function eventually(what: string, f: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await f()) return;
    await sleep(25);
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}
/** A sample's value in the Prometheus text. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// ---- 2.6 Workflow Orchestration ----------------------------------------------------------------
// Stubs: the order types and the three remote services (served by another peer over a socket).

interface Item {
  sku: string;
  qty: number;
}
interface Order {
  id: string;
  items: Item[];
  payment: { amount: number; card: string };
  address: string;
}
interface ValidationResult {
  valid: boolean;
  order: Order;
}
interface ReservationResult extends ValidationResult {
  reservation: { id: string };
}
interface PaymentResult extends ReservationResult {
  payment: { id: string };
}
interface OrderResult extends PaymentResult {
  shipment: { tracking: string };
  status: string;
}

const remote: string[] = [];

@Service('inventory@1.0.0')
class InventoryService {
  @Public()
  async reserve(items: Item[]): Promise<{ id: string }> {
    remote.push(`reserve ${items.map((i) => `${i.qty}x${i.sku}`).join(',')}`);
    return { id: `res-${items.length}` };
  }

  @Public()
  async release(id: string): Promise<void> {
    remote.push(`release ${id}`);
  }
}

@Service('payment@1.0.0')
class PaymentService {
  @Public()
  async charge(payment: { amount: number; card: string }): Promise<{ id: string }> {
    remote.push(`charge ${payment.amount}`);
    return { id: `pay-${payment.amount}` };
  }

  @Public()
  async refund(id: string): Promise<void> {
    remote.push(`refund ${id}`);
  }
}

@Service('shipping@1.0.0')
class ShippingService {
  @Public()
  async create(order: Order): Promise<{ tracking: string }> {
    if (order.address === 'nowhere') throw new RangeError('no carrier delivers to nowhere');
    remote.push(`ship ${order.id}`);
    return { tracking: `track-${order.id}` };
  }
}

// The spec's text from here (only the import line differs).
@Workflow({
  name: 'order-processing',
  timeout: 300000, // 5 minutes
  retries: 3,
})
export class OrderProcessingWorkflow {
  @InjectProcess(InventoryService)
  private inventory: ServiceProxy<InventoryService>;

  @InjectProcess(PaymentService)
  private payment: ServiceProxy<PaymentService>;

  @InjectProcess(ShippingService)
  private shipping: ServiceProxy<ShippingService>;

  @Stage({ name: 'validate-order' })
  async validateOrder(order: Order): Promise<ValidationResult> {
    // Validation logic
    return { valid: true, order };
  }

  @Stage({
    name: 'reserve-inventory',
    dependsOn: 'validate-order',
    timeout: 30000,
  })
  async reserveInventory(result: ValidationResult): Promise<ReservationResult> {
    const reservation = await this.inventory.reserve(result.order.items);
    return { ...result, reservation };
  }

  @Compensate('reserve-inventory')
  async releaseInventory(result: ReservationResult) {
    // Automatic rollback on failure
    await this.inventory.release(result.reservation.id);
  }

  @Stage({
    name: 'process-payment',
    dependsOn: 'reserve-inventory',
    retries: 3,
  })
  async processPayment(result: ReservationResult): Promise<PaymentResult> {
    const payment = await this.payment.charge(result.order.payment);
    return { ...result, payment };
  }

  @Compensate('process-payment')
  async refundPayment(result: PaymentResult) {
    // Automatic compensation on failure
    await this.payment.refund(result.payment.id);
  }

  @Stage({
    name: 'arrange-shipping',
    dependsOn: 'process-payment',
  })
  async arrangeShipping(result: PaymentResult): Promise<OrderResult> {
    const shipment = await this.shipping.create(result.order);
    return { ...result, shipment, status: 'completed' };
  }
}
// (end of the spec's text)

test('spec 2.6: OrderProcessingWorkflow runs its stages through @InjectProcess proxies and compensates in reverse', { timeout: 60_000 }, async () => {
  const address = `unix:${mkdtempSync(join(tmpdir(), 'omni-spec-'))}/private/rpc.sock`;
  const services = await Peer.listen(address, { name: 'services' });
  await services.expose(new InventoryService());
  await services.expose(new PaymentService());
  await services.expose(new ShippingService());
  const orders = await Peer.connect(address, { name: 'orders' }); // Peer.default: what @InjectProcess uses
  const engine = WorkflowEngine.inMemory();
  try {
    assert.equal(engine.register(OrderProcessingWorkflow), 'order-processing');
    const order: Order = { id: 'o1', items: [{ sku: 'book', qty: 2 }], payment: { amount: 30, card: '4242' }, address: 'Main St 1' };
    const out = await engine.run(OrderProcessingWorkflow, order, { runId: 'o1' });
    assert.deepEqual(out['arrange-shipping'], {
      valid: true,
      order,
      reservation: { id: 'res-1' },
      payment: { id: 'pay-30' },
      shipment: { tracking: 'track-o1' },
      status: 'completed',
    });
    assert.deepEqual(remote.splice(0), ['reserve 2xbook', 'charge 30', 'ship o1']);

    // Shipping fails (and keeps failing through the run's retries): the payment is refunded, then
    // the inventory released, each once; the payment was charged once.
    const lost: Order = { ...order, id: 'o2', address: 'nowhere' };
    await assert.rejects(engine.run('order-processing', lost, { runId: 'o2' }), (e: any) => {
      assert.equal(e.code, 'WF007');
      assert.match(e.message, /arrange-shipping/);
      assert.match(e.errors[0].message, /no carrier delivers to nowhere/);
      return true;
    });
    assert.deepEqual(remote.splice(0), ['reserve 2xbook', 'charge 30', 'refund pay-30', 'release res-1']);
    const info = await engine.get('o2');
    assert.equal(info.state, 'compensated');
    assert.deepEqual(
      info.stages.map((s) => [s.name, s.state]),
      [
        ['validate-order', 'completed'],
        ['reserve-inventory', 'compensated'],
        ['process-payment', 'compensated'],
        ['arrange-shipping', 'failed'],
      ],
    );
    assert.equal(info.attempts, 4, 'the run was tried 1 + retries: 3 times');
  } finally {
    engine.close();
    await orders.close();
    await services.close();
  }
});

// ---- 3.2 Process Supervision -------------------------------------------------------------------
// Stubs: the spec's `this.logger`, `notifyOps` and `alertOncall`, recording what they are given.

const ops: string[] = [];

// The spec's text from here, with the three stubs added as members.
@Supervisor({
  strategy: 'one-for-one', // Restart only failed child
  maxRestarts: 3,
  maxTime: 60000,
})
export class ApiSupervisor {
  @Child({ instances: 4 })
  apiWorker = ApiWorkerProcess;

  @Child({ instances: 2 })
  websocketHandler = WebSocketProcess;

  @OnChildCrash()
  async handleCrash(child: ProcessInfo, error: Error) {
    this.logger.error({ child, error }, 'Child process crashed');
    await this.notifyOps(child, error);
  }

  @OnChildRestart()
  async handleRestart(child: ProcessInfo, attempt: number) {
    if (attempt > 2) {
      await this.alertOncall('Process failing repeatedly');
    }
  }

  // Stubs.
  logger = { error: (fields: { child: ProcessInfo; error: Error }, message: string) => ops.push(`log ${fields.child.name} ${message}`) };
  async notifyOps(child: ProcessInfo, error: Error) {
    ops.push(`notify ${child.name}#${child.index}: ${error.message}`);
  }
  async alertOncall(message: string) {
    ops.push(`alert ${message}`);
  }
}
// (end of the spec's text)

test('spec 3.2: ApiSupervisor runs 4 + 2 children, restarts a killed one, and its hooks see each crash and restart', { timeout: 120_000 }, async () => {
  const sup = await Supervisor.start(ApiSupervisor);
  try {
    const children = await sup.children();
    assert.deepEqual(
      children.map((c) => [c.name, c.index, c.state]),
      [0, 1, 2, 3].map((i) => ['apiWorker', i, 'running']).concat([0, 1].map((i) => ['websocketHandler', i, 'running'])),
    );
    // Kill the same api worker three times: each crash is logged and reported; the third restart
    // (attempt 3 > 2) alerts on-call. The budget (3 within 60 s) is not exceeded.
    for (let round = 1; round <= 3; round++) {
      const victim = (await sup.children())[2];
      process.kill(victim.pid!, 'SIGKILL');
      await eventually(`restart ${round}`, async () => {
        const c = (await sup.children())[2];
        return c.state === 'running' && c.pid !== victim.pid && c.restarts === round;
      });
    }
    assert.equal(ops.filter((o) => o === 'log apiWorker Child process crashed').length, 3);
    assert.equal(ops.filter((o) => /^notify apiWorker#2: .*(SIGKILL|signal 9)/.test(o)).length, 3, ops.join('\n'));
    assert.deepEqual(ops.filter((o) => o.startsWith('alert')), ['alert Process failing repeatedly']);
    const others = (await sup.children()).filter((_, i) => i !== 2);
    assert.ok(others.every((c) => c.restarts === 0 && c.state === 'running'), 'one-for-one: the others were left alone');
  } finally {
    await sup.close();
  }
  assert.equal(sup.state, 'stopped');
});

// ---- 2.4 Service Layer: @Metric, @RateLimit, @CircuitBreaker ------------------------------------
// Stubs: the repository and the HTTP client the spec's service uses.

interface User {
  id: string;
  name: string;
}
const repository = { findOne: async (id: string): Promise<User> => ({ id, name: `user ${id}` }) };
let apiCalls = 0;
const httpClient = {
  get: async (_url: string): Promise<any> => {
    apiCalls++;
    throw new Error('upstream unavailable');
  },
};

@Injectable()
@Service('users@1.0.0') // Automatic service registration
export class UsersService {
  private repository = repository; // stub
  private httpClient = httpClient; // stub

  @Public() // Exposed via RPC
  @Metric('users.findOne') // Automatic metrics
  async findOne(id: string): Promise<User> {
    return this.repository.findOne(id);
  }

  @RateLimit({ points: 10, duration: 60 })
  @CircuitBreaker({ threshold: 5, timeout: 60000 })
  async callExternalApi(userId: string): Promise<any> {
    // Automatic resilience patterns
    return this.httpClient.get(`/api/users/${userId}`);
  }
}

test("spec 2.4: @Metric('users.findOne') records calls of a method called over RPC; @RateLimit and @CircuitBreaker guard the external call", async () => {
  const address = `unix:${mkdtempSync(join(tmpdir(), 'omni-spec-'))}/private/rpc.sock`;
  const server = await Peer.listen(address, { name: 'users' });
  const c = new Container();
  c.register(UsersService);
  await server.expose(c.resolve(UsersService));
  const client = await Peer.connect(address, { name: 'web' });
  try {
    const users = client.proxy<UsersService>('users@^1');
    assert.deepEqual(await users.findOne('7'), { id: '7', name: 'user 7' });
    await users.findOne('8');
    const text = Registry.global.metrics();
    assert.equal(sample(text, 'method_calls_total{method="users.findOne"}'), 2);
    assert.equal(sample(text, 'method_duration_seconds_count{method="users.findOne"}'), 2);
  } finally {
    await client.close();
    await server.close();
  }

  const service = c.resolve(UsersService);
  // Five failures open the breaker (threshold: 5): the next calls fail fast without reaching the API.
  for (let i = 0; i < 5; i++) await assert.rejects(service.callExternalApi('u'), /upstream unavailable/);
  assert.equal(apiCalls, 5);
  for (let i = 0; i < 5; i++) await assert.rejects(service.callExternalApi('u'), code('R001'));
  assert.equal(apiCalls, 5);
  // Ten calls within the minute used the rate limit (points: 10): the eleventh is refused first.
  await assert.rejects(service.callExternalApi('u'), code('R002'));
});

// ---- 7.3 Metrics Collection --------------------------------------------------------------------

@Injectable()
export class MetricsService {
  @Metric({
    type: 'counter',
    name: 'orders_total',
    help: 'Total number of orders',
    labelNames: ['status', 'payment_method'],
  })
  incrementOrders(status: string, paymentMethod: string) {
    // Automatically increments Prometheus counter
  }

  @Metric({
    type: 'histogram',
    name: 'order_processing_duration',
    help: 'Order processing duration in seconds',
    buckets: [0.1, 0.5, 1, 2, 5, 10],
  })
  recordProcessingTime(duration: number) {
    // Automatically records histogram
  }

  @Metric({
    type: 'gauge',
    name: 'active_connections',
    help: 'Number of active connections',
  })
  setActiveConnections(count: number) {
    // Automatically sets gauge value
  }
}

test('spec 7.3: MetricsService records a counter, a histogram and a gauge into the global registry, served over HTTP', async () => {
  const c = new Container();
  c.register(MetricsService);
  const metrics = c.resolve(MetricsService);
  metrics.incrementOrders('paid', 'card');
  metrics.incrementOrders('paid', 'card');
  metrics.incrementOrders('failed', 'paypal');
  metrics.recordProcessingTime(0.7);
  metrics.recordProcessingTime(3);
  metrics.setActiveConnections(12);
  const server = Registry.global.serve({ port: 0 });
  try {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    assert.match(text, /# HELP orders_total Total number of orders/);
    assert.equal(sample(text, 'orders_total{status="paid",payment_method="card"}'), 2);
    assert.equal(sample(text, 'orders_total{status="failed",payment_method="paypal"}'), 1);
    assert.match(text, /# TYPE order_processing_duration histogram/);
    assert.equal(sample(text, 'order_processing_duration_bucket{le="0.5"}'), 0);
    assert.equal(sample(text, 'order_processing_duration_bucket{le="1.0"}'), 1);
    assert.equal(sample(text, 'order_processing_duration_bucket{le="5.0"}'), 2);
    assert.equal(sample(text, 'order_processing_duration_sum'), 3.7);
    assert.equal(sample(text, 'active_connections'), 12);
  } finally {
    server.stop();
  }
});
