// What a child runs: a command (any language), or a `@Service` class run by the Node worker entry
// point. Turned into the engine's child spec here; the engine does the rest.

import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { checkKeys, OptionKeys, rawOptions, type RawOption } from '../util.js';

type Ctor = abstract new (...args: any[]) => object;

/** How a parent checks that a child still answers (ms). */
export interface HealthCheckOptions {
  /** Time between pings (default 5,000). */
  interval?: number;
  /** How long a ping may take (default 2,000). */
  timeout?: number;
  /** Missed pings in a row after which the child is killed and treated as crashed (default 3). */
  maxMissed?: number;
}

/** The keys of `HealthCheckOptions` (anything else is refused with E001). */
export const HEALTH_CHECK_KEYS = new OptionKeys(['interval', 'timeout', 'maxMissed']);

/** What a pool's workers or a supervised child run, and how. */
export interface ChildProgram {
  /** A program: `'/usr/bin/python3'`, or `[program, ...args]`. Any language that reports ready. */
  command?: string | readonly string[];
  /** More arguments for `command`. */
  args?: readonly string[];
  /** A `@Service` class, run in a Node worker (`omnitron-node-worker module Export`). */
  service?: Ctor;
  /** The file that exports `service` (default: found among the modules loaded with `require`). */
  module?: string;
  /** The name it is exported under (default: found in `module`, else the class name). */
  exportName?: string;
  /** Node options for the worker (`['--max-old-space-size=512']`). */
  execArgv?: readonly string[];
  /** The service tasks go to, `name@version` (default: `service`'s, else the first one the worker registers). */
  target?: string;
  /** Extra environment variables (the parent's are inherited). */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** How long a child has to connect and report ready, ms (default 10,000). */
  readyTimeout?: number;
  /** How long a stop waits after SIGTERM before SIGKILL, ms (default 5,000). */
  shutdownTimeout?: number;
  /** Health pings (default: none). */
  healthCheck?: HealthCheckOptions;
}

/** The keys of `ChildProgram`, for the options that extend it (`@Child`, `Pool.start`) to check theirs against. */
export const CHILD_PROGRAM_KEYS: readonly string[] = [
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
];

/** The engine's child spec (as the addon takes it). */
export interface NativeChildSpec {
  name: string;
  program: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** `readyTimeout`, `shutdownTimeout` as the user wrote them (the engine checks them). */
  options: RawOption[];
  /** The health check's `interval`, `timeout`, `maxMissed`, as written. */
  health?: RawOption[];
}

const SERVICE = Symbol.for('omnitron.rpc.service');

/** The `name@version` of a `@Service` class, if it is one. */
export function serviceId(cls: unknown): string | undefined {
  if (typeof cls !== 'function') return undefined;
  const meta = (cls as unknown as Record<symbol, { name: string; version: string } | undefined>)[SERVICE];
  return meta ? `${meta.name}@${meta.version}` : undefined;
}

/** The worker entry point's file. */
export const WORKER_MAIN = join(__dirname, 'worker-main.js');

/** The loaded CommonJS module exporting `cls`, and the name it is exported under. */
function findModule(cls: Function): [string, string] | undefined {
  const cache = createRequire(__filename).cache;
  for (const [file, m] of Object.entries(cache)) {
    const ex = m?.exports as unknown;
    if (ex === cls) return [file, cls.name];
    if (ex === null || typeof ex !== 'object') continue;
    try {
      for (const [k, v] of Object.entries(ex as object)) if (v === cls) return [file, k];
    } catch {
      /* a module still loading, or a throwing getter: not this one */
    }
  }
  return undefined;
}

export function optStr<T extends string = string>(o: Record<string, unknown>, key: string, what: string, allowed?: readonly T[]): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || (allowed && !allowed.includes(v as T))) {
    throw invalidArgument(`${what}: '${key}' must be ${allowed ? allowed.map((a) => `'${a}'`).join(', ') : 'a string'}, got ${describe(v)}`);
  }
  return v as T;
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalidArgument(`${what} must be an array of strings, got ${describe(v)}`);
  return [...(v as string[])];
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks a child program and turns it into the engine's spec; also the service tasks go to. */
export function childSpec(p: ChildProgram, what: string, name?: string): { spec: NativeChildSpec; target?: string } {
  if (!isObject(p)) throw invalidArgument(`${what} takes an options object, got ${describe(p)}`);
  const o = p as Record<string, unknown>;
  let program: string;
  let args: string[];
  let target = optStr(o, 'target', what);
  if (o.command !== undefined && o.service !== undefined) throw invalidArgument(`${what}: give either 'command' or 'service', not both`);
  if (o.command !== undefined) {
    if (typeof o.command === 'string' && o.command !== '') [program, args] = [o.command, []];
    else {
      const c = strings(o.command, `${what}: 'command'`);
      if (c.length === 0 || c[0] === '') throw invalidArgument(`${what}: 'command' needs a program`);
      [program, args] = [c[0], c.slice(1)];
    }
    name ??= basename(program);
  } else if (o.service !== undefined) {
    const id = serviceId(o.service);
    if (!id) throw invalidArgument(`${what}: 'service' must be a @Service class, got ${describe(o.service)}`);
    const cls = o.service as Function;
    let file = optStr(o, 'module', what);
    let exportName = optStr(o, 'exportName', what);
    if (file === undefined) {
      const found = findModule(cls);
      if (!found) {
        throw invalidArgument(
          `${what}: cannot tell which file exports '${cls.name}': give 'module' (the path of the compiled file that exports it, e.g. require.resolve('./worker'))`,
        );
      }
      file = found[0];
      exportName ??= found[1];
    }
    program = process.execPath;
    args = [...(o.execArgv === undefined ? [] : strings(o.execArgv, `${what}: 'execArgv'`)), WORKER_MAIN, resolve(file), exportName ?? cls.name];
    target ??= id;
    name ??= id.slice(0, id.indexOf('@'));
  } else {
    throw invalidArgument(`${what} needs a 'command' (any program) or a 'service' (a @Service class)`);
  }
  if (o.args !== undefined) args.push(...strings(o.args, `${what}: 'args'`));
  let env: Record<string, string> | undefined;
  if (o.env !== undefined) {
    if (!isObject(o.env) || Object.values(o.env).some((v) => typeof v !== 'string')) {
      throw invalidArgument(`${what}: 'env' must be an object of strings, got ${describe(o.env)}`);
    }
    env = { ...(o.env as Record<string, string>) };
  }
  let health: NativeChildSpec['health'];
  if (o.healthCheck !== undefined) {
    if (!isObject(o.healthCheck)) throw invalidArgument(`${what}: 'healthCheck' takes an options object, got ${describe(o.healthCheck)}`);
    const h = o.healthCheck;
    checkKeys(h, HEALTH_CHECK_KEYS, `${what} healthCheck`);
    health = rawOptions(h, ['interval', 'timeout', 'maxMissed']);
  }
  return {
    spec: {
      name: name ?? 'child',
      program,
      args,
      env,
      cwd: optStr(o, 'cwd', what),
      options: rawOptions(o, ['readyTimeout', 'shutdownTimeout']),
      health,
    },
    target,
  };
}
