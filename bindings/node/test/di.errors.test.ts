import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, createToken, Injectable, Inject, OmnitronError, isOmnitronError } from '@omnitron-dev/native';

test('a cycle names the whole path', () => {
  const A = createToken('A');
  const B = createToken('B');
  const C = createToken('C');
  const c = new Container();
  c.register(A, { useFactory: () => 1, inject: [B] });
  c.register(B, { useFactory: () => 1, inject: [C] });
  c.register(C, { useFactory: () => 1, inject: [A] });
  assert.throws(() => c.resolve(A), (e: any) => e.code === 'DI002' && e.name === 'CircularDependencyError' && /A -> B -> C -> A/.test(e.message));
  assert.throws(() => c.resolve(B), /B -> C -> A -> B/);
});

test('a class cycle through constructor types is found', () => {
  const BToken = createToken('BRef');
  @Injectable()
  class First {
    constructor(@Inject(BToken) readonly b: unknown) {}
  }
  const c = new Container();
  c.register(First);
  c.register(BToken, { useFactory: (f: First) => f, inject: [First] });
  assert.throws(() => c.resolve(First), (e: any) => e.code === 'DI002' && /First -> BRef -> First/.test(e.message));
});

test('a missing provider names token, dependent, path, suggestions and fixes', () => {
  const Repo = createToken('UserRepository');
  const Db = createToken('Database');
  @Injectable()
  class UserService {
    constructor(@Inject(Repo) readonly repo: unknown) {}
  }
  const c = new Container();
  c.register(UserService);
  c.register(Repo, { useFactory: () => 1, inject: ['Databse'] });
  c.register(Db, { useValue: 1 });
  try {
    c.resolve(UserService);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isOmnitronError(e, 'DI001'));
    assert.equal(e.name, 'MissingProviderError');
    assert.match(e.message, /no provider for 'Databse' \(required by 'UserRepository'\)/);
    assert.match(e.message, /UserService -> UserRepository -> Databse/);
    assert.match(e.message, /Did you mean 'Database'\?/);
    assert.match(e.message, /Add 'Databse' to the providers/);
    assert.match(e.message, /Import a module that exports/);
    assert.match(e.message, /@Injectable\(\)/);
  }
});

test('an error is an OmnitronError and an Error', () => {
  const c = new Container();
  assert.throws(() => c.resolve('nothing'), (e: unknown) => e instanceof OmnitronError && e instanceof Error);
});

test('every code has its own class, under its family, and engine errors are raised as it', async () => {
  const errors = await import('@omnitron-dev/native');
  const { ErrorCodes, errorFor, MissingProviderError, DIError, RemoteError, RpcError, TimeoutError } = errors;
  // Each code of the table is a constant, and errorFor gives that code's class.
  const ids = Object.values(ErrorCodes);
  for (const id of ['E001', 'E002', 'E007', 'DI015', 'RPC008', 'WF016']) assert.ok(ids.includes(id as never), id);
  for (const id of new Set(ids)) {
    const e = errorFor(id, 'm');
    assert.equal(e.code, id);
    assert.ok(e instanceof OmnitronError);
    assert.notEqual(e.constructor, OmnitronError, `${id} has its own class`);
    assert.equal(e.name, e.constructor.name);
  }
  assert.equal(ErrorCodes.REMOTE_ERROR, ErrorCodes.HANDLER_FAILED, 'the old name stays');
  assert.ok(errorFor('RPC008', 'm') instanceof RemoteError && errorFor('RPC008', 'm') instanceof RpcError);
  assert.ok(errorFor('E006', 'm') instanceof TimeoutError);
  // A code the engine does not know (an application's own) stays a plain OmnitronError.
  const own = errorFor('APP001', 'mine');
  assert.equal(own.constructor, OmnitronError);
  assert.equal(own.code, 'APP001');
  // What the engine raises is an instance of the code's class.
  const c = new Container();
  try {
    c.resolve(createToken('Nowhere'));
    assert.fail('resolved');
  } catch (e) {
    assert.ok(e instanceof MissingProviderError, String(e));
    assert.ok(e instanceof DIError);
    assert.ok(isOmnitronError(e, 'DI001'));
    assert.equal((e as Error).name, 'MissingProviderError');
  }
});
