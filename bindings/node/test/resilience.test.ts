import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bulkhead,
  BulkheadPolicy,
  CircuitBreaker,
  CircuitBreakerPolicy,
  OmnitronError,
  RateLimit,
  RateLimiter,
  Registry,
  Retry,
  RetryPolicy,
  Throttle,
  Timeout,
  withTimeout,
} from '@omnitron-dev/native';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;

test('the breaker opens after threshold consecutive failures and fails fast', async () => {
  const registry = new Registry();
  const b = new CircuitBreakerPolicy({ name: 'payments', threshold: 3, timeout: 60_000, registry });
  const events: string[] = [];
  b.on('stateChange', (e) => events.push(`${e.from}->${e.to}`));
  const fail = () => Promise.reject(new Error('bank down'));
  let calls = 0;
  const ok = async () => ++calls;
  await assert.rejects(b.fire(fail), /bank down/);
  await assert.rejects(b.fire(fail), /bank down/);
  await b.fire(ok); // resets the consecutive count
  for (let i = 0; i < 3; i++) await assert.rejects(b.fire(fail), /bank down/);
  assert.equal(b.state, 'open');
  assert.deepEqual(events, ['closed->open']);
  const before = calls;
  await assert.rejects(b.fire(ok), (e: any) => e.code === 'R001' && e.name === 'CircuitOpenError' && /'payments'/.test(e.message));
  assert.equal(calls, before, 'an open breaker does not call');
  const text = registry.metrics();
  assert.match(text, /omnitron_circuit_breaker_state\{breaker="payments"\} 1/);
  assert.match(text, /omnitron_circuit_breaker_calls_total\{breaker="payments",outcome="rejected"\} 1/);
});

test('half-open after the timeout, closed again after a successful trial', async () => {
  const b = new CircuitBreakerPolicy({ name: 'trial', threshold: 1, timeout: 300, registry: new Registry() });
  await assert.rejects(b.fire(async () => { throw new Error('x'); }));
  assert.equal(b.state, 'open');
  await sleep(400);
  assert.equal(await b.fire(async () => 'back'), 'back');
  assert.equal(b.state, 'closed');
});

test('sync functions stay sync through the breaker; the fast path batches successes', () => {
  const registry = new Registry();
  const b = new CircuitBreakerPolicy({ name: 'sync', threshold: 2, registry });
  for (let i = 0; i < 1000; i++) assert.equal(b.fire((x: number) => x * 2, i), i * 2);
  assert.throws(() => b.fire(() => { throw new Error('once'); }), /once/);
  assert.equal(b.fire(() => 1), 1, 'one failure then a success: still closed');
  assert.equal(b.state, 'closed');
  assert.match(registry.metrics(), /outcome="success"\} 1001/);
});

test('the failure predicate, the fallback and the call timeout', async () => {
  const b = new CircuitBreakerPolicy({
    name: 'pred',
    threshold: 1,
    isFailure: (e) => !(e instanceof Error && e.message === 'not found'),
    registry: new Registry(),
  });
  await assert.rejects(b.fire(async () => { throw new Error('not found'); }), /not found/);
  assert.equal(b.state, 'closed', 'ignored errors do not count');

  const f = new CircuitBreakerPolicy({ name: 'fb', threshold: 1, fallback: (x: number, e: Error) => `fallback ${x} ${e.message}`, registry: new Registry() });
  assert.equal(await f.fire(async (_x: number) => { throw new Error('boom'); }, 7), 'fallback 7 boom');
  assert.equal(await f.fire(async (_x: number) => 'never', 8), 'fallback 8 circuit breaker \'fb\' is open; it lets a trial call through in 60000 ms');

  const t = new CircuitBreakerPolicy({ name: 'slow', threshold: 1, callTimeout: 20, registry: new Registry() });
  await assert.rejects(t.fire(() => sleep(500)), (e: any) => e.code === 'E006' && e.name === 'TimeoutError');
  assert.equal(t.state, 'open');
});

