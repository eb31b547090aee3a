import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, createToken, Injectable, Inject, Module, Omnitron, OmnitronError } from '@omnitron-dev/native';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;

test('a non-class, or a class with parameters and no metadata, is refused with a clear error', () => {
  const c = new Container();
  class Plain {
    constructor(readonly x: number) {}
  }
  assert.throws(
    () => c.register(Plain as any),
    (e: any) => e.code === 'DI004' && /class 'Plain' takes 1 constructor parameter but has no injection metadata/.test(e.message) && /@Injectable\(\)/.test(e.message),
  );
  assert.throws(() => c.register(42 as any), code('DI004'));
  assert.throws(() => c.register((() => 1) as any), code('DI004'));
  assert.throws(() => c.register(createToken('X'), { useClass: 'nope' } as any), code('DI004'));
  assert.throws(() => c.register(createToken('X'), { useFactory: 5 } as any), code('DI004'));
  assert.throws(() => c.register(createToken('X'), {} as any), code('DI004'));
  assert.throws(() => c.register(createToken('X'), null as any), code('DI004'));
  assert.throws(() => c.register(createToken('X'), { useFactory: () => 1, inject: 'A' } as any), code('DI004'));
  assert.throws(
    () => c.register(createToken('X'), { useFactory: () => 1, inject: [['A', { optional: true }]] } as any),
    (e: any) => e.code === 'DI004' && /\{ token: A, optional: true \}/.test(e.message),
  );
});

test('invalid tokens are refused', () => {
  const c = new Container();
  assert.throws(() => createToken(''), code('E001'));
  assert.throws(() => createToken('   '), code('E001'));
  assert.throws(() => createToken(undefined as any), code('E001'));
  assert.throws(() => c.register(undefined as any, { useValue: 1 }), code('E001'));
  assert.throws(() => c.register(null as any, { useValue: 1 }), code('E001'));
  assert.throws(() => c.register('', { useValue: 1 }), code('E001'));
  assert.throws(() => c.register(12 as any, { useValue: 1 }), code('E001'));
  assert.throws(() => c.resolve(undefined as any), code('E001'));
  assert.throws(() => c.resolve({} as any), code('E001'));
  assert.throws(() => Inject(undefined as any), (e: any) => e.code === 'E001' && /circular import/.test(e.message));
});

test('an unknown scope name is refused', () => {
  const c = new Container();
  assert.throws(
    () => c.register(createToken('X'), { useFactory: () => 1, scope: 'forever' as any }),
    (e: any) => e.code === 'DI014' && /forever/.test(e.message),
  );
  // Refused as soon as the decorator is applied.
  assert.throws(() => Injectable({ scope: 'weekly' as any }), (e: any) => e.code === 'DI014' && /weekly/.test(e.message));
  assert.throws(() => Injectable('singleton' as any), code('E001'));
});

test('a parameter whose type cannot be read is refused with the fix', () => {
  interface Logger {
    log(): void;
  }
  @Injectable()
  class UsesInterface {
    constructor(readonly logger: Logger) {}
  }
  assert.throws(
    () => new Container().register(UsesInterface),
    (e: any) => e.code === 'DI004' && /parameter 0 of 'UsesInterface'/.test(e.message) && /@Inject/.test(e.message),
  );
});

test('wrong option types are refused', () => {
  assert.throws(() => new Container(null as any), code('E001'));
  assert.throws(() => new Container().register(createToken('X'), { useValue: 1 }, 'multi' as any), code('E001'));
  assert.throws(() => Module('App' as any), code('E001'));
});

test('a module whose providers list is not an array is refused', async () => {
  @Module({ providers: 'nope' as any })
  class Bad {}
  await assert.rejects(Omnitron.create(Bad), code('DI013'));
  @Module({ providers: [42 as any] })
  class Bad2 {}
  await assert.rejects(Omnitron.create(Bad2), (e: any) => e.code === 'DI004' && /module 'Bad2'/.test(e.message));
});
