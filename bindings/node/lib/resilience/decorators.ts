// The spec's resilience decorators. Each wraps the method with one engine policy, created once per
// decorated method (shared by every instance). They stack in the order written: the topmost
// decorator is the outermost wrapper, so
//
//     @Retry({ attempts: 3 })
//     @CircuitBreaker({ threshold: 5 })
//     async call() {}
//
// retries calls that go through the breaker (each attempt counts against it).
//
// @CircuitBreaker, @RateLimit and @Metric keep a sync method sync; @Retry, @Throttle, @Timeout and
// @Bulkhead make it return a promise (waiting needs the event loop).

import { isThenable, methodOf, OptionKeys, options } from '../util.js';
import { CIRCUIT_BREAKER_KEYS, CircuitBreakerPolicy, type CircuitBreakerOptions } from './breaker.js';
import {
  BULKHEAD_KEYS,
  BulkheadPolicy,
  RATE_LIMITER_KEYS,
  RateLimiter,
  RETRY_KEYS,
  RetryPolicy,
  withTimeout,
  type BulkheadOptions,
  type RateLimiterOptions,
  type RetryOptions,
} from './policies.js';

/** `@Throttle`'s options: `limit` calls per `interval` ms. */
export interface ThrottleOptions {
  limit: number;
  interval: number;
  name?: string;
}
const THROTTLE_KEYS = new OptionKeys(['limit', 'interval', 'name']);

type MethodDecorator = (target: object, key: string | symbol, descriptor: PropertyDescriptor) => void;

function className(target: object): string {
  return (typeof target === 'function' ? target.name : (target as { constructor?: { name?: string } }).constructor?.name) ?? 'Anonymous';
}

/** Keeps the breaker of a method wrapped by another decorator reachable (`method.circuitBreaker`). */
function inherit(descriptor: PropertyDescriptor, method: unknown): void {
  const breaker = (method as { circuitBreaker?: unknown }).circuitBreaker;
  if (breaker !== undefined) Object.defineProperty(descriptor.value, 'circuitBreaker', { value: breaker });
}

/** `@CircuitBreaker({ threshold, timeout, fallback, ... })`: the spec's breaker on a method. */
export function CircuitBreaker(opts: CircuitBreakerOptions = {}): MethodDecorator {
  const o = options<CircuitBreakerOptions>(opts, '@CircuitBreaker()', CIRCUIT_BREAKER_KEYS);
  return (target, key, descriptor) => {
    const method = methodOf(descriptor, 'CircuitBreaker', key);
    const breaker = new CircuitBreakerPolicy({ ...o, name: o.name ?? `${className(target)}.${String(key)}` });
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      return breaker.exec(method as (...a: unknown[]) => unknown, this, args);
    };
    Object.defineProperty(descriptor.value, 'circuitBreaker', { value: breaker });
  };
}

/** `@Retry({ attempts, backoff, delay, ... })`. */
export function Retry(opts: RetryOptions = {}): MethodDecorator {
  const policy = new RetryPolicy(options<RetryOptions>(opts, '@Retry()', RETRY_KEYS));
  return (_target, key, descriptor) => {
    const method = methodOf(descriptor, 'Retry', key);
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      return policy.run(() => method.apply(this, args));
    };
    inherit(descriptor, method);
  };
}

/** `@RateLimit({ points, duration })` (duration in seconds): over the limit, throws RateLimitedError. */
export function RateLimit(opts: RateLimiterOptions): MethodDecorator {
  const o = options<RateLimiterOptions>(opts, '@RateLimit()', RATE_LIMITER_KEYS);
  return (target, key, descriptor) => {
    const method = methodOf(descriptor, 'RateLimit', key);
    const limiter = new RateLimiter({ ...o, name: o.name ?? `${className(target)}.${String(key)}` });
    // A refused call of a method that returns promises rejects (as the breaker's does); of a sync one, throws.
    let async: boolean | undefined = method.constructor?.name === 'AsyncFunction' ? true : undefined;
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      try {
        limiter.consume(1);
      } catch (e) {
        if (async) return Promise.reject(e);
        throw e;
      }
      const r = method.apply(this, args);
      async = isThenable(r);
      return r;
    };
    inherit(descriptor, method);
  };
}

/** `@Throttle({ limit, interval })` (interval in ms): over the limit, calls wait for their turn. */
export function Throttle(opts: ThrottleOptions): MethodDecorator {
  const o = options<ThrottleOptions>(opts, '@Throttle()', THROTTLE_KEYS);
  return (target, key, descriptor) => {
    const method = methodOf(descriptor, 'Throttle', key);
    const limiter = new RateLimiter({
      points: o.limit,
      duration: typeof o.interval === 'number' ? o.interval / 1000 : (o.interval as unknown as number),
      name: o.name ?? `${className(target)}.${String(key)}`,
    });
    descriptor.value = async function (this: unknown, ...args: unknown[]) {
      await limiter.acquire(1);
      return method.apply(this, args);
    };
    inherit(descriptor, method);
  };
}

/** `@Timeout(ms)`: the call fails with TimeoutError after `ms`. */
export function Timeout(ms: number): MethodDecorator {
  withTimeout(undefined, ms).catch(() => {}); // validates `ms` now, at decoration time
  return (target, key, descriptor) => {
    const method = methodOf(descriptor, 'Timeout', key);
    const name = `${className(target)}.${String(key)}`;
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      return withTimeout(method.apply(this, args), ms, name);
    };
    inherit(descriptor, method);
  };
}

/** `@Bulkhead({ maxConcurrent, maxQueue })`. */
export function Bulkhead(opts: BulkheadOptions): MethodDecorator {
  const o = options<BulkheadOptions>(opts, '@Bulkhead()', BULKHEAD_KEYS);
  return (target, key, descriptor) => {
    const method = methodOf(descriptor, 'Bulkhead', key);
    const bulkhead = new BulkheadPolicy({ ...o, name: o.name ?? `${className(target)}.${String(key)}` });
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      return bulkhead.run(() => method.apply(this, args));
    };
    inherit(descriptor, method);
  };
}
