// Tracing for TypeScript: the trace context code runs in, `@Trace()` for spans of your own, and
// the bridge to the official OpenTelemetry API. Sampling, recording and export are the engine's
// (OTLP/HTTP, configured by the standard OTEL_* variables or omnitron.yaml's `tracing:`).
//
// The current context is, in order: the active span of `@opentelemetry/api` when that package is
// installed and a span is active (so a span you start with the official SDK is the parent of the
// engine's span for a call made inside it), else the context the engine runs this code in (a
// handler's call, a `@Trace()` method). Handlers also run with their call's context active in
// `@opentelemetry/api`, so OpenTelemetry-instrumented code inside them joins the same trace.

import { AsyncLocalStorage } from 'node:async_hooks';
import { native } from './native.js';
import { call as nativeCall, invalidArgument } from './errors.js';
import { OptionKeys, options } from './util.js';

/** A W3C trace context: the `traceparent` header and, if any, `tracestate`. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

// Made to run only once a traced call or span appears: an AsyncLocalStorage costs nothing before.
const TRACE = new AsyncLocalStorage<TraceHeaders>();

/** The part of `@opentelemetry/api` used here (any 1.x). */
interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: { serialize(): string };
}
interface OtelApi {
  context: { active(): unknown; with<A extends unknown[], F extends (...args: A) => unknown>(ctx: unknown, fn: F, thisArg?: unknown, ...args: A): ReturnType<F> };
  trace: {
    getSpanContext(ctx: unknown): OtelSpanContext | undefined;
    setSpanContext(ctx: unknown, sc: OtelSpanContext): unknown;
    isSpanContextValid(sc: OtelSpanContext): boolean;
  };
  createTraceState?(raw?: string): { serialize(): string };
}

let otelApi: OtelApi | null | undefined;

