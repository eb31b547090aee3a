// Small helpers shared by the policy and metric layers.

import { fromInfo, invalidArgument } from './errors.js';
import { describe } from './di/tokens.js';
import { native } from './native.js';

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * An options object, or a clear error naming what was passed instead. With `allowed`, a key that is
 * not one of them is refused too (E001, naming the nearest valid key: see `checkKeys`).
 */
export function options<T extends object>(v: unknown, what: string, allowed?: OptionKeys): T {
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw invalidArgument(`${what} takes an options object, got ${describe(v)}`);
  }
  if (allowed !== undefined) checkKeys(v, allowed, what);
  return v as T;
}

/** The keys an options object may have (made once per kind of options, next to its interface). */
export class OptionKeys {
  readonly #set: ReadonlySet<string>;
  constructor(readonly keys: readonly string[]) {
    this.#set = new Set(keys);
  }
  has(key: string): boolean {
    return this.#set.has(key);
  }
}

/**
 * Refuses a key of `v` that is not in `allowed` with E001, naming it, the nearest valid key and the
 * valid ones (the message is the engine's). Cheap when every key is known: a set lookup per key.
 */
export function checkKeys(v: object, allowed: OptionKeys, what: string): void {
  for (const k of Object.keys(v)) {
    if (!allowed.has(k)) throw fromInfo(native.unknownOption(what, k, [...allowed.keys]));
  }
}

/** One option as the user gave it, for the engine to check (see `rawOptions`). */
export interface RawOption {
  key: string;
  number?: number;
  text?: string;
  flag?: boolean;
  other?: string;
  list?: RawOption[];
  map?: RawOption[];
}

/**
 * The options `keys` of `o` as the user gave them, for the engine to check: it refuses a wrong one
 * in the user's own words (the key as written here, durations in milliseconds). Unset keys are
 * left out; `null` is kept (the engine reads it as "none").
 */
export function rawOptions(o: object, keys: readonly string[]): RawOption[] {
  const out: RawOption[] = [];
  for (const key of keys) {
    const v = (o as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (typeof v === 'number') out.push({ key, number: v });
    else if (typeof v === 'string') out.push({ key, text: v });
    else if (typeof v === 'boolean') out.push({ key, flag: v });
    else if (v === null) out.push({ key });
    else out.push({ key, other: describe(v) });
  }
  return out;
}

/** One value for the engine to check: plain objects and arrays are kept as nested options. */
function rawValue(key: string, v: unknown, depth: number): RawOption {
  if (typeof v === 'number') return { key, number: v };
  if (typeof v === 'string') return { key, text: v };
  if (typeof v === 'boolean') return { key, flag: v };
  if (v === null || v === undefined) return { key };
  if (depth < 32 && Array.isArray(v)) return { key, list: v.map((x) => rawValue('', x, depth + 1)) };
  if (depth < 32 && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return { key, map: rawTree(v, depth + 1) };
  return { key, other: describe(v) };
}

/**
 * Every key of `o` as the user gave it, nested objects and arrays included, for the engine to
 * check (unknown keys and wrong types are refused there, in the user's words). Unset keys are left
 * out.
 */
export function rawTree(o: object, depth = 0): RawOption[] {
  const out: RawOption[] = [];
  for (const [key, v] of Object.entries(o)) if (v !== undefined) out.push(rawValue(key, v, depth));
  return out;
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
