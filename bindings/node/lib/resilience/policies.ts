// The engine's rate limiter, bulkhead, retry schedule and timeout, for JavaScript. The engine keeps
// the counts, queues and delays; this layer only awaits.

import type { NativeBulkhead, NativeRateLimiter, NativeRetry } from '../../native.js';
import { native } from '../native.js';
import { call, fromInfo } from '../errors.js';
import { fn, OptionKeys, options, rawOptions, sleep, str } from '../util.js';

export interface RateLimiterOptions {
  name?: string;
  /** Calls allowed per `duration`. */
  points: number;
  /** The period, in **seconds** (as in the spec's `@RateLimit({ points: 10, duration: 60 })`). */
  duration: number;
  /** `token-bucket` (default, bursts up to `points`) or `sliding-window`. */
  kind?: 'token-bucket' | 'sliding-window';
}

/** The keys of `RateLimiterOptions` (anything else is refused with E001). */
export const RATE_LIMITER_KEYS = new OptionKeys(['name', 'points', 'duration', 'kind']);

/** A rate limiter: `points` per `duration` seconds. */
export class RateLimiter {
  readonly name: string;
  readonly #n: NativeRateLimiter;

  constructor(opts: RateLimiterOptions) {
    const o = options<RateLimiterOptions>(opts, 'new RateLimiter()', RATE_LIMITER_KEYS);
    this.name = str(o.name, 'name') ?? 'rate-limit';
    // The engine checks the values, in the user's words.
    this.#n = call(() => new native.NativeRateLimiter(this.name, rawOptions(o, ['points', 'duration', 'kind'])));
  }

  /** Takes `n` tokens if they are there now. */
  tryAcquire(n = 1): boolean {
    return this.#n.tryAcquire(n) === 0;
  }

  /** Takes `n` tokens now or throws `RateLimitedError` (R002) saying when to retry. */
  consume(n = 1): void {
    const wait = this.#n.tryAcquire(n);
    if (wait !== 0) throw fromInfo(this.#n.limitedError(wait));
  }

  /** Waits for `n` tokens and takes them. */
  async acquire(n = 1): Promise<void> {
    for (;;) {
      const wait = this.#n.tryAcquire(n);
      if (wait === 0) return;
      await sleep(Math.ceil(wait));
    }
  }

  /** Tokens available now. */
  get available(): number {
    return this.#n.available();
  }
}

export interface BulkheadOptions {
  name?: string;
  /** Calls running at once. */
  maxConcurrent: number;
  /** Calls waiting for a slot (default 0: refuse at once). */
  maxQueue?: number;
}

/** The keys of `BulkheadOptions`. */
export const BULKHEAD_KEYS = new OptionKeys(['name', 'maxConcurrent', 'maxQueue']);

/** A bulkhead: at most `maxConcurrent` calls at once, `maxQueue` waiting, the rest refused. */
export class BulkheadPolicy {
  readonly name: string;
  readonly #n: NativeBulkhead;
  readonly #waiters = new Map<number, () => void>();

  constructor(opts: BulkheadOptions) {
    const o = options<BulkheadOptions>(opts, 'new BulkheadPolicy()', BULKHEAD_KEYS);
    this.name = str(o.name, 'name') ?? 'bulkhead';
    this.#n = call(() => new native.NativeBulkhead(this.name, rawOptions(o, ['maxConcurrent', 'maxQueue'])));
  }

  get active(): number {
    return this.#n.active;
  }

  get queued(): number {
    return this.#n.queued;
  }

  /** Runs `f` once a slot is free, or throws `BulkheadFullError` (R003). */
  async run<T>(f: () => T | Promise<T>): Promise<T> {
    const ticket = this.#n.tryEnter();
    if (ticket < 0) throw fromInfo(this.#n.fullError());
    if (ticket > 0) await new Promise<void>((resolve) => this.#waiters.set(ticket, resolve));
    try {
      return await f();
    } finally {
      const next = this.#n.leave();
      if (next > 0) {
        const w = this.#waiters.get(next);
        this.#waiters.delete(next);
        w?.();
      }
    }
  }
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 3). */
  attempts?: number;
  /** `fixed`, `linear` or `exponential` (default). */
  backoff?: 'fixed' | 'linear' | 'exponential';
  /** First delay in ms (default 100). */
  delay?: number;
  /** Linear step in ms (default: `delay`). */
  step?: number;
  /** Exponential factor (default 2). */
  factor?: number;
  /** Cap on any delay, in ms (default 30,000). */
  maxDelay?: number;
  /** `none` (default), `full` or `equal`. */
  jitter?: 'none' | 'full' | 'equal';
  /** Which errors are worth another attempt (default: all). */
  retryIf?: (error: unknown, attempt: number) => boolean;
}

/** The keys of `RetryOptions`. */
export const RETRY_KEYS = new OptionKeys(['attempts', 'backoff', 'delay', 'step', 'factor', 'maxDelay', 'jitter', 'retryIf']);

/** A retry policy. The delays come from the engine's one backoff implementation. */
export class RetryPolicy {
  readonly #n: NativeRetry;
  readonly #retryIf: ((e: unknown, attempt: number) => boolean) | undefined;

  constructor(opts: RetryOptions = {}) {
    const o = options<RetryOptions>(opts, 'new RetryPolicy()', RETRY_KEYS);
    this.#retryIf = fn(o.retryIf, 'retryIf');
    this.#n = call(() => new native.NativeRetry(rawOptions(o, ['attempts', 'backoff', 'delay', 'step', 'factor', 'maxDelay', 'jitter'])));
  }

  get maxAttempts(): number {
    return this.#n.maxAttempts;
  }

  /** The delay (ms) after attempt `attempt` failed. */
  delay(attempt: number): number {
    return this.#n.delay(attempt);
  }

  /**
   * Calls `f(attempt)` until it succeeds. When every attempt failed, throws `RetryExhaustedError`
   * (R004) whose `cause` is the last error and `attempts` the count; an error `retryIf` refuses is
   * thrown as it is.
   */
  async run<T>(f: (attempt: number) => T | Promise<T>): Promise<T> {
    const max = this.#n.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await f(attempt);
      } catch (e) {
        if (this.#retryIf && !this.#retryIf(e, attempt)) throw e;
        if (attempt >= max) {
          const err = fromInfo(this.#n.exhaustedError(attempt, e instanceof Error ? e.message : String(e)), { cause: e });
          Object.defineProperty(err, 'attempts', { value: attempt, enumerable: true });
          throw err;
        }
        await sleep(this.#n.delay(attempt));
      }
    }
  }
}

/** Rejects with `TimeoutError` (E006) if `work` takes longer than `ms`. */
export function withTimeout<T>(work: Promise<T> | T, ms: number, name?: string): Promise<T> {
  call(() => native.checkTimeout(ms));
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(fromInfo(native.timeoutErrorInfo(ms, name))), ms);
    Promise.resolve(work).then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
