// Edge cases found in review: runtime loops, promise-returning hooks and factories, inheritance,
// dispose racing builds, failed bootstraps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container, createToken, Inject, Injectable, Module, Omnitron, OmnitronError, InjectAll, Peer, Public, Service } from '@omnitron-dev/native';

test('a factory resolving its own token is a loop error, not a stack overflow', () => {
  const A = createToken<number>('A');
  const B = createToken<number>('B');
  const c = new Container();
  c.register(A, { useFactory: () => c.resolve(B) + 1, scope: 'transient' });
  c.register(B, { useFactory: () => c.resolve(A) + 1, scope: 'transient' });
  assert.throws(() => c.resolve(A), (e: any) => e.code === 'DI002' && /at run time/.test(e.message) && /A -> B -> A/.test(e.message));
  // The container still works afterwards.
  const D = createToken<number>('D');
  c.register(D, { useValue: 4 });
  assert.equal(c.resolve(D), 4);
});

test('an async factory awaiting its own token is a loop error, not a hang', async () => {
  const S = createToken<number>('Self');
  const c = new Container();
  c.register(S, { useFactory: async () => (await c.resolveAsync(S)) + 1 });
  await assert.rejects(c.resolveAsync(S), (e: any) => e.code === 'DI002' && /Self -> Self/.test(e.message));
});

test('a sync-looking factory that returns a promise: DI005 synchronously, awaited asynchronously, built once', async () => {
  let calls = 0;
  const Conn = createToken<string>('Conn');
  const c = new Container();
  c.register(Conn, { useFactory: () => { calls++; return Promise.resolve('connected'); } });
  assert.throws(() => c.resolve(Conn), (e: any) => e.code === 'DI005' && /resolveAsync/.test(e.message));
  assert.equal(await c.resolveAsync(Conn), 'connected');
  assert.equal(c.resolve(Conn), 'connected');
  assert.equal(calls, 1, 'the sync attempt and the async resolve share one build');
});

test('an onInit that returns a promise (no async keyword) is awaited by initialize', async () => {
  const log: string[] = [];
  @Injectable()
  class Pool {
    onInit() {
      return new Promise<void>((r) => setTimeout(() => { log.push('connected'); r(); }, 1));
    }
  }
  const c = new Container();
  c.register(Pool);
  await c.initialize();
  assert.deepEqual(log, ['connected']);
  assert.ok(c.resolve(Pool) instanceof Pool);
});

test('a rejecting promise-returning onInit fails initialize without an unhandled rejection', async () => {
  @Injectable()
  class Broken {
    onInit() {
      return Promise.reject(new Error('no database'));
    }
  }
  const c = new Container();
  c.register(Broken);
  assert.ok(c.resolve(Broken) instanceof Broken, 'resolving runs no hook, so nothing is async');
  await assert.rejects(c.initialize(), (e: any) => e.code === 'DI012' && /no database/.test(e.message) && e.cause?.message === 'no database');
});

test('factory-built singletons get onInit too, from initialize()', async () => {
  const log: string[] = [];
  const R = createToken<{ onInit(): void }>('Res');
  const c = new Container();
  c.register(R, { useFactory: () => ({ onInit: () => log.push('init'), onDestroy: () => log.push('destroy') }) });
  c.resolve(R);
  assert.deepEqual(log, []);
  await c.initialize();
  await c.dispose();
  assert.deepEqual(log, ['init', 'destroy']);
});

test("a subclass without its own constructor inherits its parent's dependencies", () => {
  const Url = createToken<string>('Url');
  @Injectable()
  class Repo {}
  @Injectable()
  class Base {
    @Inject(Url) url!: string;
    constructor(readonly repo: Repo) {}
  }
  @Injectable()
  class Derived extends Base {}
  const c = new Container();
  c.register(Repo);
  c.register(Url, { useValue: 'pg://' });
  c.register(Derived);
  const d = c.resolve(Derived);
  assert.ok(d.repo instanceof Repo);
  assert.equal(d.url, 'pg://');
});

