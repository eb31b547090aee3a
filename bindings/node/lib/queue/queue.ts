// `Queue<T>` (add jobs, read the queue) and `Worker<T>` (run its jobs): the engine's queue
// (docs/QUEUES.md) with handlers in JavaScript. Options are checked by core, in this door's
// spelling (`rateLimit: '100/minute'`, durations in milliseconds).

import { call, errorFor, invalidArgument } from '../errors.js';
import { Writer, appendRecord, encode } from '../rpc/codec.js';
import { OptionKeys, options as checkedOptions, rawTree } from '../util.js';
import { queueHost, settle, type JobEnvelope } from './host.js';
import { currentTrace, runInTrace } from '../telemetry.js';

/**
 * Where queues live when none is named: `OMNITRON_QUEUE_STORE` (which `omnitron start` sets from
 * `queueStore:`), else the embedded store `sqlite:.omnitron/queues.db`.
 */
export const DEFAULT_STORE = 'sqlite:.omnitron/queues.db';

/** The store of a queue that names none. */
export function defaultStore(): string {
  return process.env.OMNITRON_QUEUE_STORE || DEFAULT_STORE;
}

/** A queue's options (spec 3.1's `queues:` entries). */
export interface QueueOptions {
  /** The store (default `sqlite:.omnitron/queues.db`). */
  store?: string;
  /** At most this many of the queue's jobs active at once, across every worker. */
  concurrency?: number;
  /** At most this many jobs started per window, across every worker: `'100/minute'`. */
  rateLimit?: string;
  /** Retries after the first attempt (default 2: three attempts). */
  retries?: number;
  /** Attempts in all (instead of `retries`). */
  attempts?: number;
  /** `'exponential'` (default, from 1 s, doubling) or `'fixed'`, or `{ type, delay }`. */
  backoff?: 'fixed' | 'exponential' | { type?: 'fixed' | 'exponential'; delay?: number };
  /** The first backoff delay, ms (default 1000). */
  backoffDelay?: number;
  /** The longest exponential backoff, ms (default one hour). */
  maxDelay?: number;
  /** The longest one attempt may run, ms (default none). */
  timeout?: number;
  /** How long a completed job and its result are kept, ms (default one hour; 0: removed at once). */
  keepCompleted?: number;
}

/** One job's options. */
export interface JobOptions {
  /** The job's id: adding an id the queue holds adds nothing (BullMQ's `jobId` works too). */
  id?: string;
  jobId?: string;
  /** Not before this many ms from now. */
  delay?: number;
  /** Lower runs first; 0, the default, is the highest. */
  priority?: number;
  retries?: number;
  attempts?: number;
  backoff?: QueueOptions['backoff'];
  backoffDelay?: number;
  maxDelay?: number;
  timeout?: number;
  keepCompleted?: number;
}

/** A worker's options. */
export interface WorkerOptions {
  /** Jobs this worker runs at once (default 1). */
  concurrency?: number;
  /** How long the worker holds a job before renewing its lease, ms (default 30000). */
  lease?: number;
  /** How often an idle worker looks for jobs added by other processes, ms (default 100). */
  pollInterval?: number;
  /** Times a job's worker may be lost before the job is dead (default 1). */
  maxStalls?: number;
  /** The worker's name in the store. */
  name?: string;
  /**
   * Jobs held leased beyond the running ones, started without a round trip to the store (default:
   * the concurrency, at least 8; 0 on a queue with a concurrency or rate limit). A held job that no
   * free slot starts within 250 ms goes back to the front of the queue.
   */
  prefetch?: number;
}

/** One failed attempt. */
export interface JobAttemptError {
  attempt: number;
  /** ms since the epoch. */
  at: number;
  code: string;
  message: string;
}

/** A job as the store holds it. */
export interface JobInfo<T = unknown> {
  id: string;
  name: string;
  data: T;
  state: 'waiting' | 'delayed' | 'active' | 'completed' | 'dead';
  attempts: number;
  errors: JobAttemptError[];
  progress: unknown;
  result: unknown;
  priority: number;
  createdAt: number;
  /** 0 until it completes or dies. */
  finishedAt: number;
}

