// The spec's examples of sections 1.3, 2.3, 2.4, 2.6, 3.2, 3.3 and 7.3, as the spec writes them, each
// run against the real engine (real peers on real sockets, real child processes). Only imports and
// minimal stubs are added, each marked "Stub": what the spec's code uses but does not show (a
// payment gateway, a repository, worker classes), and the decorators of later issues that section
// 2.4 uses (@InjectLogger, @InjectRepository, @InjectCache, @Cache, @Trace, @Transactional,
// @Validate, @Audit: HTTP validation is issue 19, tracing and logs issue 21). Each section is a
// namespace, so that the spec's class names (three `UsersService`s, two `PaymentService`s) can stay
// as written. Section 1.3 runs this file a second time as the spec's "other process"
// (OMNITRON_SPEC_ROLE=orders), where no test is registered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  Child,
  CircuitBreaker,
  Compensate,
  EmitEvent,
  Injectable,
  InjectProcess,
  Metric,
  Module,
  Omnitron,
  OmnitronError,
  OnChildCrash,
  OnChildRestart,
  OnEvent,
  Peer,
  Pool,
  ProcessPool,
  Public,
  RateLimit,
  Registry,
  Service,
  Stage,
  Supervisor,
  Workflow,
  WorkflowEngine,
  createToken,
  type DynamicModule,
  type ProcessInfo,
  type ServiceProxy,
} from '@omnitron-dev/native';
import { Lines } from './rpc.support.js';
import { ApiWorkerProcess, DataProcessor, WebSocketProcess } from './spec-examples.workers.js';

const ROLE = process.env.OMNITRON_SPEC_ROLE;
/** `test`, except in the child process of section 1.3 (which runs this file for its classes). */
const it: typeof test = ROLE === undefined ? test : ((() => {}) as unknown as typeof test);
const TOKEN = 'spec-secret';
const socket = () => `unix:${mkdtempSync(join(tmpdir(), 'omni-spec-'))}/private/rpc.sock`;
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
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// ==== 1.3 Communication Patterns ===================================================================

namespace spec_1_3 {
  // Stubs: the types the examples use, the payment gateway and the mailer.
  export interface PaymentResult {
    id: string;
    amount: number;
  }
  export interface Order {
    total: number;
    customerEmail: string;
  }
  export const charged: number[] = [];
  export const mailbox = { send: (_to: string): void => {} };

  // ---- the spec's text ----
  // Type-safe RPC across process boundaries
  @Service('payment@1.0.0')
  export class PaymentService {
    @Public()
    async processPayment(amount: number): Promise<PaymentResult> {
      // Automatically available via RPC to other processes
      return this.stripe.charge(amount);
    }

    // Stub: the payment gateway.
    private stripe = {
      charge: async (amount: number): Promise<PaymentResult> => {
        charged.push(amount);
        return { id: `ch_${charged.length}`, amount };
      },
    };
  }

  // In another process
  @Injectable()
  export class OrderService {
    @InjectProcess(PaymentService)
    private payment: ServiceProxy<PaymentService>;

    async createOrder(order: Order) {
      // Type-safe remote call
      const result = await this.payment.processPayment(order.total);
    }
  }

  @Service('notifications')
  export class NotificationService {
    @OnEvent('order.created')
    async handleOrderCreated(order: Order) {
      // Automatically subscribed to distributed events
      await this.sendEmail(order.customerEmail);
    }

    @EmitEvent('notification.sent')
    async sendNotification(data: any) {
      // Events propagate across all processes
      return { sentAt: new Date() };
    }

    // Stub: the mailer.
    private async sendEmail(to: string): Promise<void> {
      mailbox.send(to);
    }
  }
  // ---- end of the spec's text ----

  /** The other process: builds OrderService and NotificationService, connected to the hub. */
  export async function ordersProcess(address: string): Promise<void> {
    @Module({ providers: [OrderService, NotificationService] })
    class OrdersModule {}
    const peer = await Peer.connect(address, { name: 'orders', token: TOKEN });
    // Exposes every @Service among the providers: NotificationService (subscribed when this resolves).
    const app = await Omnitron.create(OrdersModule, { peer });
    mailbox.send = (to) => process.stdout.write(`email ${to}\n`);
    process.stdout.write('ready\n');
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      const [cmd, total, email] = line.trim().split(' ');
      const done = (what: string) => () => process.stdout.write(`${what}\n`);
      const fail = (e: unknown) => process.stdout.write(`error ${(e as Error).message}\n`);
      if (cmd === 'order') void app.get(OrderService).createOrder({ total: Number(total), customerEmail: email }).then(done('ordered'), fail);
      else if (cmd === 'notify') void app.get(NotificationService).sendNotification({ to: email }).then(done('notified'), fail);
    });
    lines.on('close', () => void app.close().then(() => peer.close()));
  }
}