test('the call timeout: slow calls time out among fast ones, sync calls are measured, fallbacks apply', async () => {
  const reg = new Registry();
  const b = new CircuitBreakerPolicy({ name: 'mixed', threshold: 100, callTimeout: 40, registry: reg });
  const outcomes = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => b.fire(() => sleep(i % 4 === 0 ? 400 : 1).then(() => i))),
  );
  const timedOut = outcomes.filter((o) => o.status === 'rejected' && (o.reason as any).code === 'E006');
  const ok = outcomes.filter((o) => o.status === 'fulfilled');
  assert.equal(timedOut.length, 5);
  assert.equal(ok.length, 15);
  const text = reg.metrics();
  assert.match(text, /omnitron_circuit_breaker_calls_total\{breaker="mixed",outcome="timeout"\} 5\b/);
  assert.match(text, /omnitron_circuit_breaker_calls_total\{breaker="mixed",outcome="success"\} 15\b/);

  // A late synchronous call cannot be abandoned: it stays synchronous and throws TimeoutError.
  const s = new CircuitBreakerPolicy({ name: 'sync', threshold: 1, callTimeout: 5, registry: reg });
  assert.equal(s.fire(() => 42), 42);
  assert.throws(() => s.fire(() => { const end = Date.now() + 20; while (Date.now() < end); return 1; }), code('E006'));
  assert.equal(s.state, 'open');

  const f = new CircuitBreakerPolicy({ name: 'late', callTimeout: 10, fallback: (e: Error) => `fallback: ${e.name}`, registry: reg });
  assert.equal(await f.fire(() => sleep(300)), 'fallback: TimeoutError');
});

test('bad breaker options are refused at construction', () => {
  for (const o of [{ threshold: 0 }, { timeout: -1 }, { failureRate: 2 }, { callTimeout: 0 }, { threshold: 1.5 }, { window: 0 }]) {
    assert.throws(() => new CircuitBreakerPolicy({ ...o, registry: new Registry() }), code('R005'), JSON.stringify(o));
  }
  assert.throws(() => new CircuitBreakerPolicy({ threshold: 'five' as any }), code('E001'));
  // The engine's messages name the option as TypeScript spells it, durations in milliseconds.
  assert.throws(() => new CircuitBreakerPolicy({ name: 'p', minCalls: 0 }), /circuit breaker 'p': minCalls must be a whole number of at least 1, got 0/);
  assert.throws(() => new CircuitBreakerPolicy({ failureRate: 1.5, threshold: undefined }), /failureRate must be a number above 0 and at most 1, got 1.5/);
  assert.throws(() => new CircuitBreakerPolicy({ window: 0 }), /window must be a number of milliseconds above 0, got 0/);
  assert.throws(() => new CircuitBreakerPolicy({ callTimeout: (() => 1) as any }), /callTimeout must be a number of milliseconds above 0, got function/);
  assert.throws(() => new CircuitBreakerPolicy({ fallback: 3 as any }), code('E001'));
  assert.throws(() => new CircuitBreakerPolicy('x' as any), code('E001'));
});

test('thousands of concurrent calls are counted exactly', async () => {
  const registry = new Registry();
  const b = new CircuitBreakerPolicy({ name: 'busy', threshold: 1_000_000, registry });
  await Promise.all(
    Array.from({ length: 5000 }, (_, i) => b.fire(async () => { await null; if (i % 5 === 0) throw new Error('x'); }).catch(() => {})),
  );
  void b.state; // flushes the batch
  const text = registry.metrics();
  assert.match(text, /breaker="busy",outcome="success"\} 4000/);
  assert.match(text, /breaker="busy",outcome="failure"\} 1000/);
});

test('retry: succeeds on a later attempt; exhausted keeps the last error and the count', async () => {
  let n = 0;
  const r = new RetryPolicy({ attempts: 4, backoff: 'fixed', delay: 1 });
  assert.equal(await r.run(async () => { if (++n < 3) throw new Error('flaky'); return n; }), 3);
  await assert.rejects(r.run(async (a) => { throw new Error(`fail ${a}`); }), (e: any) => {
    return e.code === 'R004' && e.attempts === 4 && e.cause.message === 'fail 4' && /after 4 attempt/.test(e.message);
  });
  const picky = new RetryPolicy({ attempts: 5, delay: 1, retryIf: (e) => (e as Error).message !== 'fatal' });
  let tries = 0;
  await assert.rejects(picky.run(async () => { tries++; throw new Error('fatal'); }), /fatal/);
  assert.equal(tries, 1);
  const exp = new RetryPolicy({ attempts: 5, backoff: 'exponential', delay: 100, factor: 2, maxDelay: 300 });
  assert.deepEqual([1, 2, 3, 4].map((a) => exp.delay(a)), [100, 200, 300, 300]);
  const lin = new RetryPolicy({ backoff: 'linear', delay: 100, step: 50 });
  assert.deepEqual([1, 2, 3].map((a) => lin.delay(a)), [100, 150, 200]);
  const jit = new RetryPolicy({ attempts: 5, delay: 100, jitter: 'full' });
  for (let i = 0; i < 20; i++) assert.ok(jit.delay(2) <= 200);
  assert.throws(() => new RetryPolicy({ attempts: 0 }), code('R005'));
  assert.throws(() => new RetryPolicy({ backoff: 'random' as any }), code('R005'));
  assert.throws(() => new RetryPolicy({ jitter: 'lots' as any }), code('R005'));
});

