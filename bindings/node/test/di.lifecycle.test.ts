import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, createToken, Injectable, OmnitronError } from '@omnitron-dev/native';

function chain(log: string[]) {
  @Injectable()
  class Database {
    async onInit() {
      await new Promise((r) => setTimeout(r, 1));
      log.push('init Database');
    }
    onDestroy() {
      log.push('destroy Database');
    }
  }
  @Injectable()
  class Repository {
    constructor(readonly db: Database) {}
    onInit() {
      log.push('init Repository');
    }
    async onDestroy() {
      log.push('destroy Repository');
    }
  }
  @Injectable()
  class Service {
    constructor(readonly repo: Repository) {}
    onInit() {
      log.push('init Service');
    }
    onDestroy() {
      log.push('destroy Service');
    }
  }
  const c = new Container();
  // Registered in the opposite order of their dependencies on purpose.
  c.register(Service);
  c.register(Repository);
  c.register(Database);
  return { c, Database, Service };
}

test('initialize runs onInit in dependency order; dispose runs onDestroy in reverse', async () => {
  const log: string[] = [];
  const { c, Service } = chain(log);
  await c.initialize();
  assert.deepEqual(log.splice(0), ['init Database', 'init Repository', 'init Service']);
  assert.ok(c.resolve(Service) instanceof Service);
  await c.initialize();
  assert.deepEqual(log, [], 'initialize twice runs nothing twice');
  await c.dispose();
  assert.deepEqual(log, ['destroy Service', 'destroy Repository', 'destroy Database']);
});

test('an async onInit makes a provider async until built', async () => {
  const log: string[] = [];
  const { c, Database } = chain(log);
  assert.throws(() => c.resolve(Database), (e: any) => e.code === 'DI005' && /async onInit hook/.test(e.message));
  await c.resolveAsync(Database);
  assert.deepEqual(log, ['init Database']);
});

test('dispose keeps going and reports every failure together', async () => {
  const log: string[] = [];
  const A = createToken('A');
  const B = createToken('B');
  const D = createToken('D');
  const errA = new Error('A broke');
  const errD = new Error('D broke');
  const c = new Container();
  c.register(A, { useFactory: () => ({ onDestroy: () => { log.push('A'); throw errA; } }) });
  c.register(B, { useFactory: () => ({ onDestroy: () => { log.push('B'); } }), inject: [A] });
  c.register(D, { useFactory: () => ({ onDestroy: async () => { log.push('D'); throw errD; } }), inject: [B] });
  c.resolve(D);
  await assert.rejects(c.dispose(), (e: unknown) => {
    assert.ok(e instanceof OmnitronError);
    assert.equal(e.code, 'DI012');
    assert.deepEqual(e.errors, [errD, errA]);
    assert.match(e.message, /2 of 3/);
    assert.match(e.message, /D broke/);
    assert.match(e.message, /A broke/);
    return true;
  });
  assert.deepEqual(log.splice(0), ['D', 'B', 'A']);
  // Idempotent: same outcome, nothing runs twice.
  await assert.rejects(c.dispose(), (e: any) => e.code === 'DI012');
  assert.deepEqual(log, []);
});

test('after dispose everything fails with DI008', async () => {
  const T = createToken<number>('T');
  const c = new Container();
  c.register(T, { useValue: 1 });
  assert.equal(c.resolve(T), 1);
  await c.dispose();
  assert.equal(c.disposed, true);
  for (const f of [() => c.resolve(T), () => c.register(createToken('U'), { useValue: 2 }), () => c.createScope()]) {
    assert.throws(f, (e: any) => e.code === 'DI008' && /disposed/.test(e.message));
  }
  await assert.rejects(c.resolveAsync(T), (e: any) => e.code === 'DI008');
  await assert.rejects(c.initialize(), (e: any) => e.code === 'DI008');
});

test('concurrent dispose runs each hook once', async () => {
  let n = 0;
  const T = createToken('T');
  const c = new Container();
  c.register(T, { useFactory: () => ({ onDestroy: async () => { await new Promise((r) => setTimeout(r, 2)); n++; } }) });
  c.resolve(T);
  await Promise.all([c.dispose(), c.dispose()]);
  assert.equal(n, 1);
});

test('resolved values with onDestroy are destroyed; never-built providers are not', async () => {
  const log: string[] = [];
  const V = createToken('V');
  const Never = createToken('Never');
  const c = new Container();
  c.register(V, { useValue: { onDestroy: () => log.push('value') } });
  c.register(Never, { useFactory: () => ({ onDestroy: () => log.push('never') }) });
  c.resolve(V);
  await c.dispose();
  assert.deepEqual(log, ['value']);
});

test('scopes dispose their own instances', async () => {
  const log: string[] = [];
  const T = createToken('PerScope');
  const c = new Container();
  c.register(T, { useFactory: () => ({ onDestroy: () => log.push('scoped') }), scope: 'scoped' });
  const s = c.createScope();
  s.resolve(T);
  await s.dispose();
  assert.deepEqual(log.splice(0), ['scoped']);
  await c.dispose();
  assert.deepEqual(log, []);
});

test('a failing onInit fails initialize', async () => {
  @Injectable()
  class Flaky {
    onInit() {
      throw new Error('not ready');
    }
  }
  const c = new Container();
  c.register(Flaky);
  await assert.rejects(c.initialize(), /not ready/);
});
