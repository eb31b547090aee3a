// The application's structured logger for TypeScript, with pino's interface (`logger.info({ id },
// 'Finding user')`, `child()`, `level`, `isLevelEnabled()`): records go through the engine's
// logger, so a Node process writes the same JSON lines (pino's shape) as the application's
// processes in other languages, with the process's name, the call being served and the current
// trace's ids, and one filter (`OMNITRON_LOG`, `omnitron.yaml`'s `logging:`, `omnitron log-level`)
// decides what each module writes.

import { format } from 'node:util';
import { native } from './native.js';
import { call as nativeCall, invalidArgument } from './errors.js';
import { describe } from './di/tokens.js';
import { OptionKeys, options } from './util.js';
import { currentTrace } from './telemetry.js';

/** A record's level, as pino names them. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
/** A level, or `silent` (nothing written). */
export type LevelWithSilent = Level | 'silent';

const VALUES: Readonly<Record<Level, number>> = Object.freeze({ trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 });
const LABELS: Readonly<Record<number, Level>> = Object.freeze({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' });

/** pino's log method: an object of fields and a message, or a message (with `%s`, `%d`, `%j`, `%o` placeholders). */
export interface LogFn {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

/** Options of `createLogger()` and `child()`. */
export interface LoggerOptions {
  /** The module the records come from (what the filter matches: `orders.payment`). */
  name?: string;
  /** Sets this module's level in the application's filter. */
  level?: LevelWithSilent;
  /** Fields every record of the logger carries. */
  base?: Record<string, unknown>;
}
const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
const LOGGER_KEYS = new OptionKeys(['name', 'level', 'base']);
const CHILD_KEYS = new OptionKeys(['name', 'level']);

interface CallInfo {
  service: string;
  method: string;
}
let currentCall: () => CallInfo | undefined = () => undefined;

/** @internal The RPC layer says how to find the call a handler is serving. */
export function readCallWith(f: () => CallInfo | undefined): void {
  currentCall = f;
}

// The engine's diagnostics go to the same logger; a bad OMNITRON_LOG is said once, not thrown at import.
const initError = native.logInit('');
if (initError !== null && initError !== undefined) process.emitWarning(initError, { code: 'OMNITRON_LOG' });

// What each logger knows of the filter is cached, and dropped when the filter changes: from here
// (setLogFilter, `logger.level = ...`), from another thread of this process (worker_threads), or
// from outside through the control file the engine watches (OMNITRON_LOG_CONTROL): the engine's
// count of changes is looked at four times a second. A record below its module's level then costs
// a comparison, as in pino.
let generation = 0;
let nativeGeneration = native.logGeneration();
function filterChanged(): void {
  nativeGeneration = native.logGeneration();
  generation++;
}
setInterval(() => {
  if (native.logGeneration() !== nativeGeneration) filterChanged();
}, 250).unref();

/** Plain JSON, or (a cycle, a BigInt, an Error among the fields) the careful kind. */
function toJson(fields: Record<string, unknown>): string {
  for (const k in fields) if (fields[k] instanceof Error) return stringify(fields);
  try {
    return JSON.stringify(fields);
  } catch {
    return stringify(fields);
  }
}

/** pino's standard `err` serializer: type, message, stack, and the error's own fields (`code`). */
function serializeError(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: e.constructor?.name ?? 'Error', message: e.message, stack: e.stack };
  for (const [k, v] of Object.entries(e)) if (!(k in out)) out[k] = v instanceof Error ? serializeError(v) : v;
  if (e.cause instanceof Error) out.cause = serializeError(e.cause);
  return out;
}

/** JSON of `fields`, errors serialized, cycles and BigInts written rather than thrown. */
function stringify(fields: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(fields, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return serializeError(v);
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    return v;
  });
}

function levelName(v: unknown, what: string): LevelWithSilent {
  if (typeof v !== 'string' || (v !== 'silent' && !Object.hasOwn(VALUES, v))) {
    throw invalidArgument(`${what} is one of trace, debug, info, warn, error, fatal or silent, got ${describe(v)}`);
  }
  return v as LevelWithSilent;
}

/**
 * A logger for one module, with fields bound to every record it writes (pino's `child()`).
 * `logger.level = 'debug'` sets the module's level for the whole process (every logger of the
 * module, in any language's code running here), as `omnitron log-level` does from outside.
 */
export class Logger {
  readonly #module: string;
  #bindings: Record<string, unknown>;
  #generation = -1;
  #threshold = 0;

  constructor(module = '', bindings: Record<string, unknown> = {}) {
    if (typeof module !== 'string') throw invalidArgument(`a Logger's module is a string, got ${describe(module)}`);
    if (bindings === null || typeof bindings !== 'object' || Array.isArray(bindings)) {
      throw invalidArgument(`a Logger's bindings are an object, got ${describe(bindings)}`);
    }
    this.#module = module;
    this.#bindings = Object.keys(bindings).length === 0 ? EMPTY : { ...bindings };
  }

  /** The module its records come from. */
  get module(): string {
    return this.#module;
  }

  /** pino's level numbers and names. */
  get levels(): { values: Readonly<Record<Level, number>>; labels: Readonly<Record<number, Level>> } {
    return { values: VALUES, labels: LABELS };
  }

  /** The least severe level this module writes, or `silent`. */
  get level(): LevelWithSilent {
    const n = native.logThreshold(this.#module);
    return Number.isFinite(n) ? (LABELS[n] ?? 'info') : 'silent';
  }

  set level(l: LevelWithSilent) {
    const name = levelName(l, 'logger.level');
    nativeCall(() => native.logSetLevel(this.#module, name));
    filterChanged();
  }

  /** The level as pino's number (`Infinity` when silent). */
  get levelVal(): number {
    return native.logThreshold(this.#module);
  }

  isLevelEnabled(level: LevelWithSilent): boolean {
    const name = levelName(level, 'isLevelEnabled()');
    return name !== 'silent' && native.logEnabled(VALUES[name], this.#module);
  }

  /** A logger for the same module (or `options.name`) with more bound fields. */
  child(bindings: Record<string, unknown>, opts?: { name?: string; level?: LevelWithSilent }): Logger {
    if (bindings === null || typeof bindings !== 'object' || Array.isArray(bindings)) {
      throw invalidArgument(`child() takes an object of fields, got ${describe(bindings)}`);
    }
    const o = options<{ name?: string; level?: LevelWithSilent }>(opts, 'child()', CHILD_KEYS);
    const child = new Logger(o.name ?? this.#module, { ...this.#bindings, ...bindings });
    if (o.level !== undefined) child.level = o.level;
    return child;
  }

  /** The fields bound to every record. */
  bindings(): Record<string, unknown> {
    return { ...this.#bindings };
  }

  setBindings(bindings: Record<string, unknown>): void {
    if (this.#bindings === EMPTY) this.#bindings = {};
    Object.assign(this.#bindings, bindings);
  }

  /** Records are written as they are made: nothing waits. */
  flush(cb?: (err?: Error) => void): void {
    cb?.();
  }

  trace: LogFn = (a: unknown, ...rest: unknown[]) => this.#write(10, a, rest);
  debug: LogFn = (a: unknown, ...rest: unknown[]) => this.#write(20, a, rest);
  info: LogFn = (a: unknown, ...rest: unknown[]) => this.#write(30, a, rest);
  warn: LogFn = (a: unknown, ...rest: unknown[]) => this.#write(40, a, rest);
  error: LogFn = (a: unknown, ...rest: unknown[]) => this.#write(50, a, rest);
  fatal: LogFn = (a: unknown, ...rest: unknown[]) => this.#write(60, a, rest);
  silent: LogFn = () => {};

  #write(level: number, a: unknown, rest: unknown[]): void {
    if (this.#generation !== generation) {
      this.#threshold = native.logThreshold(this.#module);
      this.#generation = generation;
    }
    if (level < this.#threshold) return;
    let fields: Record<string, unknown> = this.#bindings;
    let msg: string;
    if (typeof a === 'object' && a !== null) {
      const [m, ...args] = rest;
      if (a instanceof Error) {
        fields = { ...fields, err: serializeError(a) };
        msg = m === undefined ? a.message : format(String(m), ...args);
      } else {
        fields = { ...fields, ...(a as Record<string, unknown>) };
        msg = m === undefined ? '' : format(String(m), ...args);
      }
    } else {
      msg = rest.length === 0 ? String(a) : format(String(a), ...rest);
    }
    const call = currentCall();
    const trace = currentTrace();
    const json = fields === EMPTY || Object.keys(fields).length === 0 ? null : toJson(fields);
    nativeCall(() => native.logWrite(level, this.#module, msg, json, call?.service ?? null, call?.method ?? null, trace?.traceparent ?? null));
  }
}

/** A logger for `options.name` (pino's `pino(options)`); `level` sets that module's level. */
export function createLogger(opts?: LoggerOptions): Logger {
  const o = options<LoggerOptions>(opts, 'createLogger()', LOGGER_KEYS);
  if (o.name !== undefined && typeof o.name !== 'string') throw invalidArgument(`createLogger({ name }) is a string, got ${describe(o.name)}`);
  const l = new Logger(o.name ?? '', o.base ?? {});
  if (o.level !== undefined) l.level = o.level;
  return l;
}

/** The application's root logger (module `''`). */
export const logger: Logger = new Logger();

/** Replaces the process's log filter: `info,orders=debug` (E001 naming a bad item; nothing changes then). */
export function setLogFilter(filter: string): void {
  if (typeof filter !== 'string') throw invalidArgument(`setLogFilter() takes a filter string, got ${describe(filter)}`);
  nativeCall(() => native.logSetFilter(filter));
  filterChanged();
}

/**
 * Sets one module's level (`''`: the default), keeping the rest of the filter: Python's
 * `log.set_level`, C's `omnitron_log_set_level`. E001 for a level or module name it cannot take.
 */
export function setLogLevel(module: string, level: LevelWithSilent): void {
  if (typeof module !== 'string') throw invalidArgument(`setLogLevel() takes a module name, got ${describe(module)}`);
  const name = levelName(level, 'setLogLevel()');
  nativeCall(() => native.logSetLevel(module, name));
  filterChanged();
}

/** The filter in force, as `setLogFilter()` reads it. */
export function logFilter(): string {
  return native.logFilter();
}

/**
 * Injects a `Logger` for the class (spec 2.4: `@InjectLogger() private logger: Logger`), its
 * module the given name or the class's. One per instance, made on first use.
 */
export function InjectLogger(module?: string): (target: object, key: string | symbol) => void {
  if (module !== undefined && typeof module !== 'string') throw invalidArgument(`@InjectLogger() takes a module name, got ${describe(module)}`);
  return (target, key) => {
    const name = module ?? (typeof target === 'function' ? target.name : target.constructor?.name) ?? '';
    Object.defineProperty(target, key, {
      configurable: true,
      get(this: object) {
        const l = new Logger(name);
        Object.defineProperty(this, key, { value: l, configurable: true, writable: true });
        return l;
      },
      set(this: object, v: unknown) {
        Object.defineProperty(this, key, { value: v, configurable: true, writable: true });
      },
    });
  };
}
