// Pools of worker processes (any language) over the engine's Pool: `Pool.start({...})`, `exec`,
// `map`, a typed `proxy`, `status`, `stop`; and the spec's `@ProcessPool({...})` property decorator.
// Dispatch, queueing, retries, recycling and scaling are the engine's; this file translates.

import type { NativePool } from '../../native.js';
import { isMainThread } from 'node:worker_threads';
import { native } from '../native.js';
import { call as nativeCall, invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { Writer, appendRecord, encode } from '../rpc/codec.js';
import type { ServiceProxy } from '../rpc/peer.js';
import { OptionKeys, checkKeys, rawOptions } from '../util.js';
import { Ops } from './ops.js';
import { currentTrace } from '../telemetry.js';
import { childSpec, isObject, optStr, type ChildProgram } from './program.js';

/** How a pool picks a worker for a task. */
export type PoolStrategy = 'round-robin' | 'least-loaded' | 'power-of-two';
// Pool workers' connections are read on the main thread's event loop (one wake-up per answer).
if (isMainThread) native.hostLoopInit(() => native.hostLoopAdopt());


/** A pool's settings (times in ms). */
export interface PoolOptions<T = unknown> extends ChildProgram {
  /** For metrics and logs (default: the service's or program's name). */
  name?: string;
  /** Workers (default 'auto': as many as CPUs). */
  size?: number | 'auto';
  /** Fewest workers when scaling down (default: size). */
  min?: number;
  /** Most workers when scaling up while tasks wait (default: size, no autoscaling). */
  max?: number;
  /** How a worker is picked (default 'round-robin'). */
  strategy?: PoolStrategy;
  /** Start every worker before `start` resolves (default true). */
  warmup?: boolean;
  /** Tasks in flight per worker (default 32). */
  concurrency?: number;
  /** Tasks waiting for a worker before `exec` fails with QueueFullError (P003) (default 10,000). */
  queueLimit?: number;
  /** How long a task may take, waiting included (default 30,000); then TimeoutError (E006). */
  taskTimeout?: number;
  /** Times a task is retried on another worker when its worker dies (default 1); then WorkerLostError (P004). */
  taskRetries?: number;
  /** Replace a worker after this many tasks. */
  recycleAfter?: number;
  /** Replace a worker after it ran this long. */
  maxLifetime?: number;
  /** Idle time before scaling down (default 10,000). */
  idleTimeout?: number;
  /** Only for typing: `Pool.start<Worker>(...)` infers nothing from here. */
  readonly _type?: T;
}

/** The pool options the engine reads (and checks). */
const POOL_ENGINE_KEYS = [
  'size',
  'min',
  'max',
  'strategy',
  'warmup',
  'concurrency',
  'queueLimit',
  'taskTimeout',
  'taskRetries',
  'recycleAfter',
  'maxLifetime',
  'idleTimeout',
];

/** The keys of `PoolOptions` (a child program's, then the pool's own). */
const POOL_KEYS = new OptionKeys([
  'command',
  'args',
  'service',
  'module',
  'exportName',
  'execArgv',
  'target',
  'env',
  'cwd',
  'readyTimeout',
  'shutdownTimeout',
  'healthCheck',
  'name',
  ...POOL_ENGINE_KEYS,
]);
const HEALTH_KEYS = new OptionKeys(['interval', 'timeout', 'maxMissed']);


function checkPoolKeys(o: object, what: string): void {
  checkKeys(o, POOL_KEYS, what);
  const h = (o as { healthCheck?: unknown }).healthCheck;
  if (isObject(h)) checkKeys(h, HEALTH_KEYS, `${what}: healthCheck`);
}

/** How `map(items, 'method', options)` sends its items. */
export interface MapOptions {
  /**
   * Items per message to workers that take chunks (Node and Python workers); default: as
   * multiprocessing's `Pool.map` chooses, the items spread over four chunks per worker. 1 sends one
   * call per item.
   */
  chunksize?: number;
}
const MAP_KEYS = new OptionKeys(['chunksize']);

/** A pool's state. */
export interface PoolStatus {
  /** Ready workers. */
  workers: number;
  /** Workers being started. */
  starting: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Tasks in flight. */
  inFlight: number;
  /** The workers' process ids. */
  pids: number[];
}

type AnyFn = (...args: any[]) => any;
/** The method names of `T`. */
export type MethodName<T> = { [K in keyof T]: T[K] extends AnyFn ? K : never }[keyof T] & string;
type Args<T, K extends keyof T> = T[K] extends AnyFn ? Parameters<T[K]> : unknown[];
type Result<T, K extends keyof T> = T[K] extends AnyFn ? Awaited<ReturnType<T[K]>> : unknown;

/** A pool of worker processes running tasks: `exec('method', ...args)` on one of them. */
export class Pool<T = any> {
  readonly #native: NativePool;
  readonly #ops: Ops;
  readonly #window: number;
  #proxy: ServiceProxy<T> | undefined;
  #stopped = false;

  private constructor(
    readonly name: string,
    n: NativePool,
    ops: Ops,
    window: number,
  ) {
    this.#native = n;
    this.#ops = ops;
    this.#window = window;
  }

  /** Starts a pool; with `warmup` (the default) every worker is ready when this resolves. */
  static async start<T = any>(options: PoolOptions<T>): Promise<Pool<T>> {
    const what = 'Pool.start()';
    if (!isObject(options)) throw invalidArgument(`${what} takes an options object, got ${describe(options)}`);
    checkPoolKeys(options, what);
    const o = options as Record<string, unknown>;
    const { spec, target } = childSpec(options, what, optStr(o, 'name', what));
    // The values as the user wrote them: the engine checks them, in TypeScript's words.
    const input = { name: spec.name, spec, service: target, options: rawOptions(o, POOL_ENGINE_KEYS) };
    const whole = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
    const [size, max, concurrency] = [whole(o.size), whole(o.max), whole(o.concurrency)];
    const ops = new Ops();
    const n = nativeCall(() => new native.NativePool(input, ops.wake, ops.wake));
    ops.source = n;
    const window = (max ?? size ?? 64) * (concurrency ?? 32);
    await ops.run<null>((id) => n.start(id), true);
    return new Pool<T>(spec.name, n, ops, window);
  }

  /** Runs `method(...args)` on a worker. */
  exec<K extends MethodName<T>>(method: K, ...args: Args<T, K>): Promise<Result<T, K>> {
    if (typeof method !== 'string') return Promise.reject(invalidArgument(`exec() needs a method name, got ${describe(method)}`));
    let buf: Uint8Array;
    try {
      buf = encode(args);
    } catch (e) {
      return Promise.reject(e);
    }
    const trace = currentTrace()?.traceparent ?? null;
    return this.#ops.run((id) => this.#native.exec(id, method, buf, trace));
  }

  /**
   * `map(items, 'method')`: `method(item)` for every item on the workers, results in the items'
   * order; every item runs, and if any failed the first failure (in the items' order) rejects, as its
   * own `exec` would have. Node and Python workers get the items in chunks, one message per chunk
   * (`{ chunksize }`, default as multiprocessing's `Pool.map`); a chunk is one task (its
   * `taskTimeout` covers the chunk, a chunk whose worker dies runs again on another, within
   * `taskRetries`); other workers get one call per item. `map(items, fn)`: `fn(item, index)` for
   * every item, as many at a time as the workers take, results in order.
   */
  map<K extends MethodName<T>>(items: Iterable<Args<T, K>[0]>, method: K, options?: MapOptions): Promise<Result<T, K>[]>;
  map<I, R>(items: Iterable<I>, fn: (item: I, index: number) => R | Promise<R>): Promise<Awaited<R>[]>;
  async map(items: Iterable<unknown>, f: string | ((item: unknown, index: number) => unknown), options?: MapOptions): Promise<unknown[]> {
    const list = listOf(items);
    if (typeof f === 'string') {
      let chunksize: number | undefined;
      if (options !== undefined) {
        if (!isObject(options)) throw invalidArgument(`map() takes an options object, got ${describe(options)}`);
        checkKeys(options, MAP_KEYS, 'map()');
        const c = options.chunksize;
        if (c !== undefined && (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > 0xffffffff)) {
          throw invalidArgument(`map(): 'chunksize' must be a whole number of at least 1, got ${describe(c)}`);
        }
        chunksize = c;
      }
      // Every item's encoding one after the other in one buffer, and where each ends.
      const w = new Writer();
      const ends = new Uint32Array(list.length);
      for (let i = 0; i < list.length; i++) {
        appendRecord(w, 0, list[i]);
        ends[i] = w.len;
      }
      const values = w.buf.subarray(0, w.len);
      const trace = currentTrace()?.traceparent ?? null;
      return this.#ops.run<unknown[]>((id) => this.#native.map(id, f, values, ends, chunksize, trace));
    }
    if (typeof f !== 'function') throw invalidArgument(`map() takes a method name or a function, got ${describe(f)}`);
    if (options !== undefined) throw invalidArgument('map(items, fn) takes no options (they are for map(items, method))');
    const out = new Array<unknown>(list.length);
    let next = 0;
    const lane = async () => {
      while (next < list.length) {
        const i = next++;
        out[i] = await f(list[i], i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#window, list.length) }, lane));
    return out;
  }

  /** `pool.proxy.method(...args)` is `pool.exec('method', ...args)`, typed. */
  get proxy(): ServiceProxy<T> {
    this.#proxy ??= new Proxy(
      {},
      {
        get: (_t, key) => {
          if (typeof key !== 'string' || key === 'then') return undefined;
          return (...args: unknown[]) => this.exec(key as MethodName<T>, ...(args as any));
        },
      },
    ) as ServiceProxy<T>;
    return this.#proxy;
  }

  /** Workers, queue and tasks in flight now. */
  status(): PoolStatus {
    const s = this.#native.status();
    return { workers: s.workers, starting: s.starting, queued: s.queued, inFlight: s.inFlight, pids: [...s.pids] };
  }

  /** Stops the pool: queued tasks fail, tasks in flight get the shutdown timeout, every worker stops. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#ops.run<null>((id) => this.#native.stop(id), true);
  }

  /** The same as `stop()`: what every Omnitron object that holds resources has (Peer, Supervisor, app). */
  close(): Promise<void> {
    return this.stop();
  }
}

/** An array of `items`, or E001 for what is not iterable. */
function listOf(items: unknown): readonly unknown[] {
  if (Array.isArray(items)) return items;
  if (items !== null && items !== undefined && typeof (items as Iterable<unknown>)[Symbol.iterator] === 'function' && typeof items !== 'string') {
    return Array.from(items as Iterable<unknown>);
  }
  throw invalidArgument(`map() takes an array (or another iterable) of items, got ${describe(items)}`);
}

const POOLS = Symbol.for('omnitron.process.pools');

type PoolInstance = Record<string | symbol, unknown>;

async function startPools(self: PoolInstance, list: [string | symbol, PoolOptions<unknown>][]): Promise<void> {
  const started: Pool[] = [];
  try {
    for (const [key, opts] of list) {
      if (self[key] instanceof Pool) continue;
      const p = await Pool.start(opts);
      started.push(p);
      self[key] = p;
    }
  } catch (e) {
    await Promise.all(started.map((p) => p.stop()));
    throw e;
  }
}

/**
 * `@ProcessPool({ service: Worker, size: 'auto' }) pool!: Pool<Worker>`: the property holds a started
 * pool. The pools start in the instance's `onInit` phase (before its own `onInit`), which the
 * container's `initialize()` runs (`Omnitron.create` calls it; resolving does not), and stop in
 * `onDestroy` (after its own, on `app.close()`).
 */
export function ProcessPool<T = unknown>(options: PoolOptions<T>): PropertyDecorator {
  if (!isObject(options)) throw invalidArgument(`@ProcessPool takes an options object, got ${describe(options)}`);
  checkPoolKeys(options, '@ProcessPool()');
  return (proto, key) => {
    const p = proto as PoolInstance;
    if (!Object.prototype.hasOwnProperty.call(p, POOLS)) {
      const list: [string | symbol, PoolOptions<unknown>][] = [...((p[POOLS] as typeof list | undefined) ?? [])];
      Object.defineProperty(p, POOLS, { value: list, configurable: true });
      const userInit = p.onInit as AnyFn | undefined;
      const userDestroy = p.onDestroy as AnyFn | undefined;
      Object.defineProperty(p, 'onInit', {
        configurable: true,
        writable: true,
        value: async function onInit(this: PoolInstance) {
          await startPools(this, list);
          if (typeof userInit === 'function') await userInit.call(this);
        },
      });
      Object.defineProperty(p, 'onDestroy', {
        configurable: true,
        writable: true,
        value: async function onDestroy(this: PoolInstance) {
          try {
            if (typeof userDestroy === 'function') await userDestroy.call(this);
          } finally {
            await Promise.all(list.map(([k]) => (this[k] instanceof Pool ? (this[k] as Pool).stop() : undefined)));
          }
        },
      });
    }
    (p[POOLS] as [string | symbol, PoolOptions<unknown>][]).push([key, options as PoolOptions<unknown>]);
  };
}
