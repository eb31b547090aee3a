// The engine's HTTP app, driven from this thread: routes declared once, then every request
// reaches JavaScript in batches (one wake-up, one drain into a buffer this side owns, one
// JSON.parse per request) and the answers go back together (answers.ts). Listening, closing and
// in-process requests are operations whose outcome comes through the same drain. While the app
// listens, or an operation is in flight, the process stays alive (as with a net.Server).

import { runInTrace, type TraceHeaders } from '../telemetry.js';
import type { NativeHttpApp } from '../../native.js';
import { native } from '../native.js';
import { BatchReader } from '../batch.js';
import { call, errorFor, OmnitronError } from '../errors.js';
import { KeepAlive } from '../keepalive.js';
import { isThenable, rawTree } from '../util.js';
import { AnswerWriter } from './answers.js';
import { HttpException, statusOf } from './exceptions.js';
import { reportOf } from './health.js';
import type { CompiledRoute, HttpRequest } from './routes.js';

/** An audit record (`@AuditLog({ action })`): who did what, when, and how it ended. */
export interface AuditRecord {
  action: string;
  /** The token's subject, when authenticated. */
  actor: string | null;
  method: string;
  path: string;
  /** The route's pattern. */
  route: string;
  params: Record<string, unknown>;
  status: number;
  outcome: 'success' | 'failure';
  /** When the request arrived, ms since the epoch. */
  time: number;
  requestId: string;
  remote: string | null;
}

/** Where an application's HTTP events go. */
export interface HttpHooks {
  /** Audit records (default: the engine's log). */
  onAudit?: (record: AuditRecord) => void;
  /** A handler threw something that is not an HttpException (default: console.error). */
  onError?: (error: unknown, route: string) => void;
}

/** An answer to an in-process request. */
export interface InjectedResponse {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

interface Op {
  resolve: (v: { aux: number; body: Buffer; text: string | null }) => void;
  reject: (e: unknown) => void;
}

const defaultOnError = (e: unknown, route: string): void => {
  console.error(`[omnitron] ${route} failed:`, e);
};

/** The problem document's parts for an error that carries a status. */
function problemOf(e: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { detail: e instanceof Error ? e.message : String(e) };
  if (e instanceof HttpException) {
    if (e.description !== undefined) out.title = e.description;
    if (typeof e.response === 'object') {
      const { message: _m, statusCode: _s, error: _e, ...rest } = e.response;
      if (Object.keys(rest).length > 0) out.extensions = rest;
    }
  }
  return out;
}

export class HttpHost {
  readonly #native: NativeHttpApp;
  readonly #reader = new BatchReader();
  readonly #routes: CompiledRoute[] = [];
  readonly #checks: (() => unknown)[] = [];
  readonly #ops = new Map<number, Op>();
  #nextOp = 1;
  readonly #keepAlive = new KeepAlive();
  #listening = false;
  #closing: Promise<void> | null = null;
  readonly #answers: AnswerWriter;
  readonly #onAudit?: (record: AuditRecord) => void;
  readonly #onError: (error: unknown, route: string) => void;

  /** Checks `options` (the engine's `AppOptions`, E001 for a wrong or unknown one). */
  constructor(options: Record<string, unknown>, hooks: HttpHooks = {}) {
    this.#onAudit = hooks.onAudit;
    this.#onError = hooks.onError ?? defaultOnError;
    this.#native = call(() => new native.NativeHttpApp(rawTree(options), () => this.#drain(), hooks.onAudit !== undefined));
    const n = this.#native;
    this.#answers = new AnswerWriter((buf, len) => n.respond(buf, len));
  }