export interface QueueCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  dead: number;
  paused: boolean;
}

/** What `@OnQueueEvent` handlers and `queue.on(...)` get. */
export interface QueueEventData {
  event: QueueEventName;
  id: string | null;
  name: string | null;
  attempt: number | null;
  result: unknown;
  error: string | null;
  /** A failed attempt that was the last, or a stalled job sent to the dead-letter queue. */
  dead: boolean;
  /** A stalled job handed back to the queue. */
  requeued: boolean;
  progress: unknown;
}

export type QueueEventName = 'completed' | 'failed' | 'stalled' | 'progress' | 'drained';
const EVENTS: readonly string[] = ['completed', 'failed', 'stalled', 'progress', 'drained'];

/** A job as its handler gets it. */
export interface Job<T = unknown> {
  readonly id: string;
  readonly name: string;
  readonly data: T;
  /** This attempt, from 1. */
  readonly attempt: number;
  /** The lease's fencing token: grows with every hand-out of the job. */
  readonly token: number;
  /** The trace this attempt runs in (a W3C traceparent), when the job was added in one; also `currentTrace()` in the handler. */
  readonly traceparent: string | undefined;
  /** Aborted when the attempt must stop: its timeout passed, its lease was lost, or the worker closed. */
  readonly signal: AbortSignal;
  /** Reports progress; false when the job's lease was lost. */
  progress(value: unknown): Promise<boolean>;
  /** `progress`, as BullMQ names it. */
  updateProgress(value: unknown): Promise<boolean>;
}

const QUEUE_KEYS = new OptionKeys(['store', 'concurrency', 'rateLimit', 'retries', 'attempts', 'backoff', 'backoffDelay', 'maxDelay', 'timeout', 'keepCompleted']);

