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
