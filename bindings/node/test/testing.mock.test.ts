// createMock<T>() and mockFn(): recording stubs with configurable behaviour, no test framework.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { OmnitronError, createMock, isMock, mockFn, type DeepMocked } from '@omnitron-dev/native';

const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof OmnitronError && e.code === c && (re === undefined || re.test(e.message));

interface Mailer {
  send(to: string, body: string): Promise<boolean>;
  count(): number;
  readonly from: string;
  config: { get(key: string): string };
}

test('every method is a recording stub: arguments, results and this are recorded per method', () => {
  const m = createMock<Mailer>();
  void m.send('a@x', 'hi');
  void m.send('b@x', 'yo');
  m.count();
  assert.deepEqual(m.send.mock.calls, [
    ['a@x', 'hi'],
    ['b@x', 'yo'],
  ]);
  assert.deepEqual(m.send.mock.lastCall, ['b@x', 'yo']);
  assert.equal(m.count.mock.calls.length, 1);
  assert.equal(m.send.mock.contexts[0], m);
  assert.equal(m.send.mock.results.length, 2);
  assert.equal(m.send.mock.results[0].type, 'return');
  assert.equal(m.send, m.send, 'one stub per method');
  assert.equal(m.send.getMockName(), 'mock.send');
  assert.ok(isMock(m) && isMock(m.send));
  assert.ok(!isMock({}) && !isMock(null) && !isMock(() => 1));
});

test('return values and implementations are configurable per method, once or always', async () => {
  const m = createMock<Mailer>();
  m.count.mockReturnValue(3).mockReturnValueOnce(1).mockReturnValueOnce(2);
  assert.deepEqual([m.count(), m.count(), m.count(), m.count()], [1, 2, 3, 3]);
  m.send.mockResolvedValueOnce(false).mockResolvedValue(true);
  assert.equal(await m.send('a', 'b'), false);
  assert.equal(await m.send('a', 'b'), true);
  m.send.mockRejectedValueOnce(new RangeError('smtp down'));
  await assert.rejects(m.send('a', 'b'), RangeError);
  m.send.mockImplementation(async (to) => to.endsWith('@ok'));
  assert.equal(await m.send('x@ok', ''), true);
  assert.equal(await m.send('x@no', ''), false);
  m.count.mockImplementationOnce(() => {
    throw new TypeError('boom');
  });
  assert.throws(() => m.count(), TypeError);
  assert.deepEqual(m.count.mock.results.at(-1), { type: 'throw', value: new TypeError('boom') });
  assert.equal(typeof m.send.getMockImplementation(), 'function');
  // mockClear forgets the calls, mockReset the behaviour too.
  m.count.mockClear();
  assert.equal(m.count.mock.calls.length, 0);
  assert.equal(m.count(), 3);
  m.count.mockReset();
  assert.equal(m.count.mock.calls.length, 0);
  assert.equal(m.count.getMockImplementation(), undefined);
  assert.ok(isMock(m.count()), 'after a reset an unconfigured call returns a nested mock again');
});

test('a partial gives values and implementations; its methods stay recording stubs', () => {
  const m = createMock<Mailer>({ from: 'noreply@x', count: () => 7 }, { name: 'mailer' });
  assert.equal(m.from, 'noreply@x');
  assert.equal(m.count(), 7);
  assert.equal(m.count.mock.calls.length, 1);
  assert.equal(m.count.getMockName(), 'mailer.count');
  // Assigning replaces a member.
  const send = mockFn(async () => true);
  m.send = send as unknown as DeepMocked<Mailer>['send'];
  assert.equal(m.send, send);
});

test('unconfigured calls and properties give nested mocks, so chains work; await and inspection are safe', async () => {
  const m = createMock<Mailer>();
  m.config.get.mockReturnValue('smtp://mem');
  assert.equal(m.config.get('url'), 'smtp://mem');
  assert.deepEqual(m.config.get.mock.calls, [['url']]);
  const nested = m.count() as unknown as DeepMocked<{ deeper(): number }>;
  assert.equal(m.count(), nested, 'the same nested mock on every call');
  nested.deeper.mockReturnValue(5);
  assert.equal(nested.deeper(), 5);
  // A mock is not a promise: awaiting it (or what an unconfigured async method returns) gives it back.
  assert.equal(await m, m);
  const r = await m.send('a', 'b');
  assert.ok(isMock(r));
  assert.equal((m as { then?: unknown }).then, undefined);
  assert.equal(JSON.stringify(m), '{}');
  assert.doesNotThrow(() => inspect(m));
  assert.doesNotThrow(() => inspect(m.send));
  assert.equal(String(m), '[object Object]');
  assert.equal(Object.prototype.toString.call(m), '[object Object]');
});

test('mockFn() is a standalone recording stub', () => {
  const f = mockFn((a: number, b: number) => a + b);
  assert.equal(f(1, 2), 3);
  assert.deepEqual(f.mock.calls, [[1, 2]]);
  f.mockReturnValueOnce(10);
  assert.equal(f(0, 0), 10);
  f.mockName('adder');
  assert.equal(f.getMockName(), 'adder');
});

test("a stub looks like jest's to jest's and vitest's matchers", () => {
  const a = mockFn();
  const b = mockFn();
  a(1);
  b(2);
  a(3);
  const s = a as unknown as Record<string, unknown>;
  // jest: isMock(received) is `received._isMockFunction === true`; a jasmine spy has `calls.all`.
  assert.equal(s._isMockFunction, true);
  assert.equal(s.calls, undefined, 'not taken for a jasmine spy');
  assert.deepEqual(a.mock.calls, [[1], [3]]);
  assert.equal(a.mock.instances.length, 2);
  assert.ok(a.mock.invocationCallOrder[0] < b.mock.invocationCallOrder[0] && b.mock.invocationCallOrder[0] < a.mock.invocationCallOrder[1]);
  assert.equal(a.getMockName(), 'mockFn');
  a.mockClear();
  assert.deepEqual([a.mock.calls, a.mock.instances, a.mock.invocationCallOrder], [[], [], []]);
});

test('bad input is refused with E001, unknown option keys naming the nearest valid one', () => {
  assert.throws(() => createMock(null as any), code('E001'));
  assert.throws(() => createMock([] as any), code('E001'));
  assert.throws(() => createMock({}, { nmae: 'x' } as any), code('E001', /'nmae'.*'name'/s));
  assert.throws(() => createMock({}, { name: 3 } as any), code('E001'));
  assert.throws(() => mockFn(42 as any), code('E001'));
  const m = createMock<Mailer>();
  assert.throws(() => m.send.mockImplementation('x' as any), code('E001'));
  assert.throws(() => m.send.mockName(1 as any), code('E001'));
});