function bytes(v: unknown, what: string): Buffer {
  let b: Uint8Array;
  try {
    b = encode(v === undefined ? null : v);
  } catch (e) {
    throw errorFor('Q008', `${what}: the data cannot be serialized: ${e instanceof Error ? e.message : String(e)}`);
  }
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function jobOptions(opts: unknown, what: string): ReturnType<typeof rawTree> {
  return rawTree(checkedOptions<object>(opts, what));
}

/** A queue in a store: add jobs, read them back, pause and resume every worker. */
export class Queue<T = unknown> {
  /** @internal */
  constructor(
    readonly name: string,
    /** @internal The engine's number for the queue. */
    readonly _index: number,
  ) {}

  /** Opens queue `name` (its limits, when given, are written to the store for every worker). */
  static async open<T = unknown>(name: string, options?: QueueOptions): Promise<Queue<T>> {
    if (typeof name !== 'string') throw invalidArgument(`a queue's name must be a string, got ${typeof name}`);
    const { store, ...rest } = checkedOptions<QueueOptions>(options, `Queue.open('${name}')`, QUEUE_KEYS);
    if (store !== undefined && typeof store !== 'string') throw invalidArgument(`Queue.open('${name}'): store must be a string such as 'sqlite:jobs.db'`);
    const host = queueHost();
    const raw = rawTree(rest);
    const { aux } = await host.op((id) => host.native.open(id, store ?? defaultStore(), name, raw));
    return new Queue<T>(name, aux);
  }

  /** Adds a job; resolves with its id (the given one for a duplicate, which adds nothing). */
  async add(name: string, data: T, options?: JobOptions): Promise<string> {
    const host = queueHost();
    const what = `queue '${this.name}': add()`;
    if (typeof name !== 'string') throw invalidArgument(`${what}: the job's name must be a string, got ${typeof name}`);
    const payload = bytes(data, what);
    const raw = jobOptions(options, what);
    const { value } = await host.op((id) => host.native.add(id, this._index, name, payload, raw, currentTrace()?.traceparent));
    return value as string;
  }

  /** Adds many jobs in one write; resolves with their ids, in order. */
  async addBulk(jobs: { name: string; data: T; opts?: JobOptions }[]): Promise<string[]> {
    if (!Array.isArray(jobs)) throw invalidArgument(`queue '${this.name}': addBulk() takes an array of { name, data, opts }`);
    const what = `queue '${this.name}': addBulk()`;
    // One buffer of every job's data with where each ends, names once each, and options only for
    // the jobs that have them: a value per job across to the engine is most of a bulk add's cost.
    const data = new Writer();
    const ends = new Uint32Array(jobs.length);
    const names: string[] = [];
    const nameOf = new Uint32Array(jobs.length);
    const numbers = new Map<string, number>();
    const optioned: number[] = [];
    const opts: ReturnType<typeof rawTree>[] = [];
    let last: string | undefined;
    let lastNumber = 0;
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i];
      if (j === null || typeof j !== 'object' || typeof j.name !== 'string') throw invalidArgument(`${what}: each job is { name: string, data, opts? }`);
      if (j.name !== last) {
        let n = numbers.get(j.name);
        if (n === undefined) {
          n = names.push(j.name) - 1;
          numbers.set(j.name, n);
        }
        last = j.name;
        lastNumber = n;
      }
      nameOf[i] = lastNumber;
      try {
        appendRecord(data, 0, j.data === undefined ? null : j.data);
      } catch (e) {
        throw errorFor('Q008', `${what}: the data cannot be serialized: ${e instanceof Error ? e.message : String(e)}`);
      }
      ends[i] = data.len;
      if (j.opts !== undefined) {
        optioned.push(i);
        opts.push(jobOptions(j.opts, what));
      }
    }
    const host = queueHost();
    const bytes = data.buf.subarray(0, data.len);
    const { value } = await host.op((id) => host.native.addMany(id, this._index, names, nameOf, bytes, ends, optioned, opts, currentTrace()?.traceparent));
    // The ids come as one string, NUL between them (an array when an id holds a NUL).
    return typeof value === 'string' ? value.split('\0') : (value as string[]);
  }

  /** One job, in any state; null when the queue has none with that id. */
  async getJob(id: string): Promise<JobInfo<T> | null> {
    const host = queueHost();
    const { aux, value } = await host.op((op) => host.native.get(op, this._index, String(id)));
    return aux === 1 ? (value as JobInfo<T>) : null;
  }

  /** How many jobs are in each state. */
  async getCounts(): Promise<QueueCounts> {
    const host = queueHost();
    return (await host.op((op) => host.native.counts(op, this._index))).value as QueueCounts;
  }

  /** Stops handing jobs out, on every worker; running ones finish. */
  async pause(): Promise<void> {
    const host = queueHost();
    await host.op((op) => host.native.setPaused(op, this._index, true));
  }

  async resume(): Promise<void> {
    const host = queueHost();
    await host.op((op) => host.native.setPaused(op, this._index, false));
  }

  /** Removes a job that is not running; false when there was none (Q010 while it runs). */
  async remove(id: string): Promise<boolean> {
    const host = queueHost();
    return (await host.op((op) => host.native.remove(op, this._index, String(id)))).aux === 1;
  }

  /** The dead-letter queue, oldest first, each job with every attempt's error. */
  async getDead(offset = 0, limit = 100): Promise<JobInfo<T>[]> {
    const host = queueHost();
    return (await host.op((op) => host.native.dead(op, this._index, offset, limit))).value as JobInfo<T>[];
  }

  /** Puts dead jobs (all, or those ids) back with fresh attempts; resolves with how many. */
  async retryDead(ids?: string[]): Promise<number> {
    const host = queueHost();
    return (await host.op((op) => host.native.retryDead(op, this._index, ids ?? null))).aux;
  }

  /**
   * Listens to what the workers of every process sharing the store do with the queue's jobs:
   * this process's events at once, the others' once `listening()` resolves.
   */
  on(event: QueueEventName, listener: (e: QueueEventData) => void): this {
    if (!EVENTS.includes(event)) throw invalidArgument(`queue '${this.name}': no event '${String(event)}'; the events are ${EVENTS.join(', ')}`);
    if (typeof listener !== 'function') throw invalidArgument(`queue '${this.name}': on('${event}') takes a function`);
    queueHost().listen(this._index, (e) => {
      if (e.event === event) listener(e as unknown as QueueEventData);
    });
    return this;
  }

  /** Resolves once `on(...)` listeners hear the events of other processes too (a few milliseconds after the first `on`). */
  async listening(): Promise<void> {
    const host = queueHost();
    await host.op((op) => host.native.listening(op, this._index));
  }
}

