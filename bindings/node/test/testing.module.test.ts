// Test.createTestingModule: overrides replace providers in the engine's graph (in imported modules
// too), compile() initializes, errors keep their codes, and bad input is refused with E001.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as pkg from '@omnitron-dev/native';
import {
  CONTEXT,
  Inject,
  Injectable,
  Module,
  OmnitronError,
  Scoped,
  Test,
  TestingModule,
  createMock,
  createToken,
  type DeepMocked,
} from '@omnitron-dev/native';
import * as testing from '@omnitron-dev/native/testing';

const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof OmnitronError && e.code === c && (re === undefined || re.test(e.message));

let realRepositories = 0;

@Injectable()
class Database {
  constructor() {
    throw new Error('no database in unit tests');
  }
}

@Injectable()
class OrderRepository {
  constructor(readonly db: Database) {
    realRepositories++;
  }
  find(id: string): Promise<{ id: string; total: number }> {
    throw new Error(`real lookup of ${id}`);
  }
}

@Injectable()
class OrderService {
  constructor(readonly orders: OrderRepository) {}
  async total(id: string): Promise<number> {
    return (await this.orders.find(id)).total;
  }
}

@Module({ providers: [Database, OrderRepository, OrderService], exports: [OrderService] })
class OrdersModule {}

@Injectable()
class InMemoryOrders {
  find(id: string) {
    return Promise.resolve({ id, total: 42 });
  }
}

test('the testing utilities are exported from the package and from @omnitron-dev/native/testing', () => {
  assert.equal(testing.Test, pkg.Test);
  assert.equal(testing.createMock, pkg.createMock);
  assert.equal(testing.TestingModule, pkg.TestingModule);
});

test('overrideProvider().useValue replaces a provider inside an imported module, which uses it', async () => {
  const repo = createMock<OrderRepository>();
  repo.find.mockResolvedValue({ id: 'o1', total: 99 });
  const module = await Test.createTestingModule({ imports: [OrdersModule] })
    .overrideProvider(OrderRepository)
    .useValue(repo)
    .overrideProvider(Database)
    .useValue({})
    .compile();
  try {
    assert.ok(module instanceof TestingModule);
    const service = module.get(OrderService);
    assert.equal(service.orders, repo, 'the module-internal dependency is the override');
    assert.equal(await service.total('o1'), 99);
    assert.deepEqual(repo.find.mock.calls, [['o1']]);
    assert.equal(realRepositories, 0, 'the real repository was never built');
    // OrdersModule exports only OrderService: the engine still refuses what it does not export.
    assert.throws(() => module.get(OrderRepository), code('DI010'));
  } finally {
    await module.close();
  }
});

test('overrideProvider().useClass and .useFactory({ factory, inject }) build the replacement with its dependencies', async () => {
  // compile() builds every singleton, so the Database that nothing uses any more is replaced too.
  const a = await Test.createTestingModule({ imports: [OrdersModule] })
    .overrideProvider(OrderRepository)
    .useClass(InMemoryOrders)
    .overrideProvider(Database)
    .useValue({})
    .compile();
  try {
    assert.ok(a.get(OrderService).orders instanceof InMemoryOrders);
    assert.equal(await a.get(OrderService).total('x'), 42);
  } finally {
    await a.close();
  }

  // A replacement is declared where the provider was: its dependencies are what that module sees.
  const b = await Test.createTestingModule({ imports: [OrdersModule] })
    .overrideProvider(Database)
    .useValue({ rate: 7 })
    .overrideProvider(OrderRepository)
    .useFactory({ factory: (db: { rate: number }) => ({ find: async (id: string) => ({ id, total: db.rate * 6 }) }), inject: [Database] })
    .compile();
  try {
    assert.equal(await b.get(OrderService).total('y'), 42);
  } finally {
    await b.close();
  }
  const RATE = createToken<number>('RATE');
  await assert.rejects(
    Test.createTestingModule({ imports: [OrdersModule], providers: [{ provide: RATE, useValue: 7 }] })
      .overrideProvider(Database)
      .useValue({})
      .overrideProvider(OrderRepository)
      .useFactory({ factory: (rate: number) => rate, inject: [RATE] })
      .compile(),
    code('DI010', /'RATE' is provided by module 'TestingModule' but is not visible from module 'OrdersModule'/),
  );
  // The last override of a token wins; an async factory is awaited by compile().
  const c = await Test.createTestingModule({ providers: [OrderService] })
    .overrideProvider(OrderRepository)
    .useValue({ find: async () => ({ id: 'v', total: 1 }) })
    .overrideProvider(OrderRepository)
    .useFactory({ factory: async () => ({ find: async () => ({ id: 'f', total: 2 }) }) })
    .compile();
  try {
    assert.equal(await c.get(OrderService).total('z'), 2);
    assert.equal(realRepositories, 0);
  } finally {
    await c.close();
  }
});