test('rate limiter: points per duration (seconds), try, consume, acquire', async () => {
  const l = new RateLimiter({ points: 2, duration: 60 });
  assert.ok(l.tryAcquire());
  l.consume();
  assert.equal(l.tryAcquire(), false);
  assert.throws(() => l.consume(), (e: any) => e.code === 'R002' && /retry in/.test(e.message));
  const fast = new RateLimiter({ points: 1, duration: 0.02 });
  fast.consume();
  await fast.acquire(); // waits about 20 ms
  assert.throws(() => new RateLimiter({ points: 0, duration: 1 }), code('R005'));
  assert.throws(() => new RateLimiter({ points: 1, duration: -1 }), code('R005'));
  assert.throws(() => new RateLimiter({ points: 1, duration: 1, kind: 'leaky' as any }), code('R005'));
  // The engine's messages, in TypeScript's words (a rate limiter's duration is in seconds, as the spec's).
  assert.throws(() => new RateLimiter({ name: 'api', points: 1, duration: -1 }), /rate limiter 'api': duration must be a number of seconds above 0, got -1/);
  assert.throws(() => new BulkheadPolicy({ maxConcurrent: 0 }), /maxConcurrent must be a whole number of at least 1, got 0/);
  assert.throws(() => new RetryPolicy({ factor: 0.5 }), /retry: factor must be a number of at least 1, got 0.5/);
  assert.throws(() => new RetryPolicy({ maxDelay: 'soon' as any }), (e: any) => e.code === 'E001' && /maxDelay must be a number of milliseconds above 0, got 'soon'/.test(e.message));
  const w = new RateLimiter({ points: 1, duration: 60, kind: 'sliding-window' });
  w.consume();
  assert.throws(() => w.consume(), code('R002'));
});