if (ROLE === 'orders') void spec_1_3.ordersProcess(process.argv[2]);

it('spec 1.3: PaymentService here, OrderService (@InjectProcess) and NotificationService (@OnEvent, @EmitEvent) in another process', { timeout: 60_000 }, async () => {
  const { PaymentService, charged } = spec_1_3;
  const addr = socket();
  const hub = await Peer.listen(addr, { name: 'payments', token: TOKEN });
  await hub.expose(new PaymentService());
  const sent: unknown[] = [];
  await hub.subscribe('notification.sent', (payload, topic) => sent.push([topic, payload]));
  const child = spawn(process.execPath, [__filename, addr], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OMNITRON_SPEC_ROLE: 'orders' } });
  const out = new Lines(child.stdout!);
  try {
    await out.take((l) => l === 'ready');
    // NotificationService is subscribed once exposed: an order published at once reaches it.
    hub.publish('order.created', { total: 30, customerEmail: 'ann@example.com' });
    assert.equal(await out.take((l) => l.startsWith('email')), 'email ann@example.com');

    // OrderService.createOrder calls PaymentService.processPayment here, through its proxy.
    child.stdin!.write('order 42 bob@example.com\n');
    assert.equal(await out.take((l) => l === 'ordered' || l.startsWith('error')), 'ordered');
    assert.deepEqual(charged, [42]);

    // sendNotification's result is published as 'notification.sent' to every process.
    child.stdin!.write('notify\n');
    assert.equal(await out.take((l) => l === 'notified' || l.startsWith('error')), 'notified');
    await eventually('notification.sent arrives', () => sent.length === 1);
    const [topic, payload] = sent[0] as [string, { sentAt: string }];
    assert.equal(topic, 'notification.sent');
    assert.ok(!Number.isNaN(Date.parse(payload.sentAt)), `sentAt is a date: ${payload.sentAt}`);

    // The child's service is listed by the hub with the default version and no methods.
    const listed = hub.services().map((s) => `${s.name}@${s.version}:${s.methods.length}`).sort();
    assert.deepEqual(listed, ['notifications@1.0.0:0', 'payment@1.0.0:1']);
  } finally {
    child.stdin!.end();
    child.kill();
    await hub.close();
  }
});

// ==== 2.3 Module System ===========================================================================

namespace spec_2_3 {
  // Stubs: ConfigModule, DatabaseModule and RedisModule with forRoot(), and the users feature's
  // service, controller, repository and workflow.
  export const log: string[] = [];
  const CONFIG = createToken<Record<string, string>>('Config');
  export const DATABASE_OPTIONS = createToken<{ type: string; autoMigrate: boolean }>('DatabaseOptions');

  @Module({})
  class ConfigModule {
    static forRoot(): DynamicModule {
      return { module: ConfigModule, providers: [{ provide: CONFIG, useValue: { env: 'test' } }], exports: [CONFIG], global: true };
    }
  }

  @Injectable()
  class Database {
    migrated = false;
    async onInit(): Promise<void> {
      await sleep(1);
      this.migrated = true;
      log.push('database migrated');
    }
  }

  @Module({})
  class DatabaseModule {
    static forRoot(options: { type: string; autoMigrate: boolean }): DynamicModule {
      return { module: DatabaseModule, providers: [{ provide: DATABASE_OPTIONS, useValue: options }, Database], exports: [Database, DATABASE_OPTIONS], global: true };
    }
  }

  class Redis {
    readonly connected = true;
  }

  @Module({})
  class RedisModule {
    static forRoot(): DynamicModule {
      return { module: RedisModule, providers: [Redis], exports: [Redis], global: true };
    }
  }

  @Injectable()
  class UsersRepository {
    constructor(readonly db: Database) {}
  }

  @Injectable()
  export class UsersService {
    constructor(
      readonly repository: UsersRepository,
      readonly redis: Redis,
    ) {}
    findOne(id: string): { id: string; migrated: boolean } {
      return { id, migrated: this.repository.db.migrated };
    }
  }

