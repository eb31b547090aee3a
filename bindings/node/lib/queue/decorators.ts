// The spec's queue decorators (§1.3): `@QueueProcessor('emails')` classes whose `@ProcessMessage()`
// method runs the queue's jobs and whose `@OnQueueEvent('completed')` methods hear what happened.
// They only record metadata; `startProcessors` (called by `Omnitron.create`) opens the queues and
// starts a worker per processor, from the instance the container built.

import { invalidArgument } from '../errors.js';
import { OptionKeys, checkKeys } from '../util.js';
import { Queue, Worker, type QueueEventName, type QueueOptions, type WorkerOptions } from './queue.js';

/** `@QueueProcessor`'s options: the queue's (`rateLimit`, `retries`, ...) and the worker's (`concurrency`, ...). */
export interface ProcessorOptions extends Omit<QueueOptions, 'concurrency'>, WorkerOptions {}

const WORKER_KEYS = ['concurrency', 'lease', 'pollInterval', 'maxStalls', 'name', 'prefetch'];
const PROCESSOR_KEYS = new OptionKeys([...WORKER_KEYS, 'store', 'rateLimit', 'retries', 'attempts', 'backoff', 'backoffDelay', 'maxDelay', 'timeout', 'keepCompleted']);
const EVENTS: readonly string[] = ['completed', 'failed', 'stalled', 'progress', 'drained'];

interface ProcessorMeta {
  queue: string;
  options: ProcessorOptions;
  /** The `@ProcessMessage` methods: by job name ('' for any). */
  handlers: { method: string | symbol; job: string }[];
  events: { method: string | symbol; event: QueueEventName }[];
}

const META = Symbol.for('omnitron.queue.processor');

function meta(cls: Function): ProcessorMeta {
  if (!Object.prototype.hasOwnProperty.call(cls, META)) {
    Object.defineProperty(cls, META, { value: { queue: '', options: {}, handlers: [], events: [] }, enumerable: false });
  }
  return (cls as unknown as Record<symbol, ProcessorMeta>)[META];
}

/** The class's processor metadata, if it is a `@QueueProcessor`. */
export function processorOf(cls: unknown): ProcessorMeta | undefined {
  if (typeof cls !== 'function') return undefined;
  const m = (cls as unknown as Record<symbol, ProcessorMeta | undefined>)[META];
  return m && m.queue !== '' ? m : undefined;
}

/** Marks a provider class as the processor of queue `name`. */
export function QueueProcessor(name: string, options?: ProcessorOptions): ClassDecorator {
  if (typeof name !== 'string' || name === '') throw invalidArgument(`@QueueProcessor() takes the queue's name, got ${typeof name}`);
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') throw invalidArgument(`@QueueProcessor('${name}') takes an options object`);
    checkKeys(options, PROCESSOR_KEYS, `@QueueProcessor('${name}')`);
  }
  return (target) => {
    const m = meta(target);
    m.queue = name;
    m.options = options ?? {};
  };
}

/** The method that runs the queue's jobs (those named `job` only, when given). */
export function ProcessMessage(job?: string): MethodDecorator {
  if (job !== undefined && typeof job !== 'string') throw invalidArgument(`@ProcessMessage() takes a job name or nothing, got ${typeof job}`);
  return (target, key) => {
    meta((target as object).constructor).handlers.push({ method: key, job: job ?? '' });
  };
}

/** A method called with each `event` of the queue (from this process's workers). */
export function OnQueueEvent(event: QueueEventName): MethodDecorator {
  if (!EVENTS.includes(event)) throw invalidArgument(`@OnQueueEvent('${String(event)}'): the events are ${EVENTS.join(', ')}`);
  return (target, key) => {
    meta((target as object).constructor).events.push({ method: key, event });
  };
}

/**
 * Opens the processor's queue and starts its worker with `instance`'s methods. A processor with
 * `@OnQueueEvent` methods only runs no jobs: it hears the events of the queue's workers in every
 * process, which it listens to before this returns.
 */
export async function startProcessor(instance: object, m: ProcessorMeta, defaultStore: string | undefined): Promise<Worker | undefined> {
  const name = `@QueueProcessor('${m.queue}')`;
  if (m.handlers.length === 0 && m.events.length === 0) throw invalidArgument(`${name} ${instance.constructor.name} has no @ProcessMessage() or @OnQueueEvent() method`);
  const queueOptions: Record<string, unknown> = {};
  const workerOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m.options)) (WORKER_KEYS.includes(k) ? workerOptions : queueOptions)[k] = v;
  if (queueOptions.store === undefined && defaultStore !== undefined) queueOptions.store = defaultStore;
  const queue = await Queue.open(m.queue, queueOptions as QueueOptions);
  const target = instance as Record<string | symbol, (...a: unknown[]) => unknown>;
  for (const { method, event } of m.events) queue.on(event, (e) => void Promise.resolve(target[method](e)).catch((err) => console.error(`[omnitron] ${name} @OnQueueEvent('${event}') failed:`, err)));
  if (m.events.length > 0) await queue.listening();
  if (m.handlers.length === 0) return undefined;
  const byName = new Map(m.handlers.filter((h) => h.job !== '').map((h) => [h.job, h.method]));
  const any = m.handlers.find((h) => h.job === '')?.method;
  return new Worker(
    queue,
    (job) => {
      const method = byName.get(job.name) ?? any;
      if (method === undefined) throw invalidArgument(`${name} has no @ProcessMessage() for jobs named '${job.name}'`);
      return target[method](job);
    },
    workerOptions as WorkerOptions,
  );
}