test('bulkhead: limits concurrency, queues, rejects when full', async () => {
  const b = new BulkheadPolicy({ maxConcurrent: 2, maxQueue: 1 });
  let running = 0;
  let peak = 0;
  const task = async () => {
    peak = Math.max(peak, ++running);
    await sleep(20);
    running--;
    return 'done';
  };
  const results = await Promise.allSettled([b.run(task), b.run(task), b.run(task), b.run(task)]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
  const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.equal(rejected.reason.code, 'R003');
  assert.equal(peak, 2);
  assert.equal(b.active, 0);
  assert.throws(() => new BulkheadPolicy({ maxConcurrent: 0 }), code('R005'));
  assert.throws(() => new BulkheadPolicy({ maxConcurrent: 1, maxQueue: -1 }), code('R005'));
});

test('withTimeout', async () => {
  await assert.rejects(withTimeout(sleep(200), 10, 'slow'), (e: any) => e.code === 'E006' && /'slow'/.test(e.message));
  assert.equal(await withTimeout(Promise.resolve(5), 100), 5);
  assert.throws(() => withTimeout(Promise.resolve(5), 0), code('R005'));
});

test('decorators on sync and async methods, stacked in the documented order', async () => {
  let attempts = 0;
  class Payments {
    calls = 0;
    @Retry({ attempts: 3, delay: 1, backoff: 'fixed' })
    @CircuitBreaker({ threshold: 10, registry: new Registry() })
    async charge(amount: number) {
      attempts++;
      if (attempts < 3) throw new Error('flaky');
      return `charged ${amount}`;
    }
    @CircuitBreaker({ threshold: 1, registry: new Registry(), fallback: () => 'cached' })
    price(id: string): string {
      this.calls++;
      if (id === 'bad') throw new Error('no price');
      return `price of ${id}`;
    }
    @RateLimit({ points: 1, duration: 60 })
    once() {
      return 'ok';
    }
    @Throttle({ limit: 1, interval: 20 })
    async throttled(i: number) {
      return i;
    }
    @Timeout(10)
    async slow() {
      await sleep(200);
    }
    @Bulkhead({ maxConcurrent: 1 })
    async exclusive() {
      await sleep(10);
      return 'x';
    }
  }
  const p = new Payments();
  assert.equal(await p.charge(10), 'charged 10');
  assert.equal(attempts, 3);
  assert.equal(p.price('a'), 'price of a', 'a sync method stays sync');
  assert.equal(p.price('bad'), 'cached');
  assert.equal(p.price('a'), 'cached', 'open now: the fallback answers');
  assert.equal(p.once(), 'ok');
  assert.throws(() => p.once(), code('R002'));
  const start = Date.now();
  assert.deepEqual(await Promise.all([p.throttled(1), p.throttled(2)]), [1, 2]);
  assert.ok(Date.now() - start >= 15, 'the second call waited for its token');
  await assert.rejects(p.slow(), code('E006'));
  const [a, b] = await Promise.allSettled([p.exclusive(), p.exclusive()]);
  assert.equal(a.status, 'fulfilled');
  assert.equal(b.status, 'rejected');
  assert.throws(() => {
    class Bad {
      @CircuitBreaker({ threshold: 0 })
      m() {}
    }
    return Bad;
  }, code('R005'));
  assert.throws(() => CircuitBreaker({})({}, 'notAMethod', { value: 5 }), code('E001'));
});

test('a breaker stays reachable under the decorators stacked on it', async () => {
  class Bank {
    calls = 0;
    @Retry({ attempts: 2, delay: 1 })
    @CircuitBreaker({ threshold: 1, timeout: 60_000, registry: new Registry() })
    async charge(): Promise<string> {
      this.calls++;
      throw new Error('down');
    }
  }
  const breaker = (Bank.prototype.charge as unknown as { circuitBreaker: CircuitBreakerPolicy }).circuitBreaker;
  const changes: string[] = [];
  breaker.on('stateChange', (e) => changes.push(`${e.from}->${e.to}`));
  const bank = new Bank();
  await assert.rejects(bank.charge());
  assert.equal(bank.calls, 1, 'the retry met an open breaker: one real call');
  assert.deepEqual(changes, ['closed->open']);
});

test('policies and decorators refuse an unknown key with E001 naming the nearest valid one; the spec keys pass', () => {
  const unknown = (key: string, hint: string | null, context: string) => (e: unknown) => {
    assert.ok(code('E001')(e), String(e));
    const m = (e as Error).message;
    assert.ok(m.includes(`unknown option '${key}' in ${context}`), m);
    if (hint) assert.ok(m.includes(`did you mean '${hint}'?`), m);
    return true;
  };
  // Spec 2.4's keys.
  CircuitBreaker({ threshold: 5, timeout: 60000 });
  RateLimit({ points: 10, duration: 60 });

  assert.throws(() => CircuitBreaker({ treshold: 5 } as any), unknown('treshold', 'threshold', '@CircuitBreaker()'));
  assert.throws(() => CircuitBreaker({ resetTimeout: 5 } as any), unknown('resetTimeout', null, '@CircuitBreaker()'));
  assert.throws(() => new CircuitBreakerPolicy({ halfOpenMaxCall: 1 } as any), unknown('halfOpenMaxCall', 'halfOpenMaxCalls', 'new CircuitBreakerPolicy()'));
  assert.throws(() => Retry({ attempt: 3 } as any), unknown('attempt', 'attempts', '@Retry()'));
  assert.throws(() => new RetryPolicy({ maxdelay: 3 } as any), unknown('maxdelay', 'maxDelay', 'new RetryPolicy()'));
  assert.throws(() => RateLimit({ points: 10, durations: 60 } as any), unknown('durations', 'duration', '@RateLimit()'));
  assert.throws(() => new RateLimiter({ points: 10, duration: 60, type: 'sliding-window' } as any), unknown('type', null, 'new RateLimiter()'));
  assert.throws(() => Throttle({ limit: 1, intervall: 10 } as any), unknown('intervall', 'interval', '@Throttle()'));
  assert.throws(() => Bulkhead({ maxConcurent: 1 } as any), unknown('maxConcurent', 'maxConcurrent', '@Bulkhead()'));
  assert.throws(() => new BulkheadPolicy({ maxConcurrent: 1, queue: 2 } as any), unknown('queue', null, 'new BulkheadPolicy()'));
});

test('@RateLimit: a refused call of an async method rejects (a sync method still throws)', async () => {
  class Api {
    @RateLimit({ points: 1, duration: 60 })
    async fetch() {
      return 'ok';
    }
    @RateLimit({ points: 1, duration: 60 })
    now() {
      return 'ok';
    }
  }
  const api = new Api();
  assert.equal(await api.fetch(), 'ok');
  const refused = api.fetch();
  assert.ok(refused instanceof Promise, 'a promise, not a throw');
  await assert.rejects(refused, code('R002'));
  assert.equal(api.now(), 'ok');
  assert.throws(() => api.now(), code('R002'));
});
