// The engine's circuit breaker for JavaScript. Decisions (thresholds, the failure-rate window,
// half-open trials, transitions, metrics) are the engine's. JavaScript keeps a mirror of the state so
// the closed-state success path never crosses into native code: successes are counted here and
// handed to the engine in batches (before any other report, and at least every window/10).

import type { NativeBreaker } from '../../native.js';
import { native } from '../native.js';
import { call, fromInfo, invalidArgument } from '../errors.js';
import type { Registry } from '../metrics/registry.js';
import { fn, isThenable, OptionKeys, options, rawOptions, str } from '../util.js';

export type BreakerState = 'closed' | 'open' | 'half-open';
const STATES: BreakerState[] = ['closed', 'open', 'half-open'];
const SUCCESS = 0;
const FAILURE = 1;
const IGNORED = 2;
const TIMEOUT = 3;

export interface CircuitBreakerOptions {
  /** Name for errors and metrics (decorators default to `Class.method`). */
  name?: string;
  /** Opens after this many consecutive failures (default 5). */
  threshold?: number;
  /** Opens when failures / calls in the window reach this (0 < rate <= 1). */
  failureRate?: number;
  /** The failure-rate window in ms (default 10,000). */
  window?: number;
  /** Calls in the window before the rate counts (default 10). */
  minCalls?: number;
  /** How long it stays open before a trial call, in ms (default 60,000). */
  timeout?: number;
  /** Trial calls let through at once when half-open (default 1). */
  halfOpenMaxCalls?: number;
  /** Successful trials needed to close (default 1). */
  successThreshold?: number;
  /**
   * A call slower than this (ms) counts as a failure: an async call is abandoned (its promise rejects
   * with TimeoutError); a sync call cannot be, so it is measured and a late one throws TimeoutError.
   */
  callTimeout?: number;
  /** Which errors count as failures (default: all). */
  isFailure?: (error: unknown) => boolean;
  /** Called instead of failing: with the call's arguments and the error. */
  fallback?: (...argsAndError: any[]) => unknown;
  /** Where its metrics go (default `Registry.global`). */
  registry?: Registry;
}

/** The options the engine reads (and checks). */
const ENGINE_KEYS = ['threshold', 'failureRate', 'window', 'minCalls', 'timeout', 'halfOpenMaxCalls', 'successThreshold', 'callTimeout'];

/** The keys of `CircuitBreakerOptions` (anything else is refused with E001). */
export const CIRCUIT_BREAKER_KEYS = new OptionKeys([
  'name',
  'threshold',
  'failureRate',
  'window',
  'minCalls',
  'timeout',
  'halfOpenMaxCalls',
  'successThreshold',
  'callTimeout',
  'isFailure',
  'fallback',
  'registry',
]);

export interface StateChangeEvent {
  name: string;
  from: BreakerState;
  to: BreakerState;
}

type Listener = (e: StateChangeEvent) => void;

/** A call in flight under a call timeout (closed state). */
interface Watch {
  deadline: number;
  done: boolean;
  expire: () => void;
}

