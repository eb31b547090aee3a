// Health checks (spec 7.2): `@HealthIndicator()` classes among an application's providers, whose
// `@HealthCheck('database')` methods answer `{ status: 'up' | 'down', message?, details? }`. Core
// serves them at /health (every check's detail) and /health/ready (down while one is down), each
// check with its own timeout.

import { invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { OptionKeys, checkKeys } from '../util.js';

/** What a health check answers. */
export interface HealthCheckResult {
  status: 'up' | 'down';
  message?: string;
  details?: unknown;
}

const CHECK_KEYS = new OptionKeys(['timeout']);

const INDICATOR = Symbol('omnitron:health:indicator');
const CHECKS = Symbol('omnitron:health:checks');

interface CheckDecl {
  name: string;
  key: string | symbol;
  timeout?: number;
}

/** Marks a class whose `@HealthCheck` methods the application serves (list it among providers). */
export function HealthIndicator(): ClassDecorator {
  return (target) => {
    Object.defineProperty(target, INDICATOR, { value: true, enumerable: false });
  };
}

/**
 * `@HealthCheck('database')`: a method answering a `HealthCheckResult` (or a promise of one);
 * `timeout` in ms (default: the app's `healthTimeout`).
 */
export function HealthCheck(name: string, options?: { timeout?: number }): MethodDecorator {
  if (typeof name !== 'string' || name === '') throw invalidArgument(`@HealthCheck() takes the check's name, such as 'database', got ${describe(name)}`);
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') throw invalidArgument(`@HealthCheck() takes options ({ timeout }), got ${describe(options)}`);
    checkKeys(options, CHECK_KEYS, '@HealthCheck()');
  }
  return (target, key) => {
    const cls = (target as { constructor: Function }).constructor;
    if (!Object.prototype.hasOwnProperty.call(cls, CHECKS)) Object.defineProperty(cls, CHECKS, { value: [], enumerable: false });
    (cls as any)[CHECKS].push({ name, key, timeout: options?.timeout });
  };
}

/** Whether `cls` is a `@HealthIndicator()` class. */
export function isHealthIndicator(cls: unknown): cls is Function {
  return typeof cls === 'function' && Object.prototype.hasOwnProperty.call(cls, INDICATOR);
}

/** The checks of an indicator class (its parents' too). */
export function checksOf(cls: Function): CheckDecl[] {
  const out: CheckDecl[] = [];
  for (let c: any = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (Object.prototype.hasOwnProperty.call(c, CHECKS)) out.push(...(c[CHECKS] as CheckDecl[]));
  }
  return out;
}

/** A check's answer in core's terms: up, a message, details as JSON text. Anything malformed is down. */
export function reportOf(v: unknown): { up: boolean; message?: string; details?: string } {
  if (v === null || typeof v !== 'object') return { up: false, message: `the check answered ${describe(v)}, not { status: 'up' | 'down' }` };
  const r = v as HealthCheckResult;
  if (r.status !== 'up' && r.status !== 'down') return { up: false, message: `the check answered status ${describe(r.status)}, not 'up' or 'down'` };
  let details: string | undefined;
  if (r.details !== undefined) {
    try {
      details = JSON.stringify(r.details);
    } catch {
      details = undefined;
    }
  }
  return { up: r.status === 'up', message: typeof r.message === 'string' ? r.message : undefined, details };
}