  export const built = { controller: undefined as UsersController | undefined, workflows: 0 };

  @Injectable()
  export class UsersController {
    constructor(readonly usersService: UsersService) {
      log.push('controller built');
      built.controller = this;
    }
  }

  class UsersWorkflow {
    constructor() {
      built.workflows++;
    }
  }

  @Injectable()
  export class OrdersService {
    constructor(readonly users: UsersService) {}
  }

  // ---- the spec's text: src/modules/users/users.module.ts ----
  @Module({
    // Automatic HTTP route registration
    controllers: [UsersController],

    // Dependency injection
    providers: [
      UsersService,
      UsersRepository,
      UsersWorkflow,
    ],

    // Export for other modules
    exports: [UsersService],

    // Process isolation (optional)
    process: {
      type: 'service',
      instances: 'auto', // Auto-scale based on load
      isolation: 'thread', // Run in worker thread
    },
  })
  export class UsersModule {}
  // ---- end ----

  // Stub: the orders module the root imports.
  @Module({ imports: [UsersModule], providers: [OrdersService], exports: [OrdersService] })
  class OrdersModule {}

  // ---- the spec's text: src/app.module.ts ----
  @Module({
    imports: [
      // Automatic configuration loading
      ConfigModule.forRoot(),

      // Database with automatic migration
      DatabaseModule.forRoot({
        type: 'postgres',
        autoMigrate: true,
      }),

      // Redis for caching and pub/sub
      RedisModule.forRoot(),

      // Business modules
      UsersModule,
      OrdersModule,
    ],
    providers: [],
    exports: [],
  })
  export class AppModule {}
  // ---- end ----
}

it('spec 2.3: the root module and a feature module work as written', async () => {
  const { AppModule, UsersService, OrdersService, UsersController, DATABASE_OPTIONS, log, built } = spec_2_3;
  const app = await Omnitron.create(AppModule);
  assert.deepEqual(log, ['database migrated', 'controller built'], 'initialize() ran onInit and built the controller');
  const users = app.get(UsersService);
  assert.deepEqual(users.findOne('u1'), { id: 'u1', migrated: true });
  assert.ok(users.redis.connected);
  assert.equal(app.get(OrdersService).users, users, 'one UsersService, shared');
  assert.equal(built.controller?.usersService, users, 'the controller got the same UsersService');
  assert.equal(built.workflows, 1, 'the undecorated workflow class was built once, by initialize()');
  assert.deepEqual(app.get(DATABASE_OPTIONS), { type: 'postgres', autoMigrate: true });
  // Private to UsersModule (not exported): not visible from the root.
  assert.throws(() => app.get(UsersController), code('DI010'));
  await app.close();
});

// ==== 2.4 Service Layer ===========================================================================

namespace spec_2_4 {
  // Stubs: the types, and the decorators of later issues (they only record what they are given).
  export interface User {
    id: string;
    name: string;
    email: string;
  }
  export class CreateUserDto {
    name!: string;
    email!: string;
  }
  interface Logger {
    info(fields: object, message: string): void;
  }
  interface Repository<T> {
    findOne(id: string): Promise<T>;
    create(data: Partial<T>): Promise<T>;
  }
  interface CacheManager {
    get(key: string): unknown;
  }
  export const stubs = { logged: [] as string[], users: new Map<string, User>(), used: new Set<string>() };
  const marker =
    (name: string) =>
    (..._options: unknown[]): MethodDecorator =>
    () => {
      stubs.used.add(name);
    };
  const Cache = marker('Cache');
  const Trace = marker('Trace');
  const Transactional = marker('Transactional');
  const Validate = marker('Validate');
  const Audit = marker('Audit');
  const property =
    (value: () => unknown) =>
    (..._options: unknown[]): PropertyDecorator =>
    (proto, key) =>
      Object.defineProperty(proto, key, { get: value, configurable: true });
  const InjectLogger = property(() => ({ info: (fields: object, message: string) => stubs.logged.push(`${message} ${JSON.stringify(fields)}`) }));
  const InjectRepository = property(() => ({
    findOne: async (id: string) => stubs.users.get(id),
    create: async (data: Partial<User>) => {
      const user = { id: `u${stubs.users.size + 1}`, ...data } as User;
      stubs.users.set(user.id, user);
      return user;
    },
  }));
  const InjectCache = property(() => ({ get: () => undefined }));
  // The spec's `User` is a type and the entity class handed to @InjectRepository.
  export const User = class User {};
  export let apiCalls = 0;
  const httpClient = {
    get: async (_url: string): Promise<any> => {
      apiCalls++;
      throw new Error('upstream unavailable');
    },
  };

