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

test('resolving never runs onInit, and an async onInit does not make a provider async', async () => {
  const log: string[] = [];
  const { c, Database, Service } = chain(log);
  const svc = c.resolve(Service);
  assert.ok(svc instanceof Service);
  assert.ok((await c.resolveAsync(Database)) instanceof Database);
  assert.deepEqual(log, [], 'neither resolve nor resolveAsync ran a hook');
  await c.initialize();
  assert.deepEqual(log, ['init Database', 'init Repository', 'init Service'], 'on the instances already built');
  assert.equal(c.resolve(Service), svc);
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

test('a failing onInit fails initialize with DI012 naming it, and runs again next time', async () => {
  class NotReady extends Error {}
  let tries = 0;
  @Injectable()
  class Flaky {
    onInit() {
      if (tries++ === 0) throw new NotReady('not ready');
    }
  }
  const c = new Container();
  c.register(Flaky);
  await assert.rejects(c.initialize(), (e: any) => {
    assert.equal(e.code, 'DI012');
    assert.equal(e.name, 'LifecycleError');
    assert.match(e.message, /onInit of 'Flaky' failed: not ready/);
    assert.match(e.message, /Registered in the container itself/);
    assert.ok(e.cause instanceof NotReady);
    return true;
  });
  await c.initialize();
  assert.equal(tries, 2);
});

test('initialize again does only what was registered or built since, each hook once per instance', async () => {
  const log: string[] = [];
  const { c } = chain(log);
  await c.initialize();
  log.splice(0);

  @Injectable()
  class Late {
    onInit() {
      log.push('init Late');
    }
  }
  const Same = createToken<object>('Same');
  c.register(Late);
  // A second provider giving the very same instance: its hook still runs once.
  c.register(Same, { useFactory: (late: Late) => late, inject: [Late] });
  const late = c.resolve(Late);
  assert.deepEqual(log, [], 'built by a resolve after initialize(): not initialized yet');
  await c.initialize();
  assert.deepEqual(log.splice(0), ['init Late']);
  assert.equal(c.resolve(Late), late, 'the instance built before is the one initialized');
  await c.initialize();
  assert.deepEqual(log, []);
});

test('transient and scoped instances are never initialized by the container', async () => {
  const log: string[] = [];
  @Injectable({ scope: 'transient' })
  class PerCall {
    onInit() {
      log.push('transient');
    }
  }
  @Injectable({ scope: 'scoped' })
  class PerRequest {
    onInit() {
      log.push('scoped');
    }
  }
  const c = new Container();
  c.register(PerCall);
  c.register(PerRequest);
  c.resolve(PerCall);
  c.createScope().resolve(PerRequest);
  await c.initialize();
  c.resolve(PerCall);
  assert.deepEqual(log, []);
});

test('hooks run dependencies first even when the dependent was built first', async () => {
  const log: string[] = [];
  const { c, Service } = chain(log);
  c.resolve(Service); // builds all three, runs nothing
  await c.initialize();
  assert.deepEqual(log, ['init Database', 'init Repository', 'init Service']);
});

test('a dependent built during initialize() sees its dependencies initialized', async () => {
  const seen: boolean[] = [];
  @Injectable()
  class Conn {
    open = false;
    async onInit() {
      await new Promise((r) => setTimeout(r, 1));
      this.open = true;
    }
  }
  @Injectable()
  class Repo {
    constructor(conn: Conn) {
      seen.push(conn.open);
    }
  }
  const c = new Container();
  c.register(Repo);
  c.register(Conn);
  await c.initialize();
  assert.deepEqual(seen, [true]);
});

test('initialize() called from a hook of the same container is DI012, not a hang', async () => {
  const c = new Container();
  let inner: unknown;
  @Injectable()
  class Reentrant {
    async onInit() {
      inner = await c.initialize().catch((e) => e);
    }
  }
  c.register(Reentrant);
  await c.initialize();
  assert.ok(inner instanceof OmnitronError && inner.code === 'DI012' && /from inside initialize\(\)/.test(inner.message));
});

test('concurrent initialize() runs each hook once', async () => {
  const log: string[] = [];
  const { c } = chain(log);
  await Promise.all([c.initialize(), c.initialize(), c.initialize()]);
  assert.deepEqual(log, ['init Database', 'init Repository', 'init Service']);
});

test('a DI error thrown by a hook passes through unchanged', async () => {
  const Missing = createToken('Missing');
  const c = new Container();
  @Injectable()
  class Looks {
    onInit() {
      c.resolve(Missing);
    }
  }
  c.register(Looks);
  await assert.rejects(c.initialize(), (e: any) => e.code === 'DI001' && /no provider for 'Missing'/.test(e.message));
});
