// RPC for TypeScript: a Peer over the engine's, the spec's decorators (@Service, @Public, @OnEvent,
// @EmitEvent, @InjectProcess) and typed ServiceProxy<T>. Values cross as MessagePack (msgpack.ts).
//
// Handlers run on this process's event loop; the engine waits for them without blocking its
// threads. While a peer listens, or calls are in flight, the process stays alive (like a net.Server
// and a pending socket); `close()` lets it exit.

import { addBatch, wireError } from './batch.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { NativePeer } from '../../native.js';
import { native } from '../native.js';
import { errorFor, OmnitronError, call as nativeCall, fromInfo, invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { OptionKeys, options, str } from '../util.js';
import { decodeAt, encode, encodeTransient } from './codec.js';
import { answer } from './answers.js';
import { CallBatch, flushCalls } from './calls.js';
import { CallTable } from './pending.js';
import { BatchReader } from '../batch.js';
import { KeepAlive } from '../keepalive.js';
import { currentTrace, enterCallTrace, flushTraces, noteCallTrace, readCallTraceWith, runInTrace, type TraceHeaders } from '../telemetry.js';
import { readCallWith } from '../log.js';

type Ctor<T = object> = abstract new (...args: any[]) => T;
type AnyFn = (...args: any[]) => any;

const SERVICE = Symbol.for('omnitron.rpc.service');
const PUBLIC = Symbol.for('omnitron.rpc.public');
const EVENTS = Symbol.for('omnitron.rpc.events');

interface ServiceMeta {
  name: string;
  version: string;
}

/** The version of a service declared without one: `@Service('notifications')` is `notifications@1.0.0`. */
export const DEFAULT_SERVICE_VERSION = '1.0.0';

/** What `@Service({ ... })` takes. */
export interface ServiceOptions {
  /** The name other processes call it by (default: the class's name). */
  name?: string;
  /** Its semver version (default `1.0.0`). */
  version?: string;
}
const SERVICE_KEYS = new OptionKeys(['name', 'version']);

/** `name@version` or a bare name, checked by the engine (RPC010 when invalid). */
function parseServiceId(id: string): ServiceMeta {
  const [name, version] = nativeCall(() => native.parseServiceId(id));
  return { name, version };
}

/**
 * `@Service('payment@1.0.0')`: a class whose `@Public()` methods other processes can call, and whose
 * `@OnEvent()` methods receive events once it is exposed. Also `@Service('notifications')` (version
 * 1.0.0), `@Service()` (named after the class, version 1.0.0) and `@Service({ name, version })`.
 * It is reachable by its bare name, its exact version and any range that matches (`payment@^1`).
 */
export function Service(id?: string | ServiceOptions): <C extends Ctor>(cls: C) => C {
  let meta: ServiceMeta | undefined;
  let named: Partial<ServiceMeta> = {};
  if (typeof id === 'string') meta = parseServiceId(id);
  else if (id === undefined || (id !== null && typeof id === 'object' && !Array.isArray(id))) {
    const o = options<ServiceOptions>(id, '@Service()', SERVICE_KEYS);
    named = { name: str(o.name, "@Service()'s name"), version: str(o.version, "@Service()'s version") };
    if (named.name !== undefined) meta = parseServiceId(`${named.name}@${named.version ?? DEFAULT_SERVICE_VERSION}`);
  } else {
    throw invalidArgument(`@Service() takes 'name@version', a name or { name, version }, got ${describe(id)}`);
  }
  return (cls) => {
    if (typeof cls !== 'function') throw invalidArgument(`@Service decorates classes, got ${describe(cls)}`);
    const m = meta ?? parseServiceId(`${cls.name}@${named.version ?? DEFAULT_SERVICE_VERSION}`);
    Object.defineProperty(cls, SERVICE, { value: m, enumerable: false, configurable: true });
    return cls;
  };
}

/** `@Public()`: the method can be called over RPC (only these can). */
export function Public(): MethodDecorator {
  return (target, key) => {
    const ctor = target.constructor as unknown as Record<symbol, Set<string | symbol>>;
    const own = Object.prototype.hasOwnProperty.call(ctor, PUBLIC) ? ctor[PUBLIC] : new Set(ctor[PUBLIC] ?? []);
    own.add(key);
    Object.defineProperty(ctor, PUBLIC, { value: own, enumerable: false, configurable: true });
  };
}

/**
 * `@OnEvent('order.created')`: the method is called with `(payload, topic)` for every matching event
 * (`*` one word, `#` any), from any connected process, once the service is exposed (`expose()`
 * resolves when its subscriptions are active).
 */
export function OnEvent(pattern: string): MethodDecorator {
  if (typeof pattern !== 'string' || pattern === '') throw invalidArgument(`@OnEvent needs a pattern such as 'order.*', got ${describe(pattern)}`);
  return (target, key) => {
    const ctor = target.constructor as unknown as Record<symbol, [string, string | symbol][]>;
    const own = Object.prototype.hasOwnProperty.call(ctor, EVENTS) ? ctor[EVENTS] : [...(ctor[EVENTS] ?? [])];
    own.push([pattern, key]);
    Object.defineProperty(ctor, EVENTS, { value: own, enumerable: false, configurable: true });
  };
}

/**
 * `@EmitEvent('notification.sent')`: after the method returns (or its promise resolves), its result is
 * published as that event through the peer that exposes the service.
 */
export function EmitEvent(topic: string): MethodDecorator {
  if (typeof topic !== 'string' || topic === '') throw invalidArgument(`@EmitEvent needs a topic, got ${describe(topic)}`);
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as AnyFn;
    if (typeof original !== 'function') throw invalidArgument('@EmitEvent decorates methods');
    descriptor.value = function (this: object, ...args: unknown[]) {
      const emit = (v: unknown) => {
        const peer = PEER_OF.get(this) ?? Peer.default;
        if (peer) peer.publish(topic, v);
        return v;
      };
      const r = original.apply(this, args);
      return r instanceof Promise ? r.then(emit) : emit(r);
    };
  };
}

