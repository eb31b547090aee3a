// The spec's scheduler decorators (§3.1 `cronJobs:`): `@Cron('0 * * * *')` and `@Interval(5000)`
// on a provider's methods. Each schedule fires a job on a queue of its own (`cron:<name>` unless it
// names one), named after the schedule; the engine's scheduler fires each slot once across every instance of
// the application sharing the store, and the queue's worker runs the method (docs/SCHEDULER.md).
// The process's `cronJobs:` from `omnitron.yaml` (docs/QUEUES.md) are started beside them: their
// jobs go to the queue `cron`, named after the entry's handler, for a `@QueueProcessor('cron')`.

import { call, invalidArgument } from '../errors.js';
import { OptionKeys, checkKeys } from '../util.js';
import { queueHost } from './host.js';
import { Queue, Worker } from './queue.js';

/** A schedule's options. */
export interface ScheduleOptions {
  /** The schedule's name (default `Class.method`): its jobs are named after it. */
  name?: string;
  /** The pattern's IANA time zone (default `UTC`). */
  timezone?: string;
  /**
   * The queue its firings go to (default `cron:<name>`, its own: a process runs workers only for
   * the schedules it declares, so processes declaring different ones can share a store).
   */
  queue?: string;
  /** Runs missed while nothing ran: `'skip'`, `'once'` (default) or `'all'`. */
  missed?: 'skip' | 'once' | 'all';
  /** Each firing's job data. */
  data?: unknown;
}

const SCHEDULE_KEYS = new OptionKeys(['name', 'timezone', 'queue', 'missed', 'data']);

interface Declared {
  method: string | symbol;
  spec: Record<string, unknown>;
  where: string;
}

const META = Symbol.for('omnitron.queue.schedules');

function declare(target: object, key: string | symbol, spec: Record<string, unknown>, what: string, options: ScheduleOptions | undefined): void {
  const cls = (target as { constructor: Function }).constructor;
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') throw invalidArgument(`${what} takes an options object`);
    checkKeys(options, SCHEDULE_KEYS, what);
  }
  if (!Object.prototype.hasOwnProperty.call(cls, META)) Object.defineProperty(cls, META, { value: [], enumerable: false });
  const list = (cls as unknown as Record<symbol, Declared[]>)[META];
  list.push({ method: key, spec: { name: `${cls.name}.${String(key)}`, ...spec, ...(options ?? {}) }, where: `${what} on ${cls.name}.${String(key)}` });
}

/** Runs the method on a cron pattern: 5 fields (`'0 * * * *'`), or 6 with seconds first. */
export function Cron(pattern: string, options?: ScheduleOptions): MethodDecorator {
  if (typeof pattern !== 'string') throw invalidArgument(`@Cron() takes a cron pattern such as '0 * * * *', got ${typeof pattern}`);
  return (target, key) => declare(target, key, { pattern }, `@Cron('${pattern}')`, options);
}

/** Runs the method every `every` ms (or `'30s'`, `'5m'`): slots aligned to the Unix epoch. */
export function Interval(every: number | string, options?: ScheduleOptions): MethodDecorator {
  let text: string;
  if (typeof every === 'number' && Number.isFinite(every) && every > 0) text = `${Math.round(every)}ms`;
  else if (typeof every === 'string') text = every;
  else throw invalidArgument(`@Interval() takes milliseconds or a duration such as '30s', got ${String(every)}`);
  return (target, key) => declare(target, key, { every: text }, `@Interval(${JSON.stringify(every)})`, options);
}

/** The class's schedules, if it declares any. */
export function schedulesOf(cls: unknown): Declared[] | undefined {
  if (typeof cls !== 'function') return undefined;
  const list = (cls as unknown as Record<symbol, Declared[] | undefined>)[META];
  return list && list.length > 0 ? list : undefined;
}

/** How many `cronJobs:` `omnitron.yaml` gives this process (through `omnitron start`). */
export function deployedSchedules(): number {
  return call(() => queueHost().native.deployedSchedules());
}

/** What `startSchedules` started: closed by the application. */
export interface RunningSchedules {
  close(grace: number): Promise<void>;
}

/**
 * Starts the scheduler for every declared schedule (`instances`: each provider instance with its
 * class's schedules) and a worker per queue that runs the methods, by job name.
 */
export async function startSchedules(instances: { instance: object; schedules: Declared[] }[], store: string): Promise<RunningSchedules> {
  const host = queueHost();
  const specs: Record<string, unknown>[] = [];
  const wheres: string[] = [];
  const byQueue = new Map<string, Map<string, () => unknown>>();
  for (const { instance, schedules } of instances) {
    for (const d of schedules) {
      const queue = (d.spec.queue as string | undefined) ?? `cron:${String(d.spec.name)}`;
      specs.push({ ...d.spec, queue });
      wheres.push(d.where);
      const methods = byQueue.get(queue) ?? new Map<string, () => unknown>();
      const target = instance as Record<string | symbol, (...a: unknown[]) => unknown>;
      methods.set(String(d.spec.name), () => target[d.method].call(instance));
      byQueue.set(queue, methods);
    }
  }
  // The schedules are checked first: a bad one leaves nothing running.
  const { aux } = await host.op((op) => call(() => host.native.startScheduler(op, store, JSON.stringify(specs), wheres)));
  const workers: Worker[] = [];
  try {
    for (const [name, methods] of byQueue) {
      const queue = await Queue.open(name, { store });
      workers.push(
        new Worker(queue, (job) => {
          const run = methods.get(job.name);
          if (!run) throw invalidArgument(`queue '${name}' has no scheduled method for jobs named '${job.name}'`);
          return run();
        }),
      );
    }
  } catch (e) {
    await host.op((op) => host.native.closeScheduler(op, aux)).catch(() => {});
    await Promise.all(workers.map((w) => w.close(0)));
    throw e;
  }
  return {
    async close(grace: number) {
      await host.op((op) => host.native.closeScheduler(op, aux));
      await Promise.all(workers.map((w) => w.close(grace)));
    },
  };
}
