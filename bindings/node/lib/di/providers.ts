// Turning what users write (classes, `{ provide, useFactory, ... }` objects) into the engine's
// provider specs, plus what only JavaScript can hold: the class, the function, the value.

import type { JsDependency, JsProviderSpec } from '../../native.js';
import { invalidArgument, invalidProvider } from '../errors.js';
import { OptionKeys, checkKeys } from '../util.js';
import { classMetadata, paramTypes, propertyType, type InjectionPoint } from './decorators.js';
import { scopeOf, type ScopeName } from './scope.js';
import { describe, tokenKey, tokenName, type Constructor, type InjectionToken } from './tokens.js';

/** A factory's `inject` entry: a token, or a token with options. */
export type InjectEntry = InjectionToken | { token: InjectionToken; optional?: boolean; all?: boolean };

export interface ClassProvider<T = any> {
  useClass: Constructor<T>;
  /** Overrides what the class's decorators say to inject. */
  inject?: InjectEntry[];
  scope?: ScopeName;
}
export interface ValueProvider<T = any> {
  useValue: T;
}
export interface FactoryProvider<T = any> {
  useFactory: (...args: any[]) => T | Promise<T>;
  inject?: InjectEntry[];
  scope?: ScopeName;
  /** The factory returns a promise (detected for `async function`s). */
  async?: boolean;
}
export interface AliasProvider<T = any> {
  useExisting?: InjectionToken<T>;
  useToken?: InjectionToken<T>;
}

export type Provider<T = any> = ClassProvider<T> | ValueProvider<T> | FactoryProvider<T> | AliasProvider<T>;

export interface RegisterOptions {
  scope?: ScopeName;
  /** One of several providers of a multi token (see `resolveAll`). */
  multi?: boolean;
  /** Replace an existing provider of the token instead of failing. */
  override?: boolean;
}

/** The keys of `register(token, provider, options)`'s options. */
export const REGISTER_KEYS = new OptionKeys(['scope', 'multi', 'override']);
const KINDS = ['useClass', 'useValue', 'useFactory', 'useExisting', 'useToken'] as const;
/** The keys of a provider object given to `register(token, provider)`. */
export const PROVIDER_KEYS = new OptionKeys([...KINDS, 'inject', 'scope', 'async', 'multi', 'override']);
/** The keys of a provider object in a module's `providers` (`{ provide, ... }`). */
export const MODULE_PROVIDER_KEYS = new OptionKeys(['provide', ...PROVIDER_KEYS.keys]);
const INJECT_ENTRY_KEYS = new OptionKeys(['token', 'optional', 'all']);

/** `multi` / `override`: a boolean or absent. */
function flag(o: Record<string, unknown>, key: 'multi' | 'override', where: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalidArgument(`${where}: ${key} must be a boolean, got ${describe(v)}`);
  return v;
}

/** Checks `register`'s options (unknown keys, types) and gives them with a checked scope. */
export function registerOptions(options: unknown, where: string): RegisterOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`${where} must be an object, got ${describe(options)}`);
  }
  checkKeys(options, REGISTER_KEYS, where);
  const o = options as Record<string, unknown>;
  return { scope: scopeOf(o, where), multi: flag(o, 'multi', where), override: flag(o, 'override', where) };
}

/** What can appear in a module's `providers` list. */
export type ProviderInput = Constructor | ({ provide: InjectionToken } & Provider & RegisterOptions);

/** One provider as the container keeps it. */
export interface Entry {
  token: InjectionToken;
  spec: JsProviderSpec;
  /** 0 class, 1 value, 2 factory, 3 alias. */
  kind: number;
  make: any;
  /** For classes: how many of `spec.deps` are constructor arguments; the rest are properties. */
  ctorArity: number;
  props: (string | symbol)[];
}

const KIND_CLASS = 0;
const KIND_VALUE = 1;
const KIND_FACTORY = 2;
const KIND_ALIAS = 3;

function dependency(p: InjectionPoint & { token: InjectionToken }): JsDependency {
  return { token: tokenKey(p.token), name: tokenName(p.token), optional: !!p.optional, all: !!p.all };
}

function injectEntry(e: unknown, owner: string, i: number): JsDependency {
  if (Array.isArray(e)) {
    throw invalidProvider(
      `inject[${i}] of '${owner}' is an array; write { token: ${tokenName(e[0])}, optional: true } for an optional dependency`,
    );
  }
  if (e !== null && typeof e === 'object' && 'token' in (e as object)) {
    checkKeys(e as object, INJECT_ENTRY_KEYS, `inject[${i}] of '${owner}'`);
    const o = e as { token: InjectionToken; optional?: boolean; all?: boolean };
    return dependency(o);
  }
  return dependency({ token: e as InjectionToken });
}

function isAsyncFunction(f: unknown): boolean {
  return typeof f === 'function' && f.constructor?.name === 'AsyncFunction';
}