/** A remote service: every public method of `T` returning a Promise (streaming methods: an async iterable). */
export type ServiceProxy<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => AsyncGenerator<infer I, any, any>
    ? (...args: A) => AsyncIterableIterator<I>
    : T[K] extends (...args: infer A) => Generator<infer I, any, any>
      ? (...args: A) => AsyncIterableIterator<I>
      : T[K] extends (...args: infer A) => infer R
        ? (...args: A) => Promise<Awaited<R>>
        : never;
};

/** What a peer knows of a service. */
export interface ServiceInfo {
  name: string;
  version: string;
  methods: string[];
  /** Those methods that answer with a stream. */
  streams: string[];
}

const PEER_KEYS = new OptionKeys(['name', 'token', 'maxFrame']);

export interface PeerOptions {
  /** A name for logs and errors (default `node`). */
  name?: string;
  /** The auth token (required on TCP). */
  token?: string;
  /** Largest frame accepted, in bytes (default 16 MiB). */
  maxFrame?: number;
}

export interface CallOptions {
  /** How long to wait, in ms (default 5,000). */
  deadline?: number;
}
const CALL_KEYS = new OptionKeys(['deadline']);
/** The options of a call that gives none: no key to check. */
const NO_OPTIONS: CallOptions = Object.freeze({});

/** An unknown key of a call's options (a key lookup per key: calls are the hot path), or undefined. */
function badCallOptions(opts: object, what: string): OmnitronError | undefined {
  for (const k in opts) if (k !== 'deadline') return fromInfo(native.unknownOption(what, k, [...CALL_KEYS.keys]));
  return undefined;
}

/** The options of a proxy or interface (checked once, when it is made). */
function callOptions(opts: unknown, what: string): CallOptions {
  const o = options<CallOptions>(opts, what, CALL_KEYS);
  if (o.deadline !== undefined && o.deadline !== null && typeof o.deadline !== 'number') {
    throw invalidArgument(`the deadline is a number of milliseconds, got ${describe(o.deadline)}`);
  }
  return o;
}

/** What `queryInterface` found, kept on its proxies (see `proxyInfo`). */
const INFO = Symbol('omnitron.rpc.info');

/**
 * The service a proxy from `queryInterface` stands for: its name, version, public methods and
 * streams (undefined for anything else, such as a `peer.proxy()`, which checks nothing). A function
 * rather than a property so that no remote method's name is hidden.
 */
export function proxyInfo(proxy: object): ServiceInfo | undefined {
  return (proxy as { [INFO]?: ServiceInfo })[INFO];
}

/** What a handler can learn about the call it serves (see `callContext()`). */
export interface CallContext {
  /** Aborted when the caller cancels, disconnects or the deadline passes. */
  signal: AbortSignal;
  /** The method being served. */
  method: string;
  /** The service it belongs to. */
  service: string;
  /** The call's trace context, when it has one (see `currentTrace()`). */
  trace?: TraceHeaders | undefined;
}

const CONTEXT = new AsyncLocalStorage<CallContext>();
readCallTraceWith(() => CONTEXT.getStore()?.trace);
readCallWith(() => CONTEXT.getStore());

