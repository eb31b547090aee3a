// Scope constants, unknown option keys, module `controllers` / `process`, and classes that need no
// decorator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Container,
  ContainerScope,
  createDynamicModule,
  createToken,
  Inject,
  Injectable,
  Module,
  Omnitron,
  OmnitronError,
  Scope,
  type ScopeName,
} from '@omnitron-dev/native';

const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof OmnitronError && e.code === c && (re === undefined || re.test(e.message));

test('Scope constants in the Nexus and NestJS spellings', () => {
  const names: ScopeName[] = [Scope.Singleton, Scope.Transient, Scope.Scoped, Scope.Request, Scope.DEFAULT, Scope.TRANSIENT, Scope.REQUEST];
  assert.deepEqual(names, ['singleton', 'transient', 'scoped', 'request', 'singleton', 'transient', 'request']);
  @Injectable({ scope: Scope.Transient })
  class PerCall {}
  @Injectable({ scope: Scope.TRANSIENT })
  class PerCallNest {}
  @Injectable({ scope: Scope.Request })
  class PerRequest {}
  @Injectable({ scope: Scope.DEFAULT })
  class Shared {}
  const c = new Container();
  for (const k of [PerCall, PerCallNest, PerRequest, Shared]) c.register(k);
  assert.notEqual(c.resolve(PerCall), c.resolve(PerCall));
  assert.notEqual(c.resolve(PerCallNest), c.resolve(PerCallNest));
  assert.equal(c.resolve(Shared), c.resolve(Shared));
  assert.throws(() => c.resolve(PerRequest), code('DI007'));
  const s = c.createScope();
  assert.ok(s instanceof ContainerScope);
  assert.equal(s.resolve(PerRequest), s.resolve(PerRequest));
  assert.notEqual(s.resolve(PerRequest), c.createScope().resolve(PerRequest));
  // Constants work in provider objects and register options too.
  const T = createToken<object>('T');
  c.register(T, { useFactory: () => ({}), scope: Scope.Transient });
  assert.notEqual(c.resolve(T), c.resolve(T));
  assert.throws(() => ((Scope as any).Transient = 'singleton'), TypeError, 'the constants are frozen');
});

test('scope: undefined (a misspelt constant) is refused, never a silent singleton', () => {
  const misspelt = (Scope as any).Transeint; // undefined
  assert.throws(() => Injectable({ scope: misspelt }), code('E001', /@Injectable\(\): scope is undefined.*misspelt Scope constant/));
  const c = new Container();
  const T = createToken('T');
  assert.throws(() => c.register(T, { useFactory: () => 1, scope: misspelt }), code('E001', /scope is undefined/));
  assert.throws(() => c.register(T, { useFactory: () => 1 }, { scope: misspelt }), code('E001', /register\(\) options: scope is undefined/));
  assert.throws(() => c.register(T, { useFactory: () => 1, scope: 3 as any }), code('E001', /scope is number 3/));
  @Module({ providers: [{ provide: T, useValue: 1, scope: misspelt }] })
  class M {}
  assert.throws(() => c.loadModule(M), code('E001', /in module 'M': scope is undefined/));
  assert.equal(c.has(T), false, 'nothing was registered');
});

test('unknown option keys are refused with E001 naming the nearest valid key', () => {
  const c = new Container();
  const T = createToken('T');
  const cases: [() => unknown, RegExp][] = [
    [() => Injectable({ scop: 'transient' } as any), /unknown option 'scop' in @Injectable\(\): did you mean 'scope'\?/],
    [() => Module({ provider: [] } as any), /unknown option 'provider' in @Module\(\): did you mean 'providers'\?/],
    [() => Module({ exprots: [] } as any), /did you mean 'exports'\?/],
    [() => c.register(T, { useValue: 1, multii: true } as any), /unknown option 'multii' in the provider of 'T': did you mean 'multi'\?/],
    [() => c.register(T, { useFactory: () => 1, injects: [] } as any), /did you mean 'inject'\?/],
    [() => c.register(T, { useValue: 1 }, { overide: true } as any), /unknown option 'overide' in register\(\) options: did you mean 'override'\?/],
    [() => c.register(T, { useFactory: () => 1, inject: [{ token: 'A', optinal: true }] } as any), /unknown option 'optinal' in inject\[0\] of 'T': did you mean 'optional'\?/],
    [() => new Container({ contxt: 1 } as any), /unknown option 'contxt' in new Container\(\): did you mean 'context'\?/],
    [() => Module({ process: { type: 'service', isolaton: 'thread' } } as any)(class Users {}), /unknown option 'isolaton' in process of module 'Users': did you mean 'isolation'\?/],
    [() => createDynamicModule(class X {}, { provider: [] } as any), /unknown option 'provider' in createDynamicModule\(\)/],
  ];
  for (const [f, re] of cases) assert.throws(f, code('E001', re), String(re));
  @Module({ providers: [{ provide: T, useValue: 1, overide: true } as any] })
  class Typo {}
  assert.throws(() => c.loadModule(Typo), code('E001', /unknown option 'overide' in a provider of module 'Typo': did you mean 'override'\?/));
  @Module({})
  class Base {}
  assert.throws(() => c.loadModule({ module: Base, provider: [] } as any), code('E001', /unknown option 'provider' in the dynamic module of 'Base'/));
  assert.equal(c.has(T), false);
});