test('an override of a token nobody provides is provided by the testing module', async () => {
  const module = await Test.createTestingModule({ providers: [OrderService] })
    .overrideProvider(OrderRepository)
    .useValue(new InMemoryOrders())
    .compile();
  try {
    assert.equal(await module.get(OrderService).total('a'), 42);
  } finally {
    await module.close();
  }
});

test('a module imported twice stays one module with overrides; overrideModule swaps a module', async () => {
  let built = 0;
  @Injectable()
  class Clock {
    constructor() {
      built++;
    }
  }
  @Module({ providers: [Clock] })
  class ClockModule {}
  @Injectable()
  class A {
    constructor(readonly clock: Clock) {}
  }
  @Injectable()
  class B {
    constructor(readonly clock: Clock) {}
  }
  @Module({ imports: [ClockModule], providers: [A], exports: [A] })
  class AModule {}
  @Module({ imports: [ClockModule], providers: [B], exports: [B] })
  class BModule {}

  const module = await Test.createTestingModule({ imports: [AModule, BModule] }).overrideProvider('unused').useValue(1).compile();
  try {
    assert.equal(module.get(A).clock, module.get(B).clock);
    assert.equal(built, 1);
  } finally {
    await module.close();
  }

  class FakeClock {}
  @Module({ providers: [{ provide: Clock, useClass: FakeClock, inject: [] }] })
  class FakeClockModule {}
  const swapped = await Test.createTestingModule({ imports: [AModule, BModule] }).overrideModule(ClockModule).useModule(FakeClockModule).compile();
  try {
    assert.ok(swapped.get(A).clock instanceof FakeClock);
    assert.equal(swapped.get(A).clock, swapped.get(B).clock);
    assert.equal(built, 1, 'the real module was not loaded');
  } finally {
    await swapped.close();
  }

  // A module imported in its dynamic form (`forRoot()`) is replaced all the same.
  @Module({})
  class ConfigModule {
    static forRoot() {
      return { module: ConfigModule, providers: [Clock], exports: [Clock] };
    }
  }
  @Module({ imports: [ConfigModule.forRoot()], providers: [A], exports: [A] })
  class UsesConfig {}
  const dyn = await Test.createTestingModule({ imports: [UsesConfig] }).overrideModule(ConfigModule).useModule(FakeClockModule).compile();
  try {
    assert.ok(dyn.get(A).clock instanceof FakeClock);
    assert.equal(built, 1);
  } finally {
    await dyn.close();
  }
});

test('controllers are built and injected, as in a @Module', async () => {
  @Injectable()
  class UsersService {}
  @Injectable()
  class UsersController {
    constructor(readonly users: UsersService) {}
  }
  const module = await Test.createTestingModule({ controllers: [UsersController], providers: [UsersService] }).compile();
  try {
    assert.equal(module.get(UsersController).users, module.get(UsersService));
  } finally {
    await module.close();
  }
});