/** A call's context whose AbortController is only made if a handler asks for the signal. */
interface ExposedMethod {
  fn: AnyFn;
  name: string;
  service: string;
  stream: boolean;
}

class LazyContext implements CallContext {
  #ac: AbortController | undefined;
  #aborted = false;
  trace: TraceHeaders | undefined = undefined;

  constructor(
    readonly method: string,
    readonly service: string,
  ) {}

  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#aborted) this.#ac.abort();
    }
    return this.#ac.signal;
  }

  abort(): void {
    this.#aborted = true;
    this.#ac?.abort();
  }
}

/** Inside a handler (and what it awaits): the call being served. */
export function callContext(): CallContext | undefined {
  return CONTEXT.getStore();
}

/** A service instance a peer hosts: its handlers' numbers and its `@OnEvent` subscriptions. */
interface Exposed {
  instance: object;
  numbers: number[];
  subs: number[];
}

/** What the engine reports at the end of a stream. */
const END = Symbol('end');

/** The instance behind each exposed service, for @EmitEvent. */
const PEER_OF = new WeakMap<object, Peer>();

// The calls of one event-loop turn (those the answers of one read set off) are written together,
// in slices of 16 and the rest when the turn ends (setImmediate: after this turn's I/O callbacks
// and microtasks, before the loop waits for I/O again), by this thread, instead of waking an
// engine thread at the first one.
let turnOpen = false;
const endTurn = (): void => {
  turnOpen = false;
  try {
    flushCalls();
  } finally {
    native.endTurn();
  }
};

// A drain's answers resolve promises whose reactions make the next calls; a microtask queued after
// those reactions ends the turn right then, instead of at the loop's check phase.
let endQueued = false;
const endTurnAfterReactions = (): void => {
  endQueued = false;
  if (turnOpen) endTurn();
};

/** This process's end of the RPC network. */
export class Peer {
  /** The peer `@InjectProcess` and `@EmitEvent` use when none is given (the last one created). */
  static default: Peer | undefined;

  readonly #native: NativePeer;
  readonly #batch = new BatchReader();
  /** Calls by route waiting for the end of this turn (or a full slice). */
  readonly #calls: CallBatch;
  readonly #pending = new CallTable();
  /** Exposed methods by the number the engine gave them (`expose`). */
  readonly #methods = new Map<number, ExposedMethod>();
  /** Numbers of the `target` and `method` pairs called (`route`): no strings cross per call. */
  readonly #routes = new Map<string, Map<string, number>>();
  readonly #serving = new Map<number, LazyContext>();
  readonly #gens = new Map<number, AsyncIterator<unknown> | Iterator<unknown>>();
  readonly #subs = new Map<number, (payload: unknown, topic: string) => unknown>();
  /** What `expose` set up, by `name@version`: undone by `unexpose`. */
  readonly #exposed = new Map<string, Exposed>();
  #nextCall = 1;
  readonly #keepAlive = new KeepAlive();
  readonly #listening: boolean;
  #closed = false;

  private constructor(make: (cb: unknown) => NativePeer, listening: boolean) {
    const cb = {
      // Answers, calls and events come in batches: one wake-up, one drain().
      wake: () => this.#drain(),
      wakeNow: () => this.#drain(),
      pull: (id: number) => this.#pull(id),
      cancel: (id: number) => {
        this.#serving.get(id)?.abort();
        const g = this.#gens.get(id);
        if (g) {
          this.#gens.delete(id);
          void g.return?.(undefined);
        }
      },
      // Connections are read on this thread's event loop: start watching the new ones.
      adopt: () => this.#native?.hostAdopt(),
    };
    this.#native = nativeCall(() => make(cb));
    const peer = this.#native;
    this.#calls = new CallBatch((buf, len) => peer.callBatch(buf, len));
    this.#listening = listening;
    this.#hold();
    Peer.default = this;
  }

  /** Listens on `address` (`unix:/path/to.sock` or `tcp://host:port`; TCP needs a token). */
  static async listen(address: string, opts: PeerOptions = {}): Promise<Peer> {
    opts = options<PeerOptions>(opts, 'Peer.listen()', PEER_KEYS);
    return new Peer((cb) => native.NativePeer.listen(address, opts.name ?? 'node', opts.token, opts.maxFrame, cb as any), true);
  }

