import { native } from '../native.js';
import { invalidArgument } from '../errors.js';

/** A class, as a token and as a provider. */
export type Constructor<T = any> = new (...args: any[]) => T;
/** An abstract class, usable as a token. */
export type AbstractConstructor<T = any> = abstract new (...args: any[]) => T;

/**
 * A named token. Two tokens created with the same name are two different tokens: the name only
 * appears in messages and graphs. (Strings and symbols can be tokens too; a string is its own
 * identity, so the same string is the same token everywhere.)
 */
export class Token<T = unknown> {
  /** The engine's key for this token. */
  readonly key: number;
  /** The name, for messages. */
  readonly name: string;
  /** Phantom field carrying the type. */
  declare readonly __type?: T;

  constructor(name: string) {
    if (typeof name !== 'string' || name.trim() === '') {
      throw invalidArgument(`a token needs a non-empty name, got ${describe(name)}`);
    }
    this.key = native.freshTokenKey();
    this.name = name;
  }

  toString(): string {
    return `Token(${this.name})`;
  }
}

/** Creates a token for values of type `T`. */
export function createToken<T>(name: string): Token<T> {
  return new Token<T>(name);
}

/**
 * The built-in token whose value is the context a scope was created with
 * (`container.createScope(context)`). Outside any scope it is the container's own context. The
 * string `'CONTEXT'` means the same token.
 */
export const CONTEXT: Token<any> = Object.freeze(
  Object.assign(Object.create(Token.prototype) as Token<any>, { key: native.contextTokenKey(), name: 'CONTEXT' }),
);

/** Anything that can name a dependency. */
export type InjectionToken<T = any> = Token<T> | Constructor<T> | AbstractConstructor<T> | string | symbol;

const classKeys = new WeakMap<Function, number>();
const valueKeys = new Map<string | symbol, number>([['CONTEXT', CONTEXT.key]]);

/** The engine key of a token, allocating one for a class, string or symbol seen for the first time. */
export function tokenKey(token: unknown): number {
  if (token instanceof Token) return token.key;
  if (typeof token === 'function') {
    let k = classKeys.get(token);
    if (k === undefined) {
      k = native.freshTokenKey();
      classKeys.set(token, k);
    }
    return k;
  }
  if ((typeof token === 'string' && token.trim() !== '') || typeof token === 'symbol') {
    let k = valueKeys.get(token);
    if (k === undefined) {
      k = native.freshTokenKey();
      valueKeys.set(token, k);
    }
    return k;
  }
  throw invalidArgument(
    `invalid injection token ${describe(token)}: use a class, a token from createToken(name), a non-empty string or a symbol`,
  );
}

/** The name of a token, for messages. */
export function tokenName(token: unknown): string {
  if (token instanceof Token) return token.name;
  if (typeof token === 'function') return token.name || '<anonymous class>';
  if (typeof token === 'string') return token;
  if (typeof token === 'symbol') return token.description ?? token.toString();
  return describe(token);
}

/** A short description of any value, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return `function ${v.name || '<anonymous>'}`;
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : `an object (${Object.prototype.toString.call(v)})`;
  return `${typeof v} ${String(v)}`;
}