test('compile() runs the onInit hooks (initialize), close() the onDestroy hooks; resolve, scopes and CONTEXT work', async () => {
  const events: string[] = [];
  @Injectable()
  class Cache {
    ready = false;
    async onInit() {
      await new Promise((r) => setImmediate(r));
      this.ready = true;
      events.push('init');
    }
    onDestroy() {
      events.push('destroy');
    }
  }
  @Scoped()
  class RequestInfo {
    constructor(@Inject(CONTEXT) readonly ctx: { user: string }) {}
  }
  const SETTINGS = createToken<{ url: string }>('SETTINGS');
  const module = await Test.createTestingModule(
    {
      providers: [Cache, RequestInfo, { provide: SETTINGS, useFactory: async () => ({ url: 'mem://' }) }],
    },
    { context: { user: 'root' } },
  ).compile();
  assert.deepEqual(events, ['init']);
  assert.equal(module.get(Cache).ready, true);
  assert.deepEqual(await module.resolve(SETTINGS), { url: 'mem://' });
  assert.deepEqual(await module.getAsync(SETTINGS), { url: 'mem://' });
  assert.equal(module.has(SETTINGS), true);
  assert.equal(module.has('nothing'), false);
  assert.equal(module.get(CONTEXT).user, 'root');
  assert.throws(() => module.get(RequestInfo), code('DI007'));
  const scope = module.createScope({ user: 'ada' });
  assert.equal(scope.resolve(RequestInfo).ctx.user, 'ada');
  await scope.dispose();
  await module.close();
  await module.close();
  assert.deepEqual(events, ['init', 'destroy']);
  assert.throws(() => module.get(Cache), code('DI008'));
});

test('errors keep the engine codes: a missing provider fails compile() with DI001 naming it; a throwing hook fails it too', async () => {
  await assert.rejects(Test.createTestingModule({ providers: [OrderService] }).compile(), code('DI001', /OrderRepository/));
  let destroyed = 0;
  @Injectable()
  class Good {
    onDestroy() {
      destroyed++;
    }
  }
  @Injectable()
  class Bad {
    constructor(readonly good: Good) {}
    onInit() {
      throw new RangeError('bad init');
    }
  }
  await assert.rejects(Test.createTestingModule({ providers: [Good, Bad] }).compile(), /bad init/);
  assert.equal(destroyed, 1, 'what compile() built before the failure was disposed');
  @Module({ imports: [class NotAModule {}] })
  class Broken {}
  await assert.rejects(Test.createTestingModule({ imports: [Broken] }).overrideProvider('x').useValue(1).compile(), code('DI013', /NotAModule/));
  await assert.rejects(Test.createTestingModule({ imports: [Broken] }).compile(), code('DI013', /NotAModule/));
});

test('bad input is refused with E001: unknown keys name the nearest valid one', () => {
  assert.throws(() => Test.createTestingModule({ provider: [] } as any), code('E001', /'provider'.*'providers'/s));
  assert.throws(() => Test.createTestingModule({ controllers: OrderService } as any), code('E001', /'controllers' must be an array/));
  assert.throws(() => Test.createTestingModule({ providers: OrderService } as any), code('E001', /'providers' must be an array/));
  assert.throws(() => Test.createTestingModule('x' as any), code('E001'));
  assert.throws(() => Test.createTestingModule({}, { contxt: 1 } as any), code('E001', /'contxt'.*'context'/s));
  const b = Test.createTestingModule({ providers: [OrderService] });
  assert.throws(() => b.overrideProvider(undefined as any), code('E001'));
  assert.throws(() => b.overrideProvider(42 as any), code('E001'));
  assert.throws(() => b.overrideProvider(OrderRepository).useClass('x' as any), code('E001'));
  assert.throws(() => b.overrideProvider(OrderRepository).useFactory((() => 1) as any), code('E001', /useFactory\(\{ factory/));
  assert.throws(() => b.overrideProvider(OrderRepository).useFactory({ factory: () => 1, injects: [] } as any), code('E001', /'injects'.*'inject'/s));
  assert.throws(() => b.overrideProvider(OrderRepository).useFactory({ factory: 1 } as any), code('E001'));
  assert.throws(() => b.overrideModule(null as any), code('E001'));
  assert.throws(() => b.overrideModule(OrdersModule).useModule(7 as any), code('E001'));
});

test('a mocked dependency does not get lifecycle hooks called on it', async () => {
  const repo: DeepMocked<OrderRepository> = createMock<OrderRepository>();
  const module = await Test.createTestingModule({ providers: [OrderService, { provide: OrderRepository, useValue: repo }] }).compile();
  await module.close();
  assert.equal((repo as unknown as { onInit?: unknown }).onInit, undefined);
  assert.equal((repo as unknown as { onDestroy?: unknown }).onDestroy, undefined);
});