/** A circuit breaker: `fire(fn, ...args)`, `wrap(fn)`, or the `@CircuitBreaker()` decorator. */
export class CircuitBreakerPolicy {
  readonly name: string;
  readonly #n: NativeBreaker;
  /** The engine's `generation * 4 + state`, mirrored after every native call. */
  #status: number;
  #pending = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #flushMs: number;
  readonly #callTimeout: number | undefined;
  readonly #isFailure: ((e: unknown) => boolean) | undefined;
  readonly #fallback: ((...a: any[]) => unknown) | undefined;
  readonly #listeners: { event: string; f: Listener }[] = [];
  /** Whether calls through it have returned promises (so a refused call rejects, not throws). */
  #async: boolean | undefined;
  /**
   * Calls in flight under the call timeout, in deadline order (every call has the same timeout), with
   * one timer for the earliest: a timer per call would cost more than the breaker itself.
   */
  #watches: Watch[] = [];
  #watchHead = 0;
  #watchTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: CircuitBreakerOptions = {}) {
    const o = options<CircuitBreakerOptions>(opts, 'new CircuitBreakerPolicy()', CIRCUIT_BREAKER_KEYS);
    this.name = str(o.name, 'name') ?? 'breaker';
    this.#isFailure = fn(o.isFailure, 'isFailure');
    this.#fallback = fn(o.fallback, 'fallback');
    // The engine checks the values, in the user's words.
    this.#n = call(() => new native.NativeBreaker(this.name, rawOptions(o, ENGINE_KEYS), o.registry?.native));
    this.#callTimeout = o.callTimeout ?? undefined;
    this.#status = this.#n.status();
    this.#flushMs = Math.max(1, Math.min(this.#n.windowMs / 10, 1000));
  }

  /** The engine's state (successes still batched here are flushed first). */
  get state(): BreakerState {
    this.#flush();
    return STATES[this.#status % 4];
  }

  /** `stateChange` (every change), or `open`, `close`, `halfOpen`. */
  on(event: 'stateChange' | 'open' | 'close' | 'halfOpen', listener: Listener): this {
    if (typeof listener !== 'function') throw invalidArgument('a listener must be a function');
    this.#listeners.push({ event, f: listener });
    return this;
  }

  /** Calls `f(...args)` through the breaker. Sync functions stay sync; async ones give a promise. */
  fire<A extends unknown[], R>(f: (...args: A) => R, ...args: A): R {
    return this.exec(f, undefined, args);
  }

  /** `f` wrapped: every call goes through the breaker. */
  wrap<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
    const self = this;
    return function (this: unknown, ...args: A): R {
      return self.exec(f, this, args);
    };
  }

  /** @internal The call path (also used by the decorator, with the method's `this`). */
  exec<R>(f: (...args: any[]) => R, thisArg: unknown, args: unknown[]): R {
    const st = this.#status;
    if (st % 4 === 0 && this.#callTimeout !== undefined) return this.#timedClosed(st, f, thisArg, args, this.#callTimeout);
    if (st % 4 === 0) {
      // Closed: no native call on success.
      let r: R;
      try {
        r = f.apply(thisArg, args);
      } catch (e) {
        return this.#failed(st, e, args);
      }
      if (isThenable(r)) {
        this.#async = true;
        return (r as unknown as Promise<unknown>).then(
          (v) => {
            this.#succeeded(st);
            return v;
          },
          (e) => this.#failed(st, e, args),
        ) as unknown as R;
      }
      this.#async = false;
      this.#succeeded(st);
      return r;
    }
    return this.#guarded(f, thisArg, args);
  }

  /** The closed state's path under a call timeout: still no native call on success. */
  #timedClosed<R>(st: number, f: (...args: any[]) => R, thisArg: unknown, args: unknown[], limit: number): R {
    const started = performance.now();
    let r: R;
    try {
      r = f.apply(thisArg, args);
    } catch (e) {
      return this.#failed(st, e, args);
    }
    if (!isThenable(r)) {
      // A synchronous call cannot be abandoned: it is measured, and a late one counts as a timeout.
      this.#async = false;
      if (performance.now() - started > limit) return this.#timedOut(st, limit, args);
      this.#succeeded(st);
      return r;
    }
    this.#async = true;
    return new Promise((resolve, reject) => {
      const w: Watch = {
        deadline: started + limit,
        done: false,
        expire: () => {
          try {
            resolve(this.#timedOut(st, limit, args));
          } catch (e) {
            reject(e);
          }
        },
      };
      this.#watch(w);
      (r as unknown as Promise<unknown>).then(
        (v) => {
          if (w.done) return;
          w.done = true;
          this.#trimWatches();
          this.#succeeded(st);
          resolve(v);
        },
        (e) => {
          if (w.done) return;
          w.done = true;
          this.#trimWatches();
          try {
            resolve(this.#failed(st, e, args));
          } catch (x) {
            reject(x);
          }
        },
      );
    }) as unknown as R;
  }

  #timedOut<R>(st: number, limit: number, args: unknown[]): R {
    this.#report(permitOf(st), TIMEOUT);
    return this.#fallbackOr(fromInfo(native.timeoutErrorInfo(limit, this.name)), args, true);
  }

  #watch(w: Watch): void {
    this.#watches.push(w);
    if (this.#watchTimer === undefined) this.#armWatch(w.deadline);
  }

  #armWatch(deadline: number): void {
    const ms = Math.min(Math.max(0, deadline - performance.now()) + 1, 2 ** 31 - 1);
    this.#watchTimer = setTimeout(() => this.#expireWatches(), ms);
    // The work itself keeps the process alive if it needs to; an idle breaker must not.
    this.#watchTimer.unref?.();
  }

  /** Drops finished calls from the head of the queue, so it holds only calls still running. */
  #trimWatches(): void {
    const q = this.#watches;
    let i = this.#watchHead;
    while (i < q.length && q[i].done) i++;
    if (i === q.length) {
      q.length = 0;
      this.#watchHead = 0;
    } else if (i > 1024 && i * 2 > q.length) {
      this.#watches = q.slice(i);
      this.#watchHead = 0;
    } else {
      this.#watchHead = i;
    }
  }

  #expireWatches(): void {
    this.#watchTimer = undefined;
    const now = performance.now();
    const q = this.#watches;
    for (let i = this.#watchHead; i < q.length && (q[i].done || q[i].deadline <= now); i++) {
      if (!q[i].done) {
        q[i].done = true;
        q[i].expire();
      }
    }
    this.#trimWatches();
    const head = this.#watches[this.#watchHead];
    if (head !== undefined) this.#armWatch(head.deadline);
  }

  #succeeded(st: number): void {
    if (st !== this.#status) {
      // Finished after the state changed: the engine counts it but it changes nothing.
      this.#report(permitOf(st), SUCCESS);
      return;
    }
    if (this.#pending++ === 0) {
      this.#timer = setTimeout(() => this.#flush(), this.#flushMs);
      this.#timer.unref?.();
    }
  }

  #flush(): void {
    if (this.#pending === 0) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const n = this.#pending;
    this.#pending = 0;
    this.#update(this.#n.recordSuccesses(n));
  }

  #failed<R>(st: number, e: unknown, args: unknown[]): R {
    const counts = this.#isFailure ? safe(() => this.#isFailure!(e)) : true;
    this.#report(permitOf(st), counts ? FAILURE : IGNORED);
    return this.#fallbackOr(e, args, counts);
  }

  #report(permit: number, outcome: number): void {
    this.#flush();
    this.#update(this.#n.record(permit, outcome));
  }

  #update(status: number): void {
    const before = this.#status % 4;
    this.#status = status;
    const after = status % 4;
    if (before !== after) {
      const ev: StateChangeEvent = { name: this.name, from: STATES[before], to: STATES[after] };
      const specific = after === 1 ? 'open' : after === 0 ? 'close' : 'halfOpen';
      for (const l of this.#listeners) if (l.event === 'stateChange' || l.event === specific) l.f(ev);
    }
  }

  #fallbackOr<R>(e: unknown, args: unknown[], counted: boolean): R {
    if (this.#fallback && counted) return this.#fallback(...args, e) as R;
    throw e;
  }

  /** The slow path: not closed, or a call timeout to enforce. */
  #guarded<R>(f: (...args: any[]) => R, thisArg: unknown, args: unknown[]): R {
    this.#flush();
    const permit = this.#n.acquire();
    if (permit < 0) {
      this.#update(this.#n.status());
      const err = fromInfo(this.#n.openError());
      // Refused without calling: answer the way the function would have (a promise for async ones).
      if (this.#async ?? f.constructor?.name === 'AsyncFunction') {
        return new Promise((resolve) => resolve(this.#fallbackOr(err, args, true))) as unknown as R;
      }
      return this.#fallbackOr(err, args, true);
    }
    this.#update(this.#n.status());
    const started = performance.now();
    let r: R;
    try {
      r = f.apply(thisArg, args);
    } catch (e) {
      return this.#settle(permit, e, args);
    }
    const limit = this.#callTimeout;
    if (!isThenable(r)) {
      if (limit !== undefined && performance.now() - started > limit) {
        return this.#settle(permit, new TimedOut(limit, this.name), args);
      }
      this.#update(this.#n.record(permit, SUCCESS));
      return r;
    }
    const p = Promise.resolve(r);
    const raced =
      limit === undefined
        ? p
        : new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new TimedOut(limit, this.name)), limit);
            p.then(
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
    return raced.then(
      (v) => {
        this.#update(this.#n.record(permit, SUCCESS));
        return v;
      },
      (e) => this.#settle(permit, e, args),
    ) as unknown as R;
  }

  #settle<R>(permit: number, e: unknown, args: unknown[]): R {
    if (e instanceof TimedOut) {
      this.#update(this.#n.record(permit, TIMEOUT));
      return this.#fallbackOr(fromInfo(native.timeoutErrorInfo(e.ms, e.name)), args, true);
    }
    const counts = this.#isFailure ? safe(() => this.#isFailure!(e)) : true;
    this.#update(this.#n.record(permit, counts ? FAILURE : IGNORED));
    return this.#fallbackOr(e, args, counts);
  }
}

class TimedOut {
  constructor(
    readonly ms: number,
    readonly name: string,
  ) {}
}

/** A closed-state permit of the generation in `status`. */
function permitOf(status: number): number {
  return Math.floor(status / 4) * 2;
}

function safe(f: () => boolean): boolean {
  try {
    return !!f();
  } catch {
    return true;
  }
}