test('Omnitron.create refuses unknown options', async () => {
  @Module({})
  class App {}
  await assert.rejects(Omnitron.create(App, { contex: 1 } as any), code('E001', /unknown option 'contex' in Omnitron.create\(\): did you mean 'context'\?/));
  await assert.rejects(Omnitron.create(App, 5 as any), code('E001'));
});

test('a provider object with two kinds is refused', () => {
  const c = new Container();
  assert.throws(() => c.register(createToken('T'), { useValue: 1, useFactory: () => 2 } as any), code('DI004', /useValue and useFactory: give exactly one/));
});

test('a class whose constructor takes no parameters needs no decorator', async () => {
  const log: string[] = [];
  class Clock {
    now(): number {
      return 42;
    }
    onInit(): void {
      log.push('clock');
    }
  }
  class WithDefaults {
    constructor(readonly retries = 3) {}
  }
  @Injectable()
  class Uses {
    constructor(readonly clock: Clock) {}
  }
  const c = new Container();
  c.register(Clock);
  c.register(WithDefaults);
  c.register(Uses);
  assert.equal(c.resolve(Uses).clock.now(), 42);
  assert.equal(c.resolve(WithDefaults).retries, 3);
  await c.initialize();
  assert.deepEqual(log, ['clock']);
  @Module({ providers: [Clock] })
  class M {}
  const app = await Omnitron.create(M);
  assert.equal(app.get(Clock).now(), 42);
});

test('an undecorated subclass of a decorated class takes its parent constructor', () => {
  @Injectable()
  class Repo {}
  @Injectable()
  class Base {
    constructor(readonly repo: Repo) {}
  }
  class Derived extends Base {}
  const c = new Container();
  c.register(Repo);
  c.register(Derived);
  assert.ok(c.resolve(Derived).repo instanceof Repo);
});

test('a class with parameters and no metadata is refused, naming the class and the fix', () => {
  const URL = createToken<string>('Url');
  class Plain {
    constructor(readonly a: unknown, readonly b: unknown) {}
  }
  const c = new Container();
  assert.throws(
    () => c.register(Plain),
    code('DI004', /class 'Plain' takes 2 constructor parameters but has no injection metadata: decorate it with @Injectable\(\).*@Inject\(token\).*explicit inject list/),
  );
  // An explicit inject list is metadata enough.
  c.register(URL, { useValue: 'pg://' });
  c.register(Plain, { useClass: Plain, inject: [URL, URL] });
  assert.equal(c.resolve(Plain).b, 'pg://');
  // @Inject on the parameters too.
  class Marked {
    constructor(@Inject(URL) readonly url: string) {}
  }
  c.register(Marked);
  assert.equal(c.resolve(Marked).url, 'pg://');
});

test('@Module controllers are providers of the module, built and injected', async () => {
  const log: string[] = [];
  @Injectable()
  class UsersService {
    find(): string {
      return 'ada';
    }
  }
  @Injectable()
  class UsersController {
    constructor(readonly users: UsersService) {
      log.push('controller built');
    }
  }
  @Module({ controllers: [UsersController], providers: [UsersService], exports: [UsersService] })
  class UsersModule {}
  const app = await Omnitron.create(UsersModule);
  assert.deepEqual(log, ['controller built'], 'initialize() built it');
  assert.equal(app.get(UsersController).users.find(), 'ada');
  @Module({ controllers: ['nope' as any] })
  class Bad {}
  assert.throws(() => new Container().loadModule(Bad), code('DI013', /lists "nope" as a controller/));
});

test('@Module process is checked and recorded, not acted upon', async () => {
  @Injectable()
  class Worker {}
  @Module({ providers: [Worker], process: { type: 'service', instances: 'auto', isolation: 'thread' } })
  class UsersModule {}
  @Module({ providers: [], process: { type: 'worker', instances: 4, isolation: 'process' } })
  class Workers {}
  const app = await Omnitron.create(UsersModule);
  assert.ok(app.get(Worker) instanceof Worker, 'runs in this process');
  await Omnitron.create(Workers);
  const bad: [unknown, string, RegExp][] = [
    [{ type: 'daemon' }, 'DI013', /module 'M': process.type 'daemon' is not one of 'main', 'gateway', 'service', 'worker', 'scheduler', 'queue'/],
    [{ instances: 0 }, 'DI013', /process.instances must be 'auto' or a whole number of at least 1, got 0/],
    [{ instances: 1.5 }, 'DI013', /got 1.5/],
    [{ instances: 'many' }, 'DI013', /got many/],
    [{ isolation: 'fiber' }, 'DI013', /process.isolation must be 'thread' or 'process', got 'fiber'/],
    [{ type: 7 }, 'E001', /process of module 'M': type must be a string, got number 7/],
    [{ instances: true }, 'E001', /instances must be a number or 'auto'/],
    ['service', 'E001', /process of module 'M' must be an object/],
  ];
  for (const [process, c, re] of bad) {
    assert.throws(() => Module({ name: 'M', process } as any)(class M {}), code(c, re), String(re));
  }
});