test('an instance finished after dispose is destroyed and reported as DI008', async () => {
  const log: string[] = [];
  @Injectable()
  class Slow {
    async onInit() {
      await c.dispose();
    }
    onDestroy() {
      log.push('destroyed');
    }
  }
  const c = new Container();
  c.register(Slow);
  await assert.rejects(c.initialize(), (e: any) => e.code === 'DI008');
  assert.deepEqual(log, ['destroyed']);
});

test('Omnitron.create destroys what it built when initialization fails', async () => {
  const log: string[] = [];
  @Injectable()
  class Db {
    onInit() { log.push('db open'); }
    onDestroy() { log.push('db closed'); }
  }
  @Injectable()
  class Svc {
    constructor(readonly db: Db) {}
    onInit() { throw new Error('svc broken'); }
  }
  @Module({ providers: [Db, Svc] })
  class App {}
  await assert.rejects(Omnitron.create(App), /svc broken/);
  assert.deepEqual(log, ['db open', 'db closed']);
});

test('resolveAll on a disposed scope is refused', async () => {
  const P = createToken('P');
  const c = new Container();
  c.register(P, { useFactory: () => ({}), scope: 'scoped' }, { multi: true });
  const s = c.createScope();
  await s.dispose();
  assert.throws(() => s.resolveAll(P), (e: any) => e.code === 'DI008');
});

test('chains deeper than the engine limit are refused with DI015', () => {
  const c = new Container();
  const tokens = Array.from({ length: 300 }, (_, i) => createToken<number>(`T${i}`));
  c.register(tokens[299], { useValue: 0 });
  for (let i = 298; i >= 0; i--) c.register(tokens[i], { useFactory: (x: number) => x + 1, inject: [tokens[i + 1]] });
  assert.throws(() => c.resolve(tokens[0]), (e: any) => e.code === 'DI015' && e.name === 'DependencyTooDeepError' && /limit of 256/.test(e.message));
  assert.equal(c.resolve(tokens[44]), 255);
});

test('a same-named token gets a hint, and messages speak TypeScript', () => {
  const c = new Container();
  c.register('Config', { useValue: 1 });
  assert.throws(() => c.resolve(createToken('Config')), (e: any) => /A different token named 'Config' is registered/.test(e.message));
  c.register(createToken('Scoped'), { useValue: 1 });
  const S = createToken('PerRequest');
  c.register(S, { useFactory: () => 1, scope: 'scoped' });
  assert.throws(() => c.resolve(S), (e: any) => /container\.createScope\(\)/.test(e.message));
  assert.throws(() => c.register('Config', { useValue: 2 }), (e: any) => /override: true/.test(e.message));
});

test('@InjectAll(undefined) is a clear error', () => {
  assert.throws(() => InjectAll(undefined as any), (e: unknown) => e instanceof OmnitronError && e.code === 'E001');
});

test('a value provider cannot be transient', () => {
  const c = new Container();
  assert.throws(() => c.register(createToken('V'), { useValue: 1 }, { scope: 'transient' }), (e: any) => e.code === 'DI004');
});

test('two containers building at once do not take each other for a loop', async () => {
  const X = createToken<number>('X');
  const Y = createToken<number>('Y');
  const b = new Container();
  b.register(Y, { useFactory: async () => 2 });
  const a = new Container();
  // X and Y have the same provider id in their containers.
  a.register(X, { useFactory: async () => (await b.resolveAsync(Y)) + 1 });
  assert.equal(await a.resolveAsync(X), 3);
});

test('an instance with a then method is not taken for a promise by initialize() or Omnitron.create({ peer })', { timeout: 10_000 }, async () => {
  let inits = 0;
  @Injectable()
  class QueryLike {
    then(): string {
      return 'not a promise';
    }
    onInit(): void {
      inits++;
    }
  }
  @Service('thenable')
  class Thenable {
    @Public()
    then(): string {
      return 'remote then';
    }
  }
  @Module({ providers: [QueryLike, Thenable] })
  class M {}
  const server = await Peer.listen(`unix:${mkdtempSync(join(tmpdir(), 'omni-then-'))}/rpc.sock`);
  try {
    const app = await Omnitron.create(M, { peer: server });
    assert.equal(inits, 1);
    assert.equal(app.get(QueryLike).then(), 'not a promise');
    assert.deepEqual(server.services().map((s) => s.name), ['thenable']);
    await app.close();
  } finally {
    await server.close();
  }
});