  /** Connects to the peer listening at `address` (reconnecting by itself if it drops). */
  static async connect(address: string, opts: PeerOptions = {}): Promise<Peer> {
    opts = options<PeerOptions>(opts, 'Peer.connect()', PEER_KEYS);
    return new Peer((cb) => native.NativePeer.connect(address, opts.name ?? 'node', opts.token, opts.maxFrame, cb as any), false);
  }

  /** The address it listens on, if it listens. */
  get address(): string | undefined {
    return this.#native.address() ?? undefined;
  }

  /**
   * Whether the connection to the peer it connected to is up now (false while it reconnects, and
   * once closed). Always true for a peer that only listens, until it is closed.
   */
  get connected(): boolean {
    return !this.#closed && this.#native.isConnected();
  }

  /**
   * Hosts a `@Service` instance: its `@Public()` methods become callable, its `@OnEvent` methods
   * subscribed. Resolves once those subscriptions are active; if one cannot be made (the peer is
   * reconnecting past its deadline), nothing of the service stays exposed.
   */
  async expose(instance: object): Promise<void> {
    if (instance === null || typeof instance !== 'object') throw invalidArgument(`expose() takes a service instance, got ${describe(instance)}`);
    const ctor = instance.constructor as unknown as Record<symbol, unknown>;
    const meta = ctor[SERVICE] as ServiceMeta | undefined;
    if (!meta) throw invalidArgument(`${describe(instance)} is not a @Service class: decorate it with @Service('name@1.0.0')`);
    const names = [...((ctor[PUBLIC] as Set<string | symbol> | undefined) ?? [])].filter((k): k is string => typeof k === 'string');
    const methods = new Map<string, AnyFn>();
    for (const n of names) {
      const f = (instance as Record<string, unknown>)[n];
      if (typeof f !== 'function') throw invalidArgument(`@Public() '${n}' of '${meta.name}' is not a method`);
      methods.set(n, (f as AnyFn).bind(instance));
    }
    const handlers: [string, AnyFn][] = [];
    for (const [pattern, key] of (ctor[EVENTS] as [string, string | symbol][] | undefined) ?? []) {
      const f = (instance as Record<string | symbol, unknown>)[key];
      if (typeof f !== 'function') throw invalidArgument(`@OnEvent('${pattern}') '${String(key)}' of '${meta.name}' is not a method`);
      handlers.push([pattern, (payload: unknown, topic: string) => (f as AnyFn).call(instance, payload, topic)]);
    }
    const isStream = (f: AnyFn) => {
      const kind = (Object.getPrototypeOf(f) as { constructor?: { name?: string } } | null)?.constructor?.name;
      return kind === 'AsyncGeneratorFunction' || kind === 'GeneratorFunction';
    };
    const raw = (n: string) => (instance as Record<string, unknown>)[n] as AnyFn;
    const streams = names.filter((n) => isStream(raw(n)));
    const unary = names.filter((n) => !streams.includes(n));
    addBatch(methods, unary); // `$batch`: a pool's map sends chunks of items (lib/rpc/batch.ts)
    const first = nativeCall(() => this.#native.expose(meta.name, meta.version, unary, streams));
    // Numbered in this order by the engine: the unary methods, then the streams.
    const numbers = [...unary, ...streams].map((n, i) => {
      this.#methods.set(first + i, { fn: methods.get(n)!, name: n, service: meta.name, stream: i >= unary.length });
      return first + i;
    });
    const exposed: Exposed = { instance, numbers, subs: [] };
    this.#exposed.set(`${meta.name}@${meta.version}`, exposed);
    PEER_OF.set(instance, this);
    const subscribed = await Promise.allSettled(handlers.map(([pattern, h]) => this.subscribe(pattern, h)));
    for (const r of subscribed) if (r.status === 'fulfilled') exposed.subs.push(r.value);
    const failed = subscribed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.unexpose(meta.name, meta.version).catch(() => {}); // the subscription's failure is what the caller sees
      throw failed.reason;
    }
  }