  // ---- the spec's text: src/modules/users/users.service.ts ----
  @Injectable()
  @Service('users@1.0.0') // Automatic service registration
  export class UsersService {
    @InjectLogger()
    private logger: Logger;

    @InjectRepository(User)
    private repository: Repository<User>;

    @InjectCache()
    private cache: CacheManager;

    @Public() // Exposed via RPC
    @Cache({ ttl: 300 }) // 5-minute cache
    @Metric('users.findOne') // Automatic metrics
    @Trace() // Distributed tracing
    async findOne(id: string): Promise<User> {
      this.logger.info({ id }, 'Finding user');

      return this.repository.findOne(id);
    }

    @Public()
    @Transactional() // Automatic transaction management
    @Validate(CreateUserDto) // Input validation
    @Audit() // Audit logging
    async create(data: CreateUserDto): Promise<User> {
      const user = await this.repository.create(data);

      // Automatic event emission
      await this.emit('user.created', user);

      return user;
    }

    @RateLimit({ points: 10, duration: 60 })
    @CircuitBreaker({ threshold: 5, timeout: 60000 })
    async callExternalApi(userId: string): Promise<any> {
      // Automatic resilience patterns
      return this.httpClient.get(`/api/users/${userId}`);
    }

    // Stubs: the event emitter (publishes through the peer that exposes the service) and the HTTP client.
    private emit = async (topic: string, payload: unknown) => Peer.default!.publish(topic, payload);
    private httpClient = httpClient;
  }
  // ---- end ----
}

it('spec 2.4: UsersService exposed over RPC by Omnitron.create: @Metric counts findOne, create emits user.created, @RateLimit and @CircuitBreaker guard the external call', { timeout: 30_000 }, async () => {
  const { UsersService, stubs } = spec_2_4;
  @Module({ providers: [UsersService] })
  class UsersModule {}
  const server = await Peer.listen(socket(), { name: 'users' });
  const app = await Omnitron.create(UsersModule, { peer: server }); // exposes the @Service providers
  const client = await Peer.connect(server.address!, { name: 'web' });
  const created: unknown[] = [];
  await client.subscribe('user.created', (payload) => created.push(payload));
  try {
    const users = client.proxy<InstanceType<typeof UsersService>>('users@^1');
    const ann = await users.create({ name: 'Ann', email: 'ann@example.com' });
    assert.deepEqual(ann, { id: 'u1', name: 'Ann', email: 'ann@example.com' });
    assert.deepEqual(await users.findOne('u1'), ann);
    assert.deepEqual(stubs.logged, ['Finding user {"id":"u1"}']);
    await eventually('user.created arrives', () => created.length === 1);
    assert.deepEqual(created, [ann]);
    const text = Registry.global.metrics();
    assert.equal(sample(text, 'method_calls_total{method="users.findOne"}'), 1);
    assert.equal(sample(text, 'method_duration_seconds_count{method="users.findOne"}'), 1);
    assert.deepEqual([...stubs.used].sort(), ['Audit', 'Cache', 'Trace', 'Transactional', 'Validate']);

    const service = app.get(UsersService);
    // Five failures open the breaker (threshold: 5): the next calls fail fast without reaching the API.
    for (let i = 0; i < 5; i++) await assert.rejects(service.callExternalApi('u'), /upstream unavailable/);
    assert.equal(spec_2_4.apiCalls, 5);
    for (let i = 0; i < 5; i++) await assert.rejects(service.callExternalApi('u'), code('R001'));
    assert.equal(spec_2_4.apiCalls, 5);
    // Ten calls within the minute used the rate limit (points: 10): the eleventh is refused first.
    await assert.rejects(service.callExternalApi('u'), code('R002'));
  } finally {
    await client.close();
    await app.close();
    await server.close();
  }
});

// ==== 2.6 Workflow Orchestration ===================================================================

namespace spec_2_6 {
  // Stubs: the order types and the three remote services (another peer serves them over a socket).
  export interface Item {
    sku: string;
    qty: number;
  }
  export interface Order {
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

  export const remote: string[] = [];

