// A factory or constructor that throws: DI011 naming the token, the resolution path and the module
// path, with the thrown error as `cause`. DI errors from inside a factory pass through unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, createToken, Injectable, Module, Omnitron, OmnitronError } from '@omnitron-dev/native';

class ConnectionRefused extends Error {
  constructor(readonly port: number) {
    super(`connection refused on port ${port}`);
    this.name = 'ConnectionRefused';
  }
}

const DB = createToken<object>('Database');

function appWith(dbProvider: object) {
  @Module({ providers: [{ provide: DB, ...dbProvider }], exports: [DB] })
  class DatabaseModule {}
  const REPO = createToken<object>('UserRepository');
  const USERS = createToken<object>('UserService');
  @Module({
    imports: [DatabaseModule],
    providers: [
      { provide: REPO, useFactory: (db: object) => ({ db }), inject: [DB] },
      { provide: USERS, useFactory: (repo: object) => ({ repo }), inject: [REPO] },
    ],
    exports: [USERS],
  })
  class UsersModule {}
  @Module({ imports: [UsersModule] })
  class AppModule {}
  return { AppModule, USERS };
}

/** `viaUsers`: resolved through UserService (initialize() builds Database first, on its own). */
function checkFailure(e: unknown, port: number, viaUsers = true): true {
  assert.ok(e instanceof OmnitronError);
  assert.equal(e.code, 'DI011');
  assert.equal(e.name, 'FactoryError');
  assert.match(e.message, new RegExp(`the factory of 'Database' failed: ConnectionRefused: connection refused on port ${port}`));
  if (viaUsers) assert.match(e.message, /Resolution path: UserService -> UserRepository -> Database/);
  else assert.doesNotMatch(e.message, /Resolution path/);
  assert.match(e.message, /Module path: AppModule -> UsersModule -> DatabaseModule/);
  assert.ok(e.cause instanceof ConnectionRefused, 'the factory error, with its class, is the cause');
  assert.equal((e.cause as ConnectionRefused).port, port);
  return true;
}

test('a throwing factory: DI011 with token, resolution path, module path and cause', async () => {
  const { AppModule, USERS } = appWith({
    useFactory: () => {
      throw new ConnectionRefused(5432);
    },
  });
  const c = new Container();
  c.loadRootModule(AppModule);
  assert.throws(() => c.resolve(USERS), (e) => checkFailure(e, 5432));
  await assert.rejects(c.resolveAsync(USERS), (e) => checkFailure(e, 5432));
  // Omnitron.create reports the same, from initialize().
  await assert.rejects(Omnitron.create(AppModule), (e: any) => e.code === 'DI011' && /Module path: AppModule -> UsersModule -> DatabaseModule/.test(e.message));
});

test('an async factory that rejects says the same', async () => {
  const { AppModule, USERS } = appWith({
    useFactory: async () => {
      await new Promise((r) => setTimeout(r, 1));
      throw new ConnectionRefused(6379);
    },
  });
  const c = new Container();
  c.loadRootModule(AppModule);
  await assert.rejects(c.resolveAsync(USERS), (e) => checkFailure(e, 6379));
  await assert.rejects(c.initialize(), (e) => checkFailure(e, 6379, false));
});

test('a sync-looking factory whose promise rejects says the same', async () => {
  const { AppModule, USERS } = appWith({ useFactory: () => Promise.reject(new ConnectionRefused(1)) });
  const c = new Container();
  c.loadRootModule(AppModule);
  assert.throws(() => c.resolve(USERS), (e: any) => e.code === 'DI005');
  await assert.rejects(c.resolveAsync(USERS), (e) => checkFailure(e, 1));
});

test('an async factory that fails after a sync resolve got DI005 does not crash the process', async () => {
  const { AppModule, USERS } = appWith({
    useFactory: () => new Promise((_, reject) => setTimeout(() => reject(new ConnectionRefused(2)), 5)),
  });
  const c = new Container();
  c.loadRootModule(AppModule);
  assert.throws(() => c.resolve(USERS), (e: any) => e.code === 'DI005');
  // Nobody awaits that build: its rejection must not be an unhandled one (Node would exit).
  await new Promise((r) => setTimeout(r, 30));
  await assert.rejects(c.resolveAsync(USERS), (e) => checkFailure(e, 2));
});

test('a throwing constructor is reported as constructing the class', () => {
  @Injectable()
  class Strict {
    constructor() {
      throw new TypeError('refuses to start');
    }
  }
  const c = new Container();
  c.register(Strict);
  assert.throws(() => c.resolve(Strict), (e: any) => {
    assert.equal(e.code, 'DI011');
    assert.match(e.message, /constructing 'Strict' failed: TypeError: refuses to start/);
    assert.match(e.message, /Registered in the container itself/);
    assert.ok(e.cause instanceof TypeError);
    return true;
  });
});

test('a DI error raised inside a factory passes through unchanged', async () => {
  const Missing = createToken('NotRegistered');
  const Outer = createToken('Outer');
  const c = new Container();
  c.register(Outer, { useFactory: () => c.resolve(Missing) });
  assert.throws(() => c.resolve(Outer), (e: any) => e.code === 'DI001' && /no provider for 'NotRegistered'/.test(e.message));
  const AsyncOuter = createToken('AsyncOuter');
  c.register(AsyncOuter, { useFactory: async () => c.resolveAsync(Missing) });
  await assert.rejects(c.resolveAsync(AsyncOuter), (e: any) => e.code === 'DI001');
});

test('a factory failing inside another factory shows the whole build', () => {
  const Inner = createToken('Inner');
  const Outer = createToken('Outer');
  const c = new Container();
  c.register(Inner, {
    useFactory: () => {
      throw new Error('inner broke');
    },
  });
  c.register(Outer, { useFactory: () => c.resolve(Inner) });
  assert.throws(
    () => c.resolve(Outer),
    (e: any) => e.code === 'DI011' && /the factory of 'Inner' failed: inner broke/.test(e.message) && /Resolution path: Outer -> Inner/.test(e.message),
  );
});

test('something thrown that is not an Error is kept as the cause too', () => {
  const T = createToken('Odd');
  const c = new Container();
  c.register(T, {
    useFactory: () => {
      throw 'a string'; // eslint-disable-line no-throw-literal
    },
  });
  assert.throws(() => c.resolve(T), (e: any) => e.code === 'DI011' && e.cause === 'a string' && /failed: a string/.test(e.message));
});
