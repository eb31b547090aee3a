import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, createToken, Injectable, Inject, CONTEXT } from '@omnitron-dev/native';

test('scoped providers get one instance per scope', () => {
  let n = 0;
  const T = createToken<number>('PerRequest');
  const c = new Container();
  c.register(T, { useFactory: () => ++n, scope: 'scoped' });
  const s1 = c.createScope();
  const s2 = c.createScope();
  assert.equal(s1.resolve(T), 1);
  assert.equal(s1.resolve(T), 1);
  assert.equal(s2.resolve(T), 2);
});

test('request is a name for scoped', () => {
  let n = 0;
  const T = createToken<number>('Req');
  const c = new Container();
  c.register(T, { useFactory: () => ++n }, { scope: 'request' });
  const s = c.createScope({ request: { id: 'r1' } });
  assert.equal(s.resolve(T), s.resolve(T));
  assert.throws(() => c.resolve(T), (e: any) => e.code === 'DI007');
});

test('scoped outside a scope is an error naming the path', () => {
  const Req = createToken<number>('RequestContext');
  const Helper = createToken<number>('Helper');
  const c = new Container();
  c.register(Req, { useFactory: () => 1, scope: 'scoped' });
  c.register(Helper, { useFactory: (x: number) => x, inject: [Req], scope: 'transient' });
  assert.throws(() => c.resolve(Req), (e: any) => e.code === 'DI007' && /createScope/.test(e.message));
  assert.throws(() => c.resolve(Helper), (e: any) => e.code === 'DI007' && /Helper -> RequestContext/.test(e.message));
  assert.equal(c.createScope().resolve(Helper), 1);
});

test('a singleton depending on a scoped provider is refused with the path', () => {
  const Req = createToken<number>('RequestContext');
  const Fmt = createToken<number>('Formatter');
  const Svc = createToken<number>('UserService');
  const c = new Container();
  c.register(Req, { useFactory: () => 1, scope: 'scoped' });
  c.register(Fmt, { useFactory: (x: number) => x, inject: [Req], scope: 'transient' });
  c.register(Svc, { useFactory: (x: number) => x, inject: [Fmt] });
  assert.throws(
    () => c.createScope().resolve(Svc),
    (e: any) => e.code === 'DI006' && /UserService -> Formatter -> RequestContext/.test(e.message),
  );
});

test('singletons resolved in scopes are the container\'s', () => {
  const T = createToken<object>('Shared');
  const c = new Container();
  c.register(T, { useFactory: () => ({}) });
  assert.equal(c.createScope().resolve(T), c.createScope().resolve(T));
  assert.equal(c.createScope().resolve(T), c.resolve(T));
});

test('CONTEXT gives the scope context (and the container context outside scopes)', () => {
  @Injectable({ scope: 'scoped' })
  class Greeting {
    constructor(@Inject(CONTEXT) readonly ctx: { user: string }) {}
    text() {
      return `hello ${this.ctx.user}`;
    }
  }
  const c = new Container({ context: { user: 'root' } });
  c.register(Greeting);
  c.register('Who', { useFactory: (ctx: { user: string }) => ctx.user, inject: ['CONTEXT'], scope: 'transient' });
  const s = c.createScope({ user: 'ada' });
  assert.equal(s.resolve(Greeting).text(), 'hello ada');
  assert.equal((s.context as { user: string }).user, 'ada');
  assert.equal(c.resolve('Who'), 'root');
  assert.equal(s.resolve('Who'), 'ada');
});

test('a disposed scope refuses to resolve', async () => {
  const T = createToken<number>('T');
  const c = new Container();
  c.register(T, { useValue: 1 });
  const s = c.createScope();
  await s.dispose();
  assert.throws(() => s.resolve(T), (e: any) => e.code === 'DI008');
});