/** Runs a queue's jobs with a handler: its return value is the job's result; a throw fails the attempt. */
export class Worker<T = unknown> {
  readonly #index: number;
  readonly #running = new Map<number, RunningJob<T>>();
  #closed: Promise<void> | undefined;

  constructor(
    readonly queue: Queue<T>,
    handler: (job: Job<T>) => unknown,
    options?: WorkerOptions,
  ) {
    if (!(queue instanceof Queue)) throw invalidArgument('new Worker() takes a Queue (from Queue.open) first');
    if (typeof handler !== 'function') throw invalidArgument(`worker of queue '${queue.name}': the handler must be a function`);
    const raw = rawTree(checkedOptions<object>(options, `worker of queue '${queue.name}'`));
    const host = queueHost();
    this.#index = call(() => host.native.startWorker(queue._index, raw));
    host.addWorker(this.#index, {
      run: (callId, env) => {
        const job = new RunningJob<T>(callId, env);
        this.#running.set(callId, job);
        settle(
          // The attempt's span is the current trace while the handler runs.
          () => (env.traceparent ? runInTrace({ traceparent: env.traceparent }, () => handler(job)) : handler(job)),
          (value, error) => {
            this.#running.delete(callId);
            host.answer(callId, value, error);
          },
        );
      },
      abandon: (callId) => {
        const job = this.#running.get(callId);
        this.#running.delete(callId);
        job?.stop(new Error('the attempt was stopped (timeout, lease lost or closing)'));
      },
    });
  }

  /**
   * Takes no new job, lets running ones finish for up to `grace` ms (default 10000), then stops
   * the rest and hands them back to the queue. Idempotent.
   */
  close(grace = 10_000): Promise<void> {
    this.#closed ??= (async () => {
      const host = queueHost();
      await host.op((op) => host.native.closeWorker(op, this.#index, grace));
      host.removeWorker(this.#index);
    })();
    return this.#closed;
  }
}

/**
 * A job as its handler gets it. Its `AbortSignal` is made on first use: most handlers never look,
 * and a controller per job is a large share of a trivial job's cost.
 */
class RunningJob<T> implements Job<T> {
  readonly id: string;
  readonly name: string;
  readonly data: T;
  readonly attempt: number;
  readonly token: number;
  readonly traceparent: string | undefined;
  readonly #call: number;
  #abort: AbortController | undefined;
  #stopped: unknown;

  constructor(call: number, env: JobEnvelope) {
    this.#call = call;
    this.id = env.id;
    this.name = env.name;
    this.data = env.data as T;
    this.attempt = env.attempt;
    this.token = env.token;
    this.traceparent = env.traceparent;
  }

  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#stopped !== undefined) this.#abort.abort(this.#stopped);
    }
    return this.#abort.signal;
  }

  /** The attempt must stop: aborts the signal, now or when it is first asked for. */
  stop(reason: unknown): void {
    this.#stopped = reason;
    this.#abort?.abort(reason);
  }

  async progress(value: unknown): Promise<boolean> {
    const host = queueHost();
    const payload = bytes(value, `job '${this.id}': progress()`);
    const call = this.#call;
    return (await host.op((op) => host.native.progress(op, call, payload))).aux === 1;
  }

  updateProgress(value: unknown): Promise<boolean> {
    return this.progress(value);
  }
}