  /**
   * Stops hosting `name@version`: its methods can no longer be called and its `@OnEvent` methods
   * get no more events. False if it was not hosted here.
   */
  async unexpose(name: string, version: string): Promise<boolean> {
    const exposed = this.#exposed.get(`${name}@${version}`);
    if (exposed !== undefined) {
      this.#exposed.delete(`${name}@${version}`);
      for (const sub of exposed.subs) this.unsubscribe(sub);
      for (const n of exposed.numbers) this.#methods.delete(n);
      if (PEER_OF.get(exposed.instance) === this) PEER_OF.delete(exposed.instance);
    }
    if (this.#closed) return exposed !== undefined;
    return nativeCall(() => this.#native.unexpose(name, version));
  }

  #dispatch(id: number, handler: number, start: number, len: number, traceparent: string | null, tracestate: string | null): void {
    const m = this.#methods.get(handler);
    if (!m) return void native.rpcAnswer(id, 'RPC002', `no handler numbered ${handler}`, null);
    const ac = new LazyContext(m.name, m.service);
    if (traceparent !== null) {
      // The handler, and everything it awaits, runs in its call's trace context (kept on its call
      // context, and active in OpenTelemetry when an SDK is registered).
      ac.trace = tracestate === null ? { traceparent } : { traceparent, tracestate };
      if (noteCallTrace()) return enterCallTrace(ac.trace, () => this.#serve(id, m, ac, start, len));
    }
    this.#serve(id, m, ac, start, len);
  }

  #serve(id: number, m: ExposedMethod, ac: LazyContext, start: number, len: number): void {
    try {
      const decoded = decodeAt(this.#batch.buffer, start, len);
      const list = Array.isArray(decoded) ? decoded : [decoded];
      if (m.stream) {
        // A generator: the engine pulls its items one at a time (#pull).
        this.#serving.set(id, ac);
        this.#gens.set(id, CONTEXT.run(ac, m.fn, ...list) as AsyncIterator<unknown>);
        return;
      }
      const r = CONTEXT.run(ac, m.fn, ...list);
      if (r instanceof Promise) {
        // Only a handler that waits can be cancelled while it runs: only those are looked up.
        this.#serving.set(id, ac);
        r.then(
          (v) => this.#answer(id, v),
          (e) => this.#fail(id, e),
        );
      } else {
        this.#answer(id, r);
      }
    } catch (e) {
      this.#fail(id, e);
    }
  }

  #answer(id: number, v: unknown): void {
    this.#serving.delete(id);
    try {
      answer(id, v);
    } catch (e) {
      this.#fail(id, errorFor('E001', `the handler's result cannot be sent: ${(e as Error).message}`));
    }
  }

  #fail(id: number, e: unknown): void {
    this.#serving.delete(id);
    const w = wireError(e);
    native.rpcAnswer(id, w.code, w.message, w.data === undefined ? null : encode(w.data));
  }

