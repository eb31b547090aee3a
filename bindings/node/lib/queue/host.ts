// The engine's queues and workers, driven from this thread: jobs to run, events and finished
// operations reach JavaScript in batches (one wake-up, one drain into a buffer this side owns),
// as HTTP requests do. Payloads are MessagePack (rpc/codec.ts). While a worker runs, or an
// operation is in flight, the process stays alive.

import type { NativeQueueHost } from '../../native.js';
import { native } from '../native.js';
import { BatchReader } from '../batch.js';
import { call, errorFor, OmnitronError } from '../errors.js';
import { KeepAlive } from '../keepalive.js';
import { decodeAt, encode } from '../rpc/codec.js';
import { isThenable } from '../util.js';

/** What a worker's handler gets, before `Job` wraps it. */
export interface JobEnvelope {
  id: string;
  name: string;
  attempt: number;
  token: number;
  data: unknown;
  /** The attempt's trace (its span), when the job was added in one. */
  traceparent: string | undefined;
}

/**
 * An item of kind 0: attempt (u32), token (u64), the trace's length (u8) and its traceparent,
 * then the data; id and name as strings.
 */
function jobAt(b: Buffer, v: DataView, start: number, len: number, id: string | null, name: string | null): JobEnvelope {
  const tl = v.getUint8(start + 12);
  const at = start + 13 + tl;
  return {
    id: id ?? '',
    name: name ?? '',
    attempt: v.getUint32(start, true),
    token: v.getUint32(start + 4, true) + v.getUint32(start + 8, true) * 0x1_0000_0000,
    traceparent: tl > 0 ? b.toString('latin1', start + 13, at) : undefined,
    data: len > 13 + tl ? decodeAt(b, at, len - 13 - tl) : null,
  };
}

/** A worker's side in JavaScript: runs one job; `abandon` stops one (timeout, lease lost). */
export interface WorkerSink {
  run(call: number, job: JobEnvelope): void;
  abandon(call: number): void;
}

interface Op {
  resolve: (v: { aux: number; value: unknown }) => void;
  reject: (e: unknown) => void;
}

export class QueueHost {
  readonly native: NativeQueueHost;
  readonly #reader = new BatchReader();
  readonly #ops = new Map<number, Op>();
  #nextOp = 1;
  readonly #keepAlive = new KeepAlive();
  readonly #workers: (WorkerSink | undefined)[] = [];
  readonly #listeners = new Map<number, ((event: Record<string, unknown>) => void)[]>();
  /** Jobs running, by call: which worker runs each. */
  readonly #running = new Map<number, number>();
  #liveWorkers = 0;

  constructor() {
    this.native = call(() => new native.NativeQueueHost(() => this.#drain()));
  }

  /** Runs an operation; resolves with its number and MessagePack value. */
  op(start: (id: number) => void): Promise<{ aux: number; value: unknown }> {
    const id = this.#nextOp;
    this.#nextOp = this.#nextOp >= 0xffff_fffe ? 1 : this.#nextOp + 1;
    const p = new Promise<{ aux: number; value: unknown }>((resolve, reject) => this.#ops.set(id, { resolve, reject }));
    this.#hold();
    try {
      start(id);
    } catch (e) {
      this.#ops.delete(id);
      this.#hold();
      throw e;
    }
    return p;
  }

  /** Registers a worker's sink under the engine's worker number. */
  addWorker(index: number, sink: WorkerSink): void {
    this.#workers[index] = sink;
    this.#liveWorkers++;
    this.#hold();
  }

  removeWorker(index: number): void {
    if (this.#workers[index] === undefined) return;
    this.#workers[index] = undefined;
    this.#liveWorkers--;
    this.#hold();
  }

  /** Listens to a queue's events (the engine forwards them once asked). */
  listen(queue: number, f: (event: Record<string, unknown>) => void): void {
    call(() => this.native.watch(queue));
    const list = this.#listeners.get(queue) ?? [];
    list.push(f);
    this.#listeners.set(queue, list);
  }

  /** Answers a job's call: its result, or its failure. */
  answer(callId: number, result: unknown, error?: unknown): void {
    this.#running.delete(callId);
    if (error === undefined) {
      // No result is nil, which the engine writes itself.
      if (result === undefined || result === null) return void this.native.answer(callId, null, null, null);
      let bytes: Uint8Array;
      try {
        bytes = encode(result === undefined ? null : result);
      } catch (e) {
        return void this.native.answer(callId, 'Q008', `the job's result cannot be serialized: ${e instanceof Error ? e.message : String(e)}`, null);
      }
      this.native.answer(callId, null, null, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return;
    }
    const code = error instanceof OmnitronError ? error.code : 'Q005';
    const message = error instanceof Error ? error.message : String(error);
    this.native.answer(callId, code, message, null);
  }

  #hold(): void {
    this.#keepAlive.set(this.#liveWorkers > 0 || this.#ops.size > 0);
  }

  #drain(): void {
    this.#reader.readAt(
      (b) => this.native.drain(b),
      (kind, id, aux, start, len, s0, s1) => {
        switch (kind) {
          case 0:
            return this.#job(id, aux, jobAt(this.#reader.buffer, this.#reader.view, start, len, s0, s1));
          case 1: {
            const event = decodeAt(this.#reader.buffer, start, len) as Record<string, unknown>;
            for (const f of this.#listeners.get(aux) ?? []) f(event);
            return;
          }
          case 2: {
            const w = this.#running.get(id);
            this.#running.delete(id);
            if (w !== undefined) this.#workers[w]?.abandon(id);
            return;
          }
          case 3:
            return this.#settle(id, (op) => op.resolve({ aux, value: len > 0 ? decodeAt(this.#reader.buffer, start, len) : undefined }));
          case 4:
            return this.#settle(id, (op) => op.reject(errorFor(s0 ?? 'E001', s1 ?? '')));
        }
      },
    );
  }

  #job(callId: number, worker: number, job: JobEnvelope): void {
    const sink = this.#workers[worker];
    if (!sink) return void this.native.answer(callId, 'Q009', 'the worker is closed', null);
    this.#running.set(callId, worker);
    sink.run(callId, job);
  }

  #settle(id: number, f: (op: Op) => void): void {
    const op = this.#ops.get(id);
    if (!op) return;
    this.#ops.delete(id);
    this.#hold();
    f(op);
  }
}

let host: QueueHost | undefined;

/** This thread's queue host, made on first use. */
export function queueHost(): QueueHost {
  host ??= new QueueHost();
  return host;
}

/** `f`'s outcome, sync or async, as one callback. */
export function settle(f: () => unknown, done: (value: unknown, error?: unknown) => void): void {
  let r: unknown;
  try {
    r = f();
  } catch (e) {
    return done(undefined, e ?? new Error('a job handler threw nothing'));
  }
  if (isThenable(r)) r.then((v) => done(v), (e) => done(undefined, e ?? new Error('a job handler rejected with nothing')));
  else done(r);
}