/** `@opentelemetry/api` if the application has it installed (it is optional). */
function otel(): OtelApi | null {
  if (otelApi === undefined) {
    try {
      otelApi = require('@opentelemetry/api') as OtelApi;
    } catch {
      otelApi = null;
    }
  }
  return otelApi;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

function fromOtel(sc: OtelSpanContext): TraceHeaders {
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0');
  const state = sc.traceState?.serialize();
  const h: TraceHeaders = { traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}` };
  if (state) h.tracestate = state;
  return h;
}

function toOtel(api: OtelApi, h: TraceHeaders): OtelSpanContext | undefined {
  const [, traceId, spanId, flags] = h.traceparent.split('-');
  if (!HEX32.test(traceId ?? '') || !HEX16.test(spanId ?? '')) return undefined;
  const sc: OtelSpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags ?? '0', 16) & 0xff, isRemote: true };
  if (h.tracestate && api.createTraceState) sc.traceState = api.createTraceState(h.tracestate);
  return sc;
}

// Where `@opentelemetry/api` keeps what an SDK registered (its context manager among it): absent,
// no span can be active, and a call does not ask.
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');
// Set once this process runs anything in a trace context: until then a call does not look.
let traceSeen = false;

// The trace of the call being served, as the RPC layer keeps it in its own call context (no
// second AsyncLocalStorage per call): registered by `rpc/peer.ts`.
let callTrace: () => TraceHeaders | undefined = () => undefined;

/** @internal How the RPC layer says where a handler's call context keeps its trace. */
export function readCallTraceWith(f: () => TraceHeaders | undefined): void {
  callTrace = f;
}

/**
 * @internal A handler is about to run in a trace: calls made from now on look for a context.
 * True when an OpenTelemetry SDK is registered: then run it through `enterCallTrace`.
 */
export function noteCallTrace(): boolean {
  traceSeen = true;
  return (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] !== undefined;
}

/** @internal Runs `fn` with `h` active in OpenTelemetry (an SDK is registered). */
export function enterCallTrace<R>(h: TraceHeaders, fn: () => R): R {
  const api = otel();
  const sc = api && toOtel(api, h);
  return api && sc ? api.context.with(api.trace.setSpanContext(api.context.active(), sc), fn) : fn();
}

/** The trace context a call made now carries, or undefined outside any trace. */
export function currentTrace(): TraceHeaders | undefined {
  if ((globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] !== undefined) {
    const api = otel();
    if (api) {
      const sc = api.trace.getSpanContext(api.context.active());
      if (sc && api.trace.isSpanContextValid(sc)) return fromOtel(sc);
    }
  }
  return traceSeen ? (TRACE.getStore() ?? callTrace()) : undefined;
}

/** Runs `fn` with `h` as the current trace context (and OpenTelemetry's active span context). */
export function runInTrace<R>(h: TraceHeaders, fn: () => R): R {
  traceSeen = true;
  const api = (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] !== undefined ? otel() : null;
  if (api) {
    const sc = toOtel(api, h);
    if (sc) return api.context.with(api.trace.setSpanContext(api.context.active(), sc), () => TRACE.run(h, fn));
  }
  return TRACE.run(h, fn);
}

/** What `@Trace()` takes. */
export interface TraceOptions {
  /** The span's name (default `Class.method`). */
  operation?: string;
  /** `internal` (default), `server`, `client`, `producer` or `consumer`. */
  kind?: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** Attributes set on every span of this method. */
  attributes?: Record<string, string | number | boolean>;
}
const TRACE_KEYS = new OptionKeys(['operation', 'kind', 'attributes']);
const SPAN_KEYS = new OptionKeys(['kind', 'attributes']);

type AnyFn = (...args: any[]) => any;

/** Attributes are refused before a span starts: a bad one found later would leave it open. */
function checkAttributes(attributes: unknown, what: string): void {
  if (attributes === undefined) return;
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) {
    throw invalidArgument(`${what} takes attributes as an object, got ${String(attributes)}`);
  }
  for (const [k, v] of Object.entries(attributes)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw invalidArgument(`${what}: the attribute '${k}' is a string, a number or a boolean, got ${v === null ? 'null' : typeof v}`);
    }
  }
}

/**
 * Runs `fn` in a span of its own named `name`, a child of the current context; calls made inside
 * carry it. A thrown error or a rejected promise marks the span failed (with the error's `code`).
 */
export function withSpan<R>(name: string, fn: () => R, opts: Omit<TraceOptions, 'operation'> = {}): R {
  if (typeof name !== 'string' || name === '') throw invalidArgument(`a span needs a name, got ${String(name)}`);
  if (typeof fn !== 'function') throw invalidArgument(`withSpan() runs a function, got ${typeof fn}`);
  options<Omit<TraceOptions, 'operation'>>(opts, 'withSpan()', SPAN_KEYS);
  checkAttributes(opts.attributes, 'withSpan()');
  const parent = currentTrace();
  const s = nativeCall(() => native.traceSpanStart(name, opts.kind ?? null, parent?.traceparent ?? null, parent?.tracestate ?? null));
  if (s.id !== 0 && opts.attributes) {
    for (const [k, v] of Object.entries(opts.attributes)) native.traceSpanAttribute(s.id, k, v);
  }
  const h: TraceHeaders = { traceparent: s.traceparent };
  if (s.tracestate) h.tracestate = s.tracestate;
  const fail = (e: unknown): void => {
    if (s.id === 0) return;
    const code = (e as { code?: unknown } | null)?.code;
    native.traceSpanEnd(s.id, typeof code === 'string' ? code : null, e instanceof Error ? e.message : String(e));
  };
  let r: R;
  try {
    r = runInTrace(h, fn);
  } catch (e) {
    fail(e);
    throw e;
  }
  if (r instanceof Promise) {
    return r.then(
      (v) => {
        if (s.id !== 0) native.traceSpanEnd(s.id, null, null);
        return v;
      },
      (e) => {
        fail(e);
        throw e;
      },
    ) as R;
  }
  if (s.id !== 0) native.traceSpanEnd(s.id, null, null);
  return r;
}

/**
 * `@Trace({ operation: 'create-order' })`: every call of the method is a span (named after the
 * operation, or `Class.method`), a child of the current context, and the calls it makes are its
 * children, in any process and language.
 */
export function Trace(opts: TraceOptions = {}): (target: object, key: string | symbol, descriptor: PropertyDescriptor) => void {
  const o = options<TraceOptions>(opts, '@Trace()', TRACE_KEYS);
  if (o.operation !== undefined && (typeof o.operation !== 'string' || o.operation === '')) {
    throw invalidArgument(`@Trace({ operation }) takes a non-empty string, got ${String(o.operation)}`);
  }
  if (o.kind !== undefined && !['internal', 'server', 'client', 'producer', 'consumer'].includes(o.kind)) {
    throw invalidArgument(`@Trace({ kind }) is 'internal', 'server', 'client', 'producer' or 'consumer', got ${String(o.kind)}`);
  }
  checkAttributes(o.attributes, '@Trace()');
  return (target, key, d) => {
    const fn = d.value as AnyFn | undefined;
    if (typeof fn !== 'function') throw invalidArgument(`@Trace() goes on a method, not on ${String(key)}`);
    const cls = (typeof target === 'function' ? target.name : target.constructor?.name) ?? 'anonymous';
    const name = o.operation ?? `${cls}.${String(key)}`;
    const spanOpts: Omit<TraceOptions, 'operation'> = {};
    if (o.kind) spanOpts.kind = o.kind;
    if (o.attributes) spanOpts.attributes = o.attributes;
    d.value = function (this: unknown, ...args: unknown[]) {
      return withSpan(name, () => fn.apply(this, args), spanOpts);
    };
    Object.defineProperty(d.value, 'name', { value: fn.name });
  };
}

/**
 * Turns tracing on from the standard `OTEL_*` variables (what every peer and `Omnitron.create`
 * already do): true if tracing is on. A bad value throws with the variable named (P007).
 */
export function tracingFromEnv(serviceName: string): boolean {
  return nativeCall(() => native.tracingInstallFromEnv(serviceName));
}

/** Whether this process records and exports spans. */
export function tracingEnabled(): boolean {
  return native.tracingEnabled();
}

/** Sends every span ended so far to the collector, waiting at most `timeoutMs` (default 2000). */
export function flushTraces(timeoutMs = 2000): Promise<boolean> {
  if (typeof timeoutMs !== 'number') return Promise.reject(invalidArgument(`flushTraces() takes milliseconds, got ${String(timeoutMs)}`));
  if (!native.tracingEnabled()) return Promise.resolve(true);
  return native.tracingFlush(timeoutMs) as Promise<boolean>;
}
