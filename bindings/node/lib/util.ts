// Small helpers shared by the policy and metric layers.

import { invalidArgument } from './errors.js';
import { describe } from './di/tokens.js';

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** An options object, or a clear error naming what was passed instead. */
export function options<T extends object>(v: unknown, what: string): T {
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw invalidArgument(`${what} takes an options object, got ${describe(v)}`);
  }
  return v as T;
}

/** A finite number, or undefined; anything else is a clear error. */
export function num(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArgument(`${what} must be a finite number, got ${describe(v)}`);
  return v;
}

export function str(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(v)}`);
  return v;
}

export function fn<F extends Function>(v: unknown, what: string): F | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw invalidArgument(`${what} must be a function, got ${describe(v)}`);
  return v as F;
}

/** A method decorator's descriptor, checked. */
export function methodOf(descriptor: PropertyDescriptor | undefined, decorator: string, key: string | symbol): Function {
  if (!descriptor || typeof descriptor.value !== 'function') {
    throw invalidArgument(`@${decorator}() decorates methods; '${String(key)}' is not a method`);
  }
  return descriptor.value as Function;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