  #pull(id: number): void {
    const g = this.#gens.get(id);
    if (!g) return void native.rpcStreamAnswer(id, true, null, null, null);
    const fail = (e: unknown) => {
      this.#gens.delete(id);
      this.#serving.delete(id);
      const w = wireError(e);
      native.rpcStreamAnswer(id, true, w.code, w.message, w.data === undefined ? null : encode(w.data));
    };
    const step = (r: IteratorResult<unknown>) => {
      if (r.done) {
        this.#gens.delete(id);
        this.#serving.delete(id);
        return void native.rpcStreamAnswer(id, true, null, null, null);
      }
      let b: Uint8Array;
      try {
        b = encode(r.value);
      } catch (e) {
        return fail(e);
      }
      native.rpcStreamAnswer(id, false, null, null, b);
    };
    try {
      // Each step runs in the call's context (and its trace): a generator's body runs where
      // `next()` is called, not where it was made.
      const ac = this.#serving.get(id);
      const next = () => g.next();
      const r = ac === undefined ? next() : CONTEXT.run(ac, () => (ac.trace !== undefined && noteCallTrace() ? enterCallTrace(ac.trace, next) : next()));
      if (r instanceof Promise) r.then(step, fail);
      else step(r as IteratorResult<unknown>);
    } catch (e) {
      fail(e);
    }
  }

  /** Takes everything the engine queued for JavaScript and hands each item on. */
  #drain(): void {
    this.#batch.readAt(
      (buf) => this.#native.drain(buf),
      (kind, id, aux, start, len, s0, s1) => {
        switch (kind) {
          case 0:
            return this.#done(id, null, null, start, len);
          case 1:
            return this.#done(id, s0, s1, start, len);
          case 2:
            return this.#dispatch(id, aux, start, len, s0, s1);
          case 3:
            return this.#event(id, s0 ?? '', start, len, s1);
        }
      },
    );
    if (!endQueued) {
      endQueued = true;
      queueMicrotask(endTurnAfterReactions);
    }
  }

  /** Call `id` finished: its value (or the error's data) is `len` bytes from `start` of the batch. */
  #done(id: number, code: string | null, message: string | null, start: number, len: number): void {
    const p = this.#pending.take(id);
    if (!p) return;
    this.#hold();
    if (code === '$end') {
      p.resolve(END);
    } else if (code === null) {
      try {
        p.resolve(len > 0 ? decodeAt(this.#batch.buffer, start, len) : undefined);
      } catch (e) {
        p.reject(e);
      }
    } else {
      const err = fromInfo({ code, message: message ?? '' }) as OmnitronError & { data?: unknown };
      if (len > 0) {
        try {
          err.data = decodeAt(this.#batch.buffer, start, len);
        } catch {
          /* data that does not decode is dropped */
        }
      }
      p.reject(err);
    }
  }

  #event(sub: number, topic: string, start: number, len: number, traceparent: string | null): void {
    const h = this.#subs.get(sub);
    if (!h) return;
    let v: unknown;
    try {
      v = decodeAt(this.#batch.buffer, start, len);
    } catch {
      return;
    }
    try {
      // The handler runs in the publisher's trace, when it had one.
      const r = traceparent !== null ? runInTrace({ traceparent }, () => h(v, topic)) : h(v, topic);
      if (r instanceof Promise) r.catch(() => {});
    } catch {
      /* a throwing subscriber does not stop delivery to the others */
    }
  }

  /** Keeps the process alive while it listens or calls are in flight. */
  #hold(): void {
    if (this.#closed) return this.#keepAlive.close();
    this.#keepAlive.set(this.#listening || this.#pending.size > 0);
  }

  /** Calls `method` of `target` (`payment`, `payment@1.0.0`, `payment@^1`). */
  call<R = unknown>(target: string, method: string, args: unknown[] = [], opts: CallOptions = NO_OPTIONS): Promise<R> {
    if (typeof target !== 'string') return Promise.reject(invalidArgument(`call() needs a target string, got ${describe(target)}`));
    if (typeof method !== 'string') return Promise.reject(invalidArgument(`call() needs a method name, got ${describe(method)}`));
    if (!Array.isArray(args)) return Promise.reject(invalidArgument(`call() takes its arguments as an array, got ${describe(args)}`));
    if (opts !== NO_OPTIONS) {
      if (opts === null || typeof opts !== 'object') return Promise.reject(invalidArgument(`call() takes an options object, got ${describe(opts)}`));
      const bad = badCallOptions(opts, 'peer.call()');
      if (bad) return Promise.reject(bad);
    }
    if (this.#closed) return Promise.reject(errorFor('RPC009', 'this peer was closed'));
    const deadline = opts.deadline ?? undefined;
    if (deadline !== undefined && typeof deadline !== 'number') {
      return Promise.reject(invalidArgument(`the deadline is a number of milliseconds, got ${describe(deadline)}`));
    }
    // A call inside a trace carries it, and goes by name (batched calls carry none).
    const trace = currentTrace();
    const route = trace === undefined ? this.#route(target, method) : -1;
    // Taken before encoding: the arguments' getters may make calls of their own.
    const id = this.#nextCall++;
    if (this.#nextCall > 0xfffffff0) this.#nextCall = 1;
    let buf: Uint8Array | undefined;
    try {
      // A call made while the batch is encoding another (from a getter of its arguments) goes alone.
      if (route >= 0 && !this.#calls.busy) this.#calls.add(id, route, args, deadline);
      // Valid until the next encode: the engine copies it below, before anything else encodes.
      else buf = encodeTransient(args);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<R>((resolve, reject) => {
      this.#pending.set({ id, resolve: resolve as (v: unknown) => void, reject });
      this.#hold();
      if (!turnOpen) {
        // Ended by this thread's setImmediate whatever beginTurn says (a turn left open is closed).
        turnOpen = true;
        native.beginTurn();
        setImmediate(endTurn);
      }
      if (buf === undefined) this.#calls.sliceFull();
      else {
        this.#sendCalls();
        this.#native.call(id, target, method, buf, deadline, trace?.traceparent, trace?.tracestate);
      }
    });
  }

  /**
   * Hands the calls batched so far to the engine: before anything else this peer sends, so that
   * what it sends keeps the order it was made in.
   */
  #sendCalls(): void {
    if (!this.#calls.busy) this.#calls.flush();
  }

  /** The engine's number for a `target` and `method` pair, or -1 to call by name (too many). */
  #route(target: string, method: string): number {
    let byMethod = this.#routes.get(target);
    if (byMethod === undefined) {
      if (this.#routes.size >= 1024) return -1;
      byMethod = new Map();
      this.#routes.set(target, byMethod);
    }
    let r = byMethod.get(method);
    if (r === undefined) {
      if (byMethod.size >= 256) return -1;
      r = this.#native.route(target, method) ?? -1;
      byMethod.set(method, r);
    }
    return r;
  }

  #await<R>(start: (id: number) => void): Promise<R> {
    const id = this.#nextCall++;
    if (this.#nextCall > 0xfffffff0) this.#nextCall = 1;
    return new Promise<R>((resolve, reject) => {
      this.#pending.set({ id, resolve: resolve as (v: unknown) => void, reject });
      this.#hold();
      start(id);
    });
  }

  /**
   * Calls a streaming method: an async iterable of its items, pulled as you consume them (the callee
   * waits meanwhile). Leaving the loop early stops the callee.
   */
  stream<T = unknown>(target: string, method: string, args: unknown[] = [], opts: CallOptions = NO_OPTIONS): AsyncIterableIterator<T> {
    let id: number | undefined;
    let finished = false;
    const self = this;
    const start = async (): Promise<number> => {
      if (id !== undefined) return id;
      if (typeof target !== 'string') throw invalidArgument(`stream() needs a target string, got ${describe(target)}`);
      if (typeof method !== 'string') throw invalidArgument(`stream() needs a method name, got ${describe(method)}`);
      if (!Array.isArray(args)) throw invalidArgument(`stream() takes its arguments as an array, got ${describe(args)}`);
      if (opts === null || typeof opts !== 'object') throw invalidArgument(`stream() takes an options object, got ${describe(opts)}`);
      const bad = badCallOptions(opts, 'peer.stream()');
      if (bad) throw bad;
      const deadline = opts.deadline ?? undefined;
      if (deadline !== undefined && typeof deadline !== 'number') {
        throw invalidArgument(`the deadline is a number of milliseconds, got ${describe(deadline)}`);
      }
      const buf = encode(args);
      const trace = currentTrace();
      let started = 0;
      await this.#await<void>((callId) => {
        started = callId;
        this.#sendCalls();
        this.#native.streamStart(callId, target, method, buf, deadline, trace?.traceparent, trace?.tracestate);
      });
      id = started;
      return id;
    };
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next(): Promise<IteratorResult<T>> {
        if (finished) return { done: true, value: undefined };
        try {
          const sid = await start();
          const v = await self.#awaitOn<unknown>(sid, () => self.#native.streamNext(sid));
          if (v === END) {
            finished = true;
            return { done: true, value: undefined };
          }
          return { done: false, value: v as T };
        } catch (e) {
          finished = true;
          throw e;
        }
      },
      async return(): Promise<IteratorResult<T>> {
        finished = true;
        if (id !== undefined) self.#native.streamClose(id);
        return { done: true, value: undefined };
      },
    };
  }

  /** Waits for the next report about call `id` (streams reuse their id for every item). */
  #awaitOn<R>(id: number, start: () => void): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.set({ id, resolve: resolve as (v: unknown) => void, reject });
      this.#hold();
      start();
    });
  }

  /**
   * A typed proxy of `target`: every property is a method that calls `target` (nothing is checked
   * up front). Except `then`, so that a proxy can be awaited or returned from an async function
   * without being taken for a promise: call a remote method named `then` with `peer.call()`.
   */
  proxy<T>(target: string, opts: CallOptions = NO_OPTIONS): ServiceProxy<T> {
    if (opts !== NO_OPTIONS) opts = callOptions(opts, 'peer.proxy()');
    return new Proxy(
      {},
      {
        get: (_t, key) => {
          if (typeof key !== 'string' || key === 'then') return undefined;
          return (...args: unknown[]) => this.call(target, key, args, opts);
        },
      },
    ) as ServiceProxy<T>;
  }

  /**
   * The service `target` resolves to, checked, as a typed proxy whose methods return Promises
   * (streaming methods: async iterables). Every remote method is there by its name, `then` aside
   * (see `proxy`); `proxyInfo(proxy)` and `proxy.$info` tell which service it is (no method can be
   * called `$info`: names starting with `$` are the protocol's).
   */
  async queryInterface<T>(target: string, opts: CallOptions = NO_OPTIONS): Promise<ServiceProxy<T> & { readonly $info: ServiceInfo }> {
    if (opts !== NO_OPTIONS) opts = callOptions(opts, 'peer.queryInterface()');
    const info = await this.call<ServiceInfo>('$registry', 'describe', [target], opts);
    const id = `${info.name}@${info.version}`;
    return new Proxy(
      {},
      {
        get: (_t, key) => {
          if (key === INFO) return info;
          if (typeof key !== 'string' || key === 'then') return undefined;
          if (key === '$info') return info;
          if (!info.methods.includes(key)) {
            const listed = info.methods.length ? `methods: ${info.methods.join(', ')}` : 'it has none';
            return () => Promise.reject(errorFor('RPC002', `service '${id}' has no public method '${key}' (${listed})`));
          }
          if (info.streams?.includes(key)) return (...args: unknown[]) => this.stream(id, key, args, opts);
          return (...args: unknown[]) => this.call(id, key, args, opts);
        },
      },
    ) as ServiceProxy<T> & { readonly $info: ServiceInfo };
  }

  /** Publishes an event to every matching subscriber in every connected process. */
  publish(topic: string, payload?: unknown): void {
    if (typeof topic !== 'string') throw invalidArgument(`publish() needs a topic such as 'order.created', got ${describe(topic)}`);
    const bytes = encode(payload ?? null);
    this.#sendCalls();
    const trace = currentTrace();
    nativeCall(() => this.#native.publish(topic, bytes, trace?.traceparent ?? null, trace?.tracestate ?? null));
  }

  /**
   * Calls `handler(payload, topic)` for every event matching `pattern` (`order.*`, `order.#`), from
   * any connected process. Resolves to the subscription's id once it is active: an event published
   * anywhere after that reaches `handler` (a listening peer's is active at once; a connected
   * peer's once its server has it, one round trip). While the peer is reconnecting it waits for the
   * connection up to the default deadline (5 s), then rejects (RPC009) and subscribes nothing.
   */
  subscribe(pattern: string, handler: (payload: any, topic: string) => unknown): Promise<number> {
    if (typeof pattern !== 'string') return Promise.reject(invalidArgument(`subscribe() needs a pattern such as 'order.*', got ${describe(pattern)}`));
    if (typeof handler !== 'function') return Promise.reject(invalidArgument(`an event handler must be a function, got ${describe(handler)}`));
    if (this.#closed) return Promise.reject(errorFor('RPC009', 'this peer was closed'));
    const done = this.#nextCall++;
    if (this.#nextCall > 0xfffffff0) this.#nextCall = 1;
    let id: number;
    try {
      this.#sendCalls();
      id = nativeCall(() => this.#native.subscribe(pattern, done));
    } catch (e) {
      return Promise.reject(e);
    }
    this.#subs.set(id, handler);
    // Settled by a later drain (`done` reports the subscription active, or withdrawn).
    return new Promise<number>((resolve, reject) => {
      this.#pending.set({
        id: done,
        resolve: () => resolve(id),
        reject: (e: unknown) => {
          this.#subs.delete(id);
          reject(e);
        },
      });
      this.#hold();
    });
  }

  /** Removes a subscription. */
  unsubscribe(id: number): boolean {
    this.#subs.delete(id);
    return this.#native.unsubscribe(id);
  }

  /** The services this peer routes to (hosted here or by connected peers). */
  services(): ServiceInfo[] {
    return JSON.parse(this.#native.servicesJson()) as ServiceInfo[];
  }

  /** Closes every connection; calls in flight fail with PeerDisconnectedError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#calls.discard();
    this.#native.shutdown();
    for (const p of this.#pending.drain()) p.reject(errorFor('RPC004', 'the peer was closed with the call in flight'));
    this.#hold();
    if (Peer.default === this) Peer.default = undefined;
    // The spans of its last calls reach the collector before the process goes.
    await flushTraces();
  }
}

/**
 * `@InjectProcess(PaymentService)` (or `@InjectProcess('payment@^1')`): a property that is a
 * `ServiceProxy` of that service, through `Peer.default` (or the peer given).
 */
export function InjectProcess(service: Ctor | string, peer?: () => Peer | undefined): PropertyDecorator {
  let target: string;
  if (typeof service === 'string') target = service;
  else if (typeof service !== 'function') {
    throw invalidArgument(
      `@InjectProcess() was given ${describe(service)}: give a @Service class or 'name@range' (a class that is undefined here usually means two files import each other)`,
    );
  } else {
    const meta = (service as unknown as Record<symbol, ServiceMeta | undefined>)[SERVICE];
    if (!meta) throw invalidArgument(`@InjectProcess(${describe(service)}): not a @Service class`);
    target = `${meta.name}@${meta.version}`;
  }
  return (proto, key) => {
    Object.defineProperty(proto, key, {
      configurable: true,
      get(this: object) {
        const p = peer?.() ?? Peer.default;
        if (!p) throw errorFor('RPC009', `@InjectProcess('${target}'): no peer: create one with Peer.listen() or Peer.connect() first`);
        const proxy = p.proxy(target);
        Object.defineProperty(this, key, { value: proxy, configurable: true });
        return proxy;
      },
    });
  };
}