function initKind(proto: any): string {
  const f = proto?.onInit; // found on the prototype chain, so inherited hooks count
  if (typeof f !== 'function') return 'none';
  return isAsyncFunction(f) ? 'async' : 'sync';
}

/** The nearest class in the prototype chain (the class itself first) that declares constructor
 * parameters: its own parameter types or `@Inject` metadata. A subclass without a constructor of its
 * own takes its parent's. */
function declaringClass(cls: Constructor): Constructor {
  for (let c: any = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (paramTypes(c) !== undefined || (classMetadata(c)?.params.size ?? 0) > 0 || c.length > 0) return c;
    if (c !== cls && classMetadata(c)?.injectable) return c;
  }
  return cls;
}

/** Property injections of the class and its ancestors (ancestors first). */
function propertyPoints(cls: Constructor): [string | symbol, InjectionPoint, Constructor][] {
  const chain: Constructor[] = [];
  for (let c: any = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) chain.unshift(c);
  const out = new Map<string | symbol, [InjectionPoint, Constructor]>();
  for (const c of chain) for (const [key, p] of classMetadata(c)?.props ?? []) out.set(key, [p, c]);
  return [...out].map(([key, [p, c]]) => [key, p, c]);
}

/** What a class needs injected, from explicit `inject`, `@Inject`/`@Optional`, or parameter types. */
function classDeps(cls: Constructor, explicit: InjectEntry[] | undefined): { deps: JsDependency[]; ctorArity: number; props: (string | symbol)[] } {
  const owner = cls.name || '<anonymous class>';
  let ctor: JsDependency[];
  if (explicit !== undefined) {
    if (!Array.isArray(explicit)) throw invalidProvider(`inject of '${owner}' must be an array, got ${describe(explicit)}`);
    ctor = explicit.map((e, i) => injectEntry(e, owner, i));
  } else {
    const decl = declaringClass(cls);
    const meta = classMetadata(decl);
    const types = paramTypes(decl);
    const declared = meta ? Math.max(-1, ...meta.params.keys()) + 1 : 0;
    const count = Math.max(types?.length ?? 0, declared, types === undefined ? decl.length : 0);
    if (count > 0 && types === undefined && declared === 0 && !classMetadata(cls)?.injectable && !meta?.injectable) {
      // Parameters, and nothing that says what they are: no decorator, so no recorded types.
      throw invalidProvider(
        `class '${owner}' takes ${count} constructor parameter${count === 1 ? '' : 's'} but has no injection metadata: ` +
          `decorate it with @Injectable() (compiled by tsc with "emitDecoratorMetadata") so its parameter types are recorded, ` +
          `mark each parameter with @Inject(token), or register it with an explicit inject list. ` +
          `(A class whose constructor takes no parameters needs no decorator.)`,
      );
    }
    ctor = [];
    for (let i = 0; i < count; i++) {
      const p = meta?.params.get(i) ?? {};
      const token = p.token ?? (types?.[i] as InjectionToken | undefined);
      if (token === undefined || token === Object || isPrimitiveType(token)) {
        throw invalidProvider(
          types === undefined
            ? `cannot tell what to inject for parameter ${i} of '${owner}': compile with "emitDecoratorMetadata" (tsc) or mark the parameter with @Inject(token)`
            : `cannot tell what to inject for parameter ${i} of '${owner}' (its type is ${token === undefined ? 'unknown' : tokenName(token)}): mark it with @Inject(token)`,
        );
      }
      ctor.push(dependency({ ...p, token }));
    }
  }
  const props: (string | symbol)[] = [];
  const propDeps: JsDependency[] = [];
  for (const [key, p, declaredOn] of propertyPoints(cls)) {
    const token = p.token ?? (propertyType(declaredOn, key) as InjectionToken | undefined);
    if (token === undefined || token === Object || isPrimitiveType(token)) {
      throw invalidProvider(`cannot tell what to inject into property '${String(key)}' of '${owner}': use @Inject(token)`);
    }
    props.push(key);
    propDeps.push(dependency({ ...p, token }));
  }
  return { deps: [...ctor, ...propDeps], ctorArity: ctor.length, props };
}

function isPrimitiveType(t: unknown): boolean {
  return t === String || t === Number || t === Boolean || t === Symbol || t === BigInt || t === Array || t === Function;
}

function isClass(f: unknown): f is Constructor {
  return typeof f === 'function' && typeof f.prototype === 'object' && f.prototype !== null;
}

function baseSpec(token: InjectionToken, kind: string, options: RegisterOptions): JsProviderSpec {
  return {
    token: tokenKey(token),
    name: tokenName(token),
    kind,
    scope: options.scope,
    deps: [],
    isAsync: false,
    init: 'none',
    multi: !!options.multi,
    replace: !!options.override,
  };
}

