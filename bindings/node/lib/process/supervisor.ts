// Supervision for Node over the engine's Supervisor: the spec's `@Supervisor`, `@Child`,
// `@OnChildCrash`, `@OnChildRestart`, and the `Supervisor` that runs them (`Supervisor.start(ApiSupervisor)`).
// Strategies, budgets, backoff and health are the engine's; the hooks are called from it and it
// awaits their promises.

import type { NativeSupervisor } from '../../native.js';
import { native } from '../native.js';
import { call as nativeCall, fromInfo, invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { checkKeys, OptionKeys, rawOptions } from '../util.js';
import { Ops } from './ops.js';
import { CHILD_PROGRAM_KEYS, childSpec, isObject, optStr, serviceId, type ChildProgram } from './program.js';

export type SupervisionStrategy = 'one-for-one' | 'one-for-all' | 'rest-for-one' | 'simple-one-for-one';
export type RestartPolicy = 'always' | 'on-failure' | 'never';
/** What the crash hook decides (returning nothing leaves it to the child's restart policy). */
export type CrashDecision = 'restart' | 'ignore' | 'escalate' | 'shutdown';

const DECISIONS: readonly CrashDecision[] = ['restart', 'ignore', 'escalate', 'shutdown'];

/** A supervisor's settings (times in ms). */
export interface SupervisorOptions {
  /** For logs, metrics and errors (default: the class name). */
  name?: string;
  /** Which children restart when one crashes (default 'one-for-one'). */
  strategy?: SupervisionStrategy;
  /** Restarts allowed per child within `window` (default 3). */
  maxRestarts?: number;
  /** The budget's window (default 60,000). */
  window?: number;
  /** The spec's name for `window`. */
  maxTime?: number;
  /** Delay between restarts: `initial * factor^(attempt-1)`, at most `max` (default 100, 2, 5,000). */
  backoff?: { initial?: number; max?: number; factor?: number };
}

/** The keys of `SupervisorOptions` (anything else is refused with E001). */
export const SUPERVISOR_KEYS = new OptionKeys(['name', 'strategy', 'maxRestarts', 'window', 'maxTime', 'backoff']);
const BACKOFF_KEYS = new OptionKeys(['initial', 'max', 'factor']);

/** A supervised child (times in ms). */
export interface ChildOptions extends ChildProgram {
  /** How many instances (default 1). */
  instances?: number;
  /** An exhausted budget fails the supervisor instead of leaving the child down. */
  critical?: boolean;
  /** When it is restarted (default 'always'). */
  restart?: RestartPolicy;
  /** Its own budget. */
  maxRestarts?: number;
  /** Its own window. */
  window?: number;
  /** Its own first restart delay. */
  restartDelay?: number;
}

/** The keys of `ChildOptions`. */
export const CHILD_KEYS = new OptionKeys([...CHILD_PROGRAM_KEYS, 'instances', 'critical', 'restart', 'maxRestarts', 'window', 'restartDelay']);

/** A child as hooks and `children()` see it. */
export interface ChildInfo {
  name: string;
  index: number;
  pid: number | null;
  state: 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';
  restarts: number;
  lastExit: string | null;
  critical: boolean;
}

/** The spec's name for what the supervision hooks get (`handleCrash(child: ProcessInfo, error: Error)`). */
export type ProcessInfo = ChildInfo;

/** Why a child ended, as the crash hook gets it: `message` says how; `failure` is false for a clean exit. */
export class ChildCrash extends Error {
  constructor(
    message: string,
    readonly failure: boolean,
  ) {
    super(message);
    this.name = 'ChildCrash';
  }
}

type Ctor = abstract new (...args: any[]) => object;
type AnyFn = (...args: any[]) => any;
type CrashHook = (child: ChildInfo, error: ChildCrash) => CrashDecision | void | undefined | Promise<CrashDecision | void | undefined>;
type RestartHook = (child: ChildInfo, attempt: number) => unknown;

const META = Symbol.for('omnitron.process.supervisor');
const CHILDREN = Symbol.for('omnitron.process.children');
const ON_CRASH = Symbol.for('omnitron.process.onCrash');
const ON_RESTART = Symbol.for('omnitron.process.onRestart');

type Statics = Record<symbol, unknown>;

function own<T>(ctor: Statics, key: symbol, init: (inherited: T | undefined) => T): T {
  if (!Object.prototype.hasOwnProperty.call(ctor, key)) {
    Object.defineProperty(ctor, key, { value: init(ctor[key] as T | undefined), configurable: true });
  }
  return ctor[key] as T;
}

function supervisorDecorator(options: SupervisorOptions = {}): ClassDecorator {
  if (!isObject(options)) throw invalidArgument(`@Supervisor() takes an options object, got ${describe(options)}`);
  checkSupervisorOptions(options, '@Supervisor()');
  return (cls) => {
    Object.defineProperty(cls, META, { value: options, configurable: true });
  };
}

/** `@Child({ instances: 4 }) api = ApiWorker;`: a supervised child; the property's value is a `@Service` class, a command array, or a nested `@Supervisor` class. */
export function Child(options: ChildOptions = {}): PropertyDecorator {
  if (!isObject(options)) throw invalidArgument(`@Child() takes an options object, got ${describe(options)}`);
  checkKeys(options, CHILD_KEYS, '@Child()');
  return (proto, key) => {
    const list = own<[string | symbol, ChildOptions][]>(proto.constructor as unknown as Statics, CHILDREN, (i) => [...(i ?? [])]);
    list.push([key, options]);
  };
}

function hookDecorator(sym: symbol, name: string): () => MethodDecorator {
  return () => (proto, key, descriptor) => {
    if (typeof descriptor?.value !== 'function') throw invalidArgument(`@${name}() decorates methods; '${String(key)}' is not a method`);
    Object.defineProperty(proto.constructor, sym, { value: key, configurable: true });
  };
}

/** `@OnChildCrash() onCrash(child, error)`: called when a child ends unexpectedly; its answer decides (`'restart' | 'ignore' | 'escalate' | 'shutdown'`, nothing: the restart policy). */
export const OnChildCrash: () => MethodDecorator = hookDecorator(ON_CRASH, 'OnChildCrash');
/** `@OnChildRestart() onRestart(child, attempt)`: awaited before a child starts again; `attempt` counts restarts within the window. */
export const OnChildRestart: () => MethodDecorator = hookDecorator(ON_RESTART, 'OnChildRestart');

/** The engine's supervisor input: its name and the options as the user wrote them. */
function supervisorInput(o: SupervisorOptions, name: string) {
  const r = o as Record<string, unknown>;
  const b = isObject(r.backoff) ? (r.backoff as Record<string, unknown>) : {};
  const given = {
    strategy: r.strategy,
    maxRestarts: r.maxRestarts,
    window: r.window ?? r.maxTime,
    backoffInitial: b.initial,
    backoffMax: b.max,
    backoffFactor: b.factor,
  };
  return { name, options: rawOptions(given, Object.keys(given)) };
}

/** Checks the keys here and the values in the engine (in TypeScript's words), where they are written. */
function checkSupervisorOptions(o: SupervisorOptions, what: string): void {
  const r = o as Record<string, unknown>;
  checkKeys(r, SUPERVISOR_KEYS, what);
  optStr(r, 'name', what);
  if (r.backoff !== undefined) {
    if (!isObject(r.backoff)) throw invalidArgument(`${what}: 'backoff' takes an options object, got ${describe(r.backoff)}`);
    checkKeys(r.backoff, BACKOFF_KEYS, `${what} backoff`);
  }
  const e = native.checkSupervisorOptions(supervisorInput(o, (r.name as string | undefined) ?? 'supervisor'));
  if (e) throw fromInfo(e);
}

function childInfo(json: string): ChildInfo {
  const c = JSON.parse(json) as Record<string, unknown>;
  return {
    name: c.name as string,
    index: c.index as number,
    pid: (c.pid as number | null) ?? null,
    state: c.state as ChildInfo['state'],
    restarts: c.restarts as number,
    lastExit: (c.last_exit as string | null) ?? null,
    critical: c.critical as boolean,
  };
}

/** A running (or ready to run) supervision tree. */
export interface Supervisor {
  /** Its name. */
  readonly name: string;
  /** The decorated instance it runs (its hooks are called on it), if it was made from a class. */
  readonly instance: object | undefined;
  /** Adds a child (before `start`; started in the order added). */
  addChild(name: string, options: ChildOptions): this;
  /** Adds a nested supervisor; a critical one's failure fails this one. */
  addSupervisor(child: Supervisor, critical?: boolean): this;
  /** Sets the crash hook. */
  onCrash(hook: CrashHook): this;
  /** Sets the restart hook. */
  onRestart(hook: RestartHook): this;
  /** Starts every child in order, each ready before the next. */
  start(): Promise<this>;
  /** Stops every child (reverse order); crashes meanwhile restart nothing. */
  stop(): Promise<void>;
  /** `stop()` under the name every resource-holding object closes with (Python's `Supervisor.close()`). */
  close(): Promise<void>;
  /** Resolves when it stopped; rejects with RestartLimitError (P006) when it failed. */
  wait(): Promise<void>;
  /** Restarts a child by hand (counts against its budget; over it: P006). */
  restartChild(name: string): Promise<void>;
  /** Adds an instance of the template (simple-one-for-one) with extra arguments; its index. */
  startChild(args?: string[]): Promise<number>;
  /** Every child and its state. */
  children(): Promise<ChildInfo[]>;
  /** 'idle' | 'running' | 'stopped' | 'failed'. */
  readonly state: 'idle' | 'running' | 'stopped' | 'failed';
  /** Serves its status page in the browser (docs/OBSERVABILITY.md); see `StatusPage`. */
  serveStatusPage(options?: StatusPageOptions): StatusPage;
}

class SupervisorImpl implements Supervisor {
  readonly #native: NativeSupervisor;
  readonly #ops = new Ops();
  #waiting: Promise<void> | undefined;
  readonly instance: object | undefined;
  readonly name: string;

  constructor(def: unknown, options?: SupervisorOptions) {
    let instance: object | undefined;
    let opts: SupervisorOptions;
    if (typeof def === 'function') {
      if (!(META in def)) throw invalidArgument(`${def.name || 'this class'} is not a @Supervisor class`);
      instance = new (def as unknown as new () => object)();
      opts = { ...((def as unknown as Statics)[META] as SupervisorOptions), ...options };
    } else if (isObject(def) && typeof def.constructor === 'function' && META in def.constructor) {
      instance = def;
      opts = { ...((def.constructor as unknown as Statics)[META] as SupervisorOptions), ...options };
    } else if (def === undefined || isObject(def)) {
      opts = { ...(def as SupervisorOptions | undefined), ...options };
    } else {
      throw invalidArgument(`new Supervisor() takes a @Supervisor class, an instance of one, or options, got ${describe(def)}`);
    }
    if (options !== undefined && !isObject(options)) throw invalidArgument(`new Supervisor() takes an options object, got ${describe(options)}`);
    checkSupervisorOptions(opts, 'new Supervisor()');
    this.instance = instance;
    this.name = opts.name ?? instance?.constructor.name ?? 'supervisor';
    const input = supervisorInput(opts, this.name);
    this.#native = nativeCall(() => new native.NativeSupervisor(input, this.#ops.wake, this.#ops.wake));
    this.#ops.source = this.#native;
    if (instance) this.#adopt(instance);
  }

  /** Children and hooks declared with decorators on `instance`'s class. */
  #adopt(instance: object): void {
    const ctor = instance.constructor as unknown as Statics;
    const self = instance as Record<string | symbol, unknown>;
    for (const [key, opts] of (ctor[CHILDREN] as [string | symbol, ChildOptions][] | undefined) ?? []) {
      const name = String(key);
      const value = self[key];
      const what = `@Child '${name}' of ${instance.constructor.name}`;
      if (opts.command !== undefined || opts.service !== undefined) this.addChild(name, opts);
      else if (value instanceof SupervisorImpl) this.addSupervisor(value, !!opts.critical);
      else if (typeof value === 'function' && META in value) this.addSupervisor(new SupervisorImpl(value), !!opts.critical);
      else if (serviceId(value)) this.addChild(name, { ...opts, service: value as Ctor });
      else if (Array.isArray(value) || typeof value === 'string') this.addChild(name, { ...opts, command: value as string[] });
      else throw invalidArgument(`${what}: its value must be a @Service class, a command (array of strings) or a @Supervisor class, got ${describe(value)}`);
    }
    const crash = ctor[ON_CRASH] as string | symbol | undefined;
    if (crash !== undefined) this.onCrash((self[crash] as AnyFn).bind(instance));
    const restart = ctor[ON_RESTART] as string | symbol | undefined;
    if (restart !== undefined) this.onRestart((self[restart] as AnyFn).bind(instance));
  }

  addChild(name: string, options: ChildOptions): this {
    if (typeof name !== 'string' || name === '') throw invalidArgument(`addChild() needs a child name, got ${describe(name)}`);
    const what = `child '${name}'`;
    if (isObject(options)) checkKeys(options, CHILD_KEYS, `addChild('${name}')`);
    const { spec } = childSpec(options, what, name);
    const o = options as Record<string, unknown>;
    // The values as the user wrote them: the engine checks them, in TypeScript's words.
    const input = { spec, options: rawOptions(o, ['instances', 'critical', 'restart', 'maxRestarts', 'window', 'restartDelay']) };
    nativeCall(() => this.#native.addChild(input));
    return this;
  }

  addSupervisor(child: Supervisor, critical = false): this {
    if (!(child instanceof SupervisorImpl)) throw invalidArgument(`addSupervisor() takes a Supervisor, got ${describe(child)}`);
    nativeCall(() => this.#native.addSupervisor(child.#native, critical));
    return this;
  }

  onCrash(hook: CrashHook): this {
    if (typeof hook !== 'function') throw invalidArgument(`the crash hook must be a function, got ${describe(hook)}`);
    this.#native.onCrash(async ([info, reason, failure]: [string, string, boolean]) => {
      try {
        const d = await hook(childInfo(info), new ChildCrash(reason, failure));
        if (d === undefined || d === null) return null;
        if (!DECISIONS.includes(d)) {
          process.emitWarning(`the crash hook of supervisor '${this.name}' returned ${describe(d)}; expected one of ${DECISIONS.join(', ')} (the restart policy decides)`);
          return null;
        }
        return d;
      } catch (e) {
        process.emitWarning(`the crash hook of supervisor '${this.name}' threw: ${e instanceof Error ? e.message : String(e)} (the restart policy decides)`);
        return null;
      }
    });
    return this;
  }

  onRestart(hook: RestartHook): this {
    if (typeof hook !== 'function') throw invalidArgument(`the restart hook must be a function, got ${describe(hook)}`);
    this.#native.onRestart(async ([info, attempt]: [string, number]) => {
      try {
        await hook(childInfo(info), attempt);
      } catch (e) {
        process.emitWarning(`the restart hook of supervisor '${this.name}' threw: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    return this;
  }

  async start(): Promise<this> {
    await this.#ops.run<null>((id) => this.#native.start(id), true);
    // While it runs, this pending wait keeps the process alive (like a listening server).
    this.#waiting ??= this.#ops.run<null>((id) => this.#native.wait(id), true).then(
      () => {
        this.#waiting = undefined;
      },
      (e) => {
        this.#waiting = undefined;
        throw e;
      },
    );
    this.#waiting.catch(() => {});
    return this;
  }

  async stop(): Promise<void> {
    await this.#ops.run<null>((id) => this.#native.stop(id), true);
    await this.#waiting?.catch(() => {});
  }

  close(): Promise<void> {
    return this.stop();
  }

  async wait(): Promise<void> {
    await this.#ops.run<null>((id) => this.#native.wait(id), true);
  }

  async restartChild(name: string): Promise<void> {
    if (typeof name !== 'string') throw invalidArgument(`restartChild() needs a child name, got ${describe(name)}`);
    await this.#ops.run<null>((id) => this.#native.restartChild(id, name), true);
  }

  async startChild(args: string[] = []): Promise<number> {
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw invalidArgument(`startChild() takes an array of strings, got ${describe(args)}`);
    return this.#ops.run<number>((id) => this.#native.startChild(id, args), true);
  }

  async children(): Promise<ChildInfo[]> {
    const list = await this.#ops.run<Record<string, unknown>[]>((id) => this.#native.children(id), true);
    return list.map((c) => childInfo(JSON.stringify(c)));
  }

  get state(): 'idle' | 'running' | 'stopped' | 'failed' {
    return this.#native.state().state as Supervisor['state'];
  }

  /**
   * Serves this supervisor's status page in the browser (docs/OBSERVABILITY.md): its children with
   * their state, restarts, CPU and memory, services, breakers, pools, workflow runs, recent traces
   * and metrics, refreshed live. `listen` is `host:port` (port 0, the default: a free one); keep
   * it on loopback, the page has no login. Keep the returned page: it stops when closed (or when
   * it is garbage-collected).
   */
  serveStatusPage(options: StatusPageOptions = {}): StatusPage {
    if (typeof options !== 'object' || options === null) throw invalidArgument(`serveStatusPage() takes { listen }, got ${describe(options)}`);
    checkKeys(options, STATUS_PAGE_KEYS, 'serveStatusPage()');
    const listen = options.listen ?? '127.0.0.1:0';
    if (typeof listen !== 'string') throw invalidArgument(`serveStatusPage(): listen must be 'host:port', got ${describe(listen)}`);
    const page = nativeCall(() => native.NativeStatusPage.serve(this.#native, this.name, listen));
    return { url: page.url, close: () => page.close() };
  }
}

/** What `serveStatusPage()` takes. */
export interface StatusPageOptions {
  /** `host:port` to listen on (default `127.0.0.1:0`: a free loopback port). */
  listen?: string;
}

const STATUS_PAGE_KEYS = new OptionKeys(['listen']);

/** A running status page. */
export interface StatusPage {
  /** `http://host:port/`. */
  readonly url: string;
  /** Stops serving (again: nothing). */
  close(): void;
}

/** The `Supervisor` value: `@Supervisor({...})` decorates a class; `new Supervisor(Cls | instance | options)` or `Supervisor.start(...)` runs one. */
export interface SupervisorStatic {
  (options?: SupervisorOptions): ClassDecorator;
  new (definition?: Ctor | object | SupervisorOptions, options?: SupervisorOptions): Supervisor;
  /** Makes a supervisor from a `@Supervisor` class (instantiated with no arguments), an instance of one, or options, and starts it. */
  start(definition: Ctor | object | SupervisorOptions, options?: SupervisorOptions): Promise<Supervisor>;
  readonly prototype: Supervisor;
}

function SupervisorFn(this: unknown, a?: unknown, b?: SupervisorOptions): unknown {
  if (!new.target) return supervisorDecorator(a as SupervisorOptions | undefined);
  return new SupervisorImpl(a, b);
}
SupervisorFn.prototype = SupervisorImpl.prototype;
(SupervisorFn as unknown as { start: SupervisorStatic['start'] }).start = (d, o) => {
  // `undefined` here is a class not defined yet (an import loop, a typo), not "no options".
  if (d === undefined || d === null) {
    return Promise.reject(
      invalidArgument(`Supervisor.start() takes a @Supervisor class, an instance of one, or options, got ${describe(d)} (a class undefined here usually means two files import each other)`),
    );
  }
  return new SupervisorImpl(d, o).start();
};
Object.defineProperty(SupervisorImpl.prototype, Symbol.toStringTag, { value: 'Supervisor' });

export const Supervisor = SupervisorFn as unknown as SupervisorStatic;