  @Service('inventory@1.0.0')
  export class InventoryService {
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
  export class PaymentService {
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
  export class ShippingService {
    @Public()
    async create(order: Order): Promise<{ tracking: string }> {
      if (order.address === 'nowhere') throw new RangeError('no carrier delivers to nowhere');
      remote.push(`ship ${order.id}`);
      return { tracking: `track-${order.id}` };
    }
  }

  // ---- the spec's text: src/modules/orders/orders.workflow.ts ----
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
  // ---- end ----

  // 14.2 (From NestJS): a workflow without a name is named after its class.
  @Workflow()
  export class UserWorkflow {
    @Stage({ name: 'validate' })
    async validate(data: any) {}
  }
}

it('spec 2.6: OrderProcessingWorkflow runs its stages through @InjectProcess proxies and compensates in reverse', { timeout: 60_000 }, async () => {
  const { InventoryService, PaymentService, ShippingService, OrderProcessingWorkflow, UserWorkflow, remote } = spec_2_6;
  const address = socket();
  const services = await Peer.listen(address, { name: 'services' });
  await services.expose(new InventoryService());
  await services.expose(new PaymentService());
  await services.expose(new ShippingService());
  const orders = await Peer.connect(address, { name: 'orders' }); // Peer.default: what @InjectProcess uses
  const engine = WorkflowEngine.inMemory();
  try {
    assert.equal(engine.register(OrderProcessingWorkflow), 'order-processing');
    assert.equal(engine.register(UserWorkflow), 'UserWorkflow');
    const order: spec_2_6.Order = { id: 'o1', items: [{ sku: 'book', qty: 2 }], payment: { amount: 30, card: '4242' }, address: 'Main St 1' };
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
    const lost: spec_2_6.Order = { ...order, id: 'o2', address: 'nowhere' };
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

// ==== 3.2 Process Supervision =====================================================================

namespace spec_3_2 {
  // Stubs: `this.logger`, `notifyOps` and `alertOncall` record what they are given; the two process
  // classes are in spec-examples.workers.ts (a child runs them).
  export const ops: string[] = [];

  // ---- the spec's text ----
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
  // ---- end ----
}

it('spec 3.2: ApiSupervisor runs 4 + 2 children, restarts a killed one, and its hooks see each crash and restart', { timeout: 120_000 }, async () => {
  const { ApiSupervisor, ops } = spec_3_2;
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

// ==== 3.3 Process Pools ===========================================================================

namespace spec_3_3 {
  // ---- the spec's text, plus `service: DataProcessor` (TypeScript erases `Pool<DataProcessor>` at
  // run time, so the worker is named in the options; DataProcessor is a stub in
  // spec-examples.workers.ts) ----
  @Injectable()
  export class DataProcessingService {
    @ProcessPool({
      size: 'auto', // Number of CPU cores
      strategy: 'round-robin',
      warmup: true, // Pre-spawn processes
      service: DataProcessor,
    })
    private pool: Pool<DataProcessor>;

    async processBatch(items: any[]) {
      // Automatic load distribution
      const results = await this.pool.map(items, async (item) => {
        return this.pool.exec('process', item);
      });

      return results;
    }
  }
  // ---- end ----
}

it('spec 3.3: a @ProcessPool property of an @Injectable, started by Omnitron.create', { timeout: 60_000 }, async () => {
  const { DataProcessingService } = spec_3_3;
  @Module({ providers: [DataProcessingService] })
  class SpecModule {}
  const app = await Omnitron.create(SpecModule);
  const svc = app.get(DataProcessingService);
  const items = Array.from({ length: 50 }, (_, id) => ({ id }));
  assert.deepEqual(
    await svc.processBatch(items),
    items.map(({ id }) => ({ id, done: true })),
  );
  const pool = (svc as unknown as { pool: Pool<DataProcessor> }).pool;
  const pids = pool.status().pids;
  assert.equal(pids.length, availableParallelism(), "size: 'auto' is one worker per CPU");
  await app.close();
  for (const pid of pids) await eventually(`worker ${pid} gone`, () => !alive(pid));
});

// ==== 7.3 Metrics Collection ======================================================================

namespace spec_7_3 {
  // ---- the spec's text ----
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
  // ---- end ----
}

it('spec 7.3: MetricsService records a counter, a histogram and a gauge into the global registry, served over HTTP', async () => {
  const { MetricsService } = spec_7_3;
  @Module({ providers: [MetricsService] })
  class MetricsModule {}
  const app = await Omnitron.create(MetricsModule);
  const metrics = app.get(MetricsService);
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
    await app.close();
  }
});