/** A class registered as its own token (`register(UserService)` or in `providers: [UserService]`). */
export function classEntry(cls: unknown, options: RegisterOptions = {}): Entry {
  if (!isClass(cls)) {
    throw invalidProvider(`expected a class (an @Injectable() class, or one whose constructor takes no parameters), got ${describe(cls)}`);
  }
  return useClassEntry(cls, { useClass: cls }, options);
}

function useClassEntry(token: InjectionToken, p: ClassProvider, options: RegisterOptions): Entry {
  const cls = p.useClass;
  if (!isClass(cls)) {
    throw invalidProvider(`useClass of '${tokenName(token)}' must be a class, got ${describe(cls)}`);
  }
  const meta = classMetadata(cls);
  const { deps, ctorArity, props } = classDeps(cls, p.inject);
  const spec = baseSpec(token, 'class', { ...options, scope: p.scope ?? options.scope ?? meta?.injectable?.scope });
  spec.deps = deps;
  spec.init = initKind(cls.prototype);
  spec.label = cls.name;
  return { token, spec, kind: KIND_CLASS, make: cls, ctorArity, props };
}

/**
 * `register(token, provider, options)`. `keys` are the keys the provider object may have (`where`
 * names it in messages); `multi`, `override` and `scope` may be given in it or in `options`.
 */
export function providerEntry(
  token: InjectionToken,
  provider: unknown,
  options: RegisterOptions = {},
  keys: OptionKeys = PROVIDER_KEYS,
  where = `the provider of '${tokenName(token)}'`,
): Entry {
  tokenKey(token); // validates the token
  if (provider === null || typeof provider !== 'object' || Array.isArray(provider)) {
    throw invalidProvider(
      `the provider of '${tokenName(token)}' must be an object with useClass, useValue, useFactory or useExisting, got ${describe(provider)}`,
    );
  }
  checkKeys(provider, keys, where);
  const p = provider as Record<string, unknown>;
  const given = KINDS.filter((k) => k in p);
  if (given.length !== 1) {
    throw invalidProvider(
      given.length === 0
        ? `the provider of '${tokenName(token)}' has none of useClass, useValue, useFactory, useExisting or useToken`
        : `the provider of '${tokenName(token)}' has ${given.join(' and ')}: give exactly one`,
    );
  }
  options = {
    scope: scopeOf(p, where) ?? options.scope,
    multi: flag(p, 'multi', where) ?? options.multi,
    override: flag(p, 'override', where) ?? options.override,
  };
  if ('useValue' in p) {
    const spec = baseSpec(token, 'value', options);
    return { token, spec, kind: KIND_VALUE, make: p.useValue, ctorArity: 0, props: [] };
  }
  if ('useClass' in p) {
    return useClassEntry(token, { useClass: p.useClass as Constructor, inject: p.inject as InjectEntry[] | undefined }, options);
  }
  if ('useFactory' in p) {
    const f = p.useFactory;
    if (typeof f !== 'function') {
      throw invalidProvider(`useFactory of '${tokenName(token)}' must be a function, got ${describe(f)}`);
    }
    const inject = p.inject as InjectEntry[] | undefined;
    if (inject !== undefined && !Array.isArray(inject)) {
      throw invalidProvider(`inject of '${tokenName(token)}' must be an array, got ${describe(inject)}`);
    }
    const spec = baseSpec(token, 'factory', options);
    spec.deps = (inject ?? []).map((e, i) => injectEntry(e, tokenName(token), i));
    spec.isAsync = p.async === true || isAsyncFunction(f);
    spec.label = (f as Function).name || 'useFactory';
    return { token, spec, kind: KIND_FACTORY, make: f, ctorArity: spec.deps.length, props: [] };
  }
  if ('useExisting' in p || 'useToken' in p) {
    const target = (p.useExisting ?? p.useToken) as InjectionToken;
    const spec = baseSpec(token, 'alias', options);
    spec.target = tokenKey(target);
    spec.targetName = tokenName(target);
    return { token, spec, kind: KIND_ALIAS, make: target, ctorArity: 0, props: [] };
  }
  throw new Error('internal: no provider kind');
}

/** One entry of a module's `providers` list. */
export function moduleProviderEntry(input: unknown, moduleName: string): Entry {
  if (typeof input === 'function') return classEntry(input);
  if (input !== null && typeof input === 'object' && 'provide' in input) {
    const { provide, ...rest } = input as { provide: InjectionToken } & Record<string, unknown>;
    checkKeys(input, MODULE_PROVIDER_KEYS, `a provider of module '${moduleName}'`);
    return providerEntry(provide, rest, {}, PROVIDER_KEYS, `the provider of '${tokenName(provide)}' in module '${moduleName}'`);
  }
  throw invalidProvider(
    `module '${moduleName}' lists ${describe(input)} as a provider: expected a class or { provide, useClass | useValue | useFactory | useExisting }`,
  );
}