  /** Declares a route (core checks its declaration: H006 when wrong). */
  addRoute(route: CompiledRoute): void {
    call(() => this.#native.route(route.name, rawTree(route.spec), this.#routes.length));
    this.#routes.push(route);
  }

  /** Adds a health check (`timeout` in ms; none: the app's). */
  addHealthCheck(name: string, check: () => unknown, timeout?: number): void {
    call(() => this.#native.healthCheck(name, this.#checks.length, timeout));
    this.#checks.push(check);
  }

  /** Checks every route together (clashes: H006) and makes the service. */
  build(): void {
    call(() => this.#native.build());
  }

  /** Serves on `host:port` (0 picks a port); resolves with the port. */
  async listen(port: number, host: string): Promise<number> {
    if (this.#closing) throw errorFor('E001', 'the application is closed');
    const { aux } = await this.#op((id) => this.#native.listen(id, host, port));
    this.#listening = true;
    this.#hold();
    return aux;
  }

  /** Answers a request in-process, through the same pipeline as a socket's. */
  async inject(method: string, uri: string, headers: [string, string][], body: Uint8Array | undefined): Promise<InjectedResponse> {
    const flat = headers.flat();
    const r = await this.#op((id) => this.#native.inject(id, method, uri, flat, body));
    return { status: r.aux, headers: r.text ? (JSON.parse(r.text) as [string, string][]) : [], body: r.body };
  }

  /**
   * Stops accepting, lets requests in flight finish (up to the app's `shutdownTimeout`), then
   * answers 503 to those still waiting for a handler. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#op((id) => this.#native.close(id)).then(() => {
      this.#listening = false;
      this.#hold();
    });
    return this.#closing;
  }

  #op(start: (id: number) => void): Promise<{ aux: number; body: Buffer; text: string | null }> {
    const id = this.#nextOp;
    this.#nextOp = this.#nextOp >= 0xffff_fffe ? 1 : this.#nextOp + 1;
    const p = new Promise<{ aux: number; body: Buffer; text: string | null }>((resolve, reject) => this.#ops.set(id, { resolve, reject }));
    this.#hold();
    start(id);
    return p;
  }

  #hold(): void {
    this.#keepAlive.set(this.#listening || this.#ops.size > 0);
  }

  #drain(): void {
    this.#reader.readAt(
      (b) => this.#native.drain(b),
      (kind, id, aux, start, len, s0, s1) => {
        switch (kind) {
          case 0:
            return this.#request(id, aux, start, len);
          case 1:
            return this.#health(id, aux);
          case 2:
            return this.#onAudit?.(JSON.parse(this.#reader.buffer.toString('utf8', start, start + len)));
          case 3:
            return this.#settle(id, (op) => op.resolve({ aux, body: Buffer.from(this.#reader.buffer.subarray(start, start + len)), text: s0 }));
          case 4:
            return this.#settle(id, (op) => op.reject(errorFor(s0 ?? 'E001', s1 ?? '')));
        }
      },
    );
  }

  #settle(id: number, f: (op: Op) => void): void {
    const op = this.#ops.get(id);
    if (!op) return;
    this.#ops.delete(id);
    this.#hold();
    f(op);
  }

  #request(id: number, index: number, start: number, len: number): void {
    const route = this.#routes[index];
    let result: unknown;
    try {
      const req = JSON.parse(this.#reader.buffer.toString('utf8', start, start + len)) as HttpRequest;
      // The handler, and everything it awaits, runs in the request's trace.
      if (req.traceparent === undefined) result = route.run(req);
      else {
        const h: TraceHeaders = req.tracestate === undefined ? { traceparent: req.traceparent } : { traceparent: req.traceparent, tracestate: req.tracestate };
        result = runInTrace(h, () => route.run(req));
      }
    } catch (e) {
      return this.#fail(id, route, e);
    }
    if (isThenable(result)) {
      try {
        result.then(
          (v) => this.#answer(id, route, v),
          (e) => this.#fail(id, route, e),
        );
      } catch (e) {
        this.#fail(id, route, e);
      }
    } else {
      this.#answer(id, route, result);
    }
  }

  #answer(id: number, route: CompiledRoute, v: unknown): void {
    try {
      this.#answers.value(id, v);
    } catch (e) {
      this.#fail(id, route, e);
    }
  }

  #fail(id: number, route: CompiledRoute, e: unknown): void {
    const status = statusOf(e);
    if (status !== undefined) return this.#answers.error(id, status, problemOf(e));
    try {
      this.#onError(e, route.name);
    } catch {
      // The hook's own failure must not keep the request from its answer.
    }
    const log = e instanceof Error ? (e.stack ?? e.message) : String(e);
    if (e instanceof OmnitronError) this.#answers.error(id, 0, { detail: e.message, code: e.code, route: route.name, log });
    else this.#answers.error(id, 500, { route: route.name, log });
  }

  #health(id: number, index: number): void {
    const down = (e: unknown) => this.#native.healthAnswer(id, false, e instanceof Error ? e.message : String(e), undefined);
    const up = (v: unknown) => {
      const r = reportOf(v);
      this.#native.healthAnswer(id, r.up, r.message, r.details);
    };
    let r: unknown;
    try {
      r = this.#checks[index]();
    } catch (e) {
      return void down(e);
    }
    if (isThenable(r)) r.then(up, down);
    else up(r);
  }
}
