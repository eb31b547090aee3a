import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, createToken, Global, Injectable, Inject, Module, Omnitron, OmnitronError, type DynamicModule } from '@omnitron-dev/native';

const Connection = createToken<string>('Connection');
const Secret = createToken<number>('Secret');
const DbOptions = createToken<{ url: string }>('DbOptions');

@Module({})
class DatabaseModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: DbOptions, useValue: { url } },
        { provide: Connection, useFactory: (o: { url: string }) => `conn:${o.url}`, inject: [DbOptions] },
        { provide: Secret, useValue: 42 },
      ],
      exports: [Connection],
    };
  }
}

@Injectable()
class UserRepository {
  constructor(@Inject(Connection) readonly conn: string) {}
}

test('exported providers are visible to importers only', async () => {
  @Module({ imports: [DatabaseModule.forRoot('pg://a')], providers: [UserRepository], exports: [UserRepository] })
  class UsersModule {}
  @Module({ imports: [UsersModule] })
  class AppModule {}

  const app = await Omnitron.create(AppModule);
  assert.equal(app.get(UserRepository).conn, 'conn:pg://a');
  assert.throws(() => app.get(Connection), (e: any) => e.code === 'DI010' && /Import module 'DatabaseModule'/.test(e.message));
  assert.throws(
    () => app.get(Secret),
    (e: any) => e.code === 'DI010' && /Add 'Secret' to the exports of module 'DatabaseModule'/.test(e.message),
  );
  await app.close();
});

test('a dependency on an unexported provider names the fix and the path', () => {
  @Injectable()
  class Consumer {
    constructor(@Inject(Secret) readonly s: number) {}
  }
  @Module({ imports: [DatabaseModule.forRoot('pg://b')], providers: [Consumer] })
  class AppModule {}
  const c = new Container();
  c.loadRootModule(AppModule);
  assert.throws(() => c.resolve(Consumer), (e: any) => e.code === 'DI010' && /Consumer -> Secret/.test(e.message));
});

test('omitted exports export everything; empty exports export nothing', async () => {
  const A = createToken<number>('A');
  const B = createToken<number>('B');
  @Module({ providers: [{ provide: A, useValue: 1 }] })
  class Open {}
  @Module({ providers: [{ provide: B, useValue: 2 }], exports: [] })
  class Closed {}
  @Module({ imports: [Open, Closed] })
  class App {}
  const app = await Omnitron.create(App);
  assert.equal(app.get(A), 1);
  assert.throws(() => app.get(B), (e: any) => e.code === 'DI010');
});

test('global modules need no import', async () => {
  const Logger = createToken<string>('Logger');
  @Global()
  @Module({ providers: [{ provide: Logger, useValue: 'log' }] })
  class LoggingModule {}
  @Injectable()
  class Svc {
    constructor(@Inject(Logger) readonly logger: string) {}
  }
  @Module({ providers: [Svc], exports: [Svc] })
  class FeatureModule {}
  @Module({ imports: [LoggingModule, FeatureModule] })
  class App {}
  const app = await Omnitron.create(App);
  assert.equal(app.get(Svc).logger, 'log');
});

test('re-exported modules pass their exports on', async () => {
  const Shared = createToken<number>('Shared');
  @Module({ providers: [{ provide: Shared, useValue: 9 }] })
  class CoreModule {}
  @Module({ imports: [CoreModule], exports: [CoreModule] })
  class CommonModule {}
  @Module({ imports: [CommonModule] })
  class App {}
  assert.equal((await Omnitron.create(App)).get(Shared), 9);
});

test('circular module imports are refused and name the loop', async () => {
  const a: any = { imports: [] };
  @Module(a)
  class ModuleA {}
  @Module({ imports: [ModuleA] })
  class ModuleB {}
  a.imports.push(ModuleB);
  await assert.rejects(
    Omnitron.create(ModuleA),
    (e: any) => e instanceof OmnitronError && e.code === 'DI009' && /ModuleA -> ModuleB -> ModuleA/.test(e.message),
  );
});

test('importing something that is not a module is a clear error', async () => {
  class NotAModule {}
  @Module({ imports: [NotAModule] })
  class App {}
  await assert.rejects(Omnitron.create(App), (e: any) => e.code === 'DI013' && /NotAModule/.test(e.message) && /@Module/.test(e.message));
  @Module({ imports: [undefined as any] })
  class App2 {}
  await assert.rejects(Omnitron.create(App2), (e: any) => e.code === 'DI013' && /undefined/.test(e.message));
});

test('exporting what a module does not have is refused', async () => {
  @Module({ exports: [Secret] })
  class Liar {}
  await assert.rejects(Omnitron.create(Liar), (e: any) => e.code === 'DI013' && /'Liar' exports 'Secret'/.test(e.message));
});

test('the same token in two modules stays private to each', async () => {
  const Name = createToken<string>('Name');
  const AOut = createToken<string>('AOut');
  const BOut = createToken<string>('BOut');
  @Module({
    providers: [{ provide: Name, useValue: 'a' }, { provide: AOut, useFactory: (n: string) => n, inject: [Name] }],
    exports: [AOut],
  })
  class A {}
  @Module({
    providers: [{ provide: Name, useValue: 'b' }, { provide: BOut, useFactory: (n: string) => n, inject: [Name] }],
    exports: [BOut],
  })
  class B {}
  @Module({ imports: [A, B] })
  class App {}
  const app = await Omnitron.create(App);
  assert.equal(app.get(AOut), 'a');
  assert.equal(app.get(BOut), 'b');
});

test('a module imported twice is loaded once', async () => {
  let n = 0;
  const T = createToken<number>('Once');
  @Module({ providers: [{ provide: T, useFactory: () => ++n }] })
  class Shared {}
  @Module({ imports: [Shared] })
  class A {}
  @Module({ imports: [Shared] })
  class B {}
  @Module({ imports: [A, B, Shared] })
  class App {}
  const app = await Omnitron.create(App);
  assert.equal(app.get(T), 1);
  app.container.loadModule(Shared);
  assert.equal(app.get(T), 1);
});

test('Omnitron.create initializes, close disposes', async () => {
  const log: string[] = [];
  @Injectable()
  class Db {
    onInit() {
      log.push('init');
    }
    onDestroy() {
      log.push('destroy');
    }
  }
  @Module({ providers: [Db] })
  class App {}
  const app = await Omnitron.create(App);
  assert.deepEqual(log, ['init']);
  await app.close();
  assert.deepEqual(log, ['init', 'destroy']);
  assert.throws(() => app.get(Db), (e: any) => e.code === 'DI008');
});
