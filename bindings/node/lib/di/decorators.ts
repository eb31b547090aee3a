// The DI decorators of the spec. They only record metadata on classes; the engine reads it when
// a class is registered (see providers.ts), and decides everything else.

import { call, invalidArgument } from '../errors.js';
import { native } from '../native.js';
import { installReflectMetadata } from '../reflect.js';
import { OptionKeys, checkKeys } from '../util.js';
import type { ProviderInput } from './providers.js';
import { scopeOf, type ScopeName } from './scope.js';
import { describe, type InjectionToken } from './tokens.js';

export type { ScopeName } from './scope.js';

export interface InjectableOptions {
  /** Lifetime of instances (`Scope.Singleton`, `Scope.Transient`, `Scope.Scoped`); default singleton. */
  scope?: ScopeName;
}
const INJECTABLE_KEYS = new OptionKeys(['scope']);

/** What a constructor parameter or property asks for. */
export interface InjectionPoint {
  token?: InjectionToken;
  optional?: boolean;
  all?: boolean;
}

export interface ClassMetadata {
  injectable?: InjectableOptions;
  params: Map<number, InjectionPoint>;
  props: Map<string | symbol, InjectionPoint>;
}

export interface ModuleMetadata {
  /** Name for messages; defaults to the class name. */
  name?: string;
  imports?: ModuleRef[];
  providers?: ProviderInput[];
  /**
   * Classes registered as providers of the module (built, injected and initialized like them), as
   * the spec's feature modules declare their controllers.
   */
  controllers?: Function[];
  /** Tokens (or imported modules) visible to importers. Omitted: every provider of the module. */
  exports?: (InjectionToken | ModuleRef)[];
  /** Visible to every module without an import. */
  global?: boolean;
  /**
   * Where the module is meant to run. Checked and recorded, not acted upon yet: the module runs in
   * the process that loads it (see docs/DI.md).
   */
  process?: ModuleProcess;
}

/** A module's `process` declaration (spec 2.3). */
export interface ModuleProcess {
  type?: 'main' | 'gateway' | 'service' | 'worker' | 'scheduler' | 'queue';
  /** A whole number of at least 1, or `'auto'`. */
  instances?: number | 'auto';
  isolation?: 'thread' | 'process';
}

/** The keys of `@Module({...})`. */
export const MODULE_KEYS = new OptionKeys(['name', 'imports', 'providers', 'controllers', 'exports', 'global', 'process']);
/** The keys of a dynamic module (what `forRoot(...)` returns). */
export const DYNAMIC_MODULE_KEYS = new OptionKeys(['module', ...MODULE_KEYS.keys]);
const PROCESS_KEYS = new OptionKeys(['type', 'instances', 'isolation']);

/** What `@Module` classes' static `forRoot(...)` methods return. */
export interface DynamicModule extends ModuleMetadata {
  module: Function;
}

/**
 * Checks a module's `process` (unknown keys and wrong types: E001; values: DI013, by the engine) and
 * gives it in the engine's form.
 */
export function moduleProcess(p: unknown, moduleName: string): { kind?: string; instances?: string; isolation?: string } | undefined {
  if (p === undefined) return undefined;
  const where = `process of module '${moduleName}'`;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw invalidArgument(`${where} must be an object, got ${describe(p)}`);
  checkKeys(p, PROCESS_KEYS, where);
  const o = p as Record<string, unknown>;
  const text = (key: string, allowNumber: boolean): string | undefined => {
    const v = o[key];
    if (v === undefined && !(key in o)) return undefined;
    if (typeof v === 'string') return v;
    if (allowNumber && typeof v === 'number') return String(v);
    throw invalidArgument(`${where}: ${key} must be ${allowNumber ? "a number or 'auto'" : 'a string'}, got ${describe(v)}`);
  };
  const out = { kind: text('type', false), instances: text('instances', true), isolation: text('isolation', false) };
  call(() => native.checkModuleProcess(moduleName, out));
  return out;
}

/** A module: a class decorated with `@Module`, or a dynamic module object. */
export type ModuleRef = Function | DynamicModule;

const CLASS_META = Symbol('omnitron:class');
const MODULE_META = Symbol('omnitron:module');

// `emitDecoratorMetadata` output calls `Reflect.metadata(...)`: without a polyfill, install one.
installReflectMetadata();

/** Own metadata of a class (not inherited from a parent class). */
export function classMetadata(target: Function): ClassMetadata | undefined {
  return Object.prototype.hasOwnProperty.call(target, CLASS_META)
    ? ((target as any)[CLASS_META] as ClassMetadata)
    : undefined;
}

function ensureClassMetadata(target: Function): ClassMetadata {
  let m = classMetadata(target);
  if (!m) {
    m = { params: new Map(), props: new Map() };
    Object.defineProperty(target, CLASS_META, { value: m, enumerable: false });
  }
  return m;
}

export function moduleMetadata(target: unknown): ModuleMetadata | undefined {
  return typeof target === 'function' && Object.prototype.hasOwnProperty.call(target, MODULE_META)
    ? ((target as any)[MODULE_META] as ModuleMetadata)
    : undefined;
}

/**
 * Marks a class as a provider. A class whose constructor takes no parameters needs no decorator;
 * one whose constructor takes some needs this (or `@Inject` on each parameter, or an explicit
 * `inject` list) so that its parameter types are recorded.
 */
export function Injectable(options: InjectableOptions = {}): ClassDecorator {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`@Injectable() takes an options object, got ${describe(options)}`);
  }
  checkKeys(options, INJECTABLE_KEYS, '@Injectable()');
  const scope = scopeOf(options, '@Injectable()');
  return (target: Function) => {
    ensureClassMetadata(target).injectable = scope === undefined ? {} : { scope };
  };
}

/** `@Injectable({ scope: Scope.Singleton })`. */
export const Singleton = (): ClassDecorator => Injectable({ scope: 'singleton' });
/** `@Injectable({ scope: 'transient' })`. */
export const Transient = (): ClassDecorator => Injectable({ scope: 'transient' });
/** `@Injectable({ scope: 'scoped' })`. */
export const Scoped = (): ClassDecorator => Injectable({ scope: 'scoped' });

type ParamOrPropertyDecorator = (target: object, key: string | symbol | undefined, index?: number) => void;

function point(update: (p: InjectionPoint) => void): ParamOrPropertyDecorator {
  return (target: object, key: string | symbol | undefined, index?: number) => {
    if (typeof index === 'number') {
      if (key !== undefined) {
        throw invalidArgument('Omnitron injects constructor parameters and properties, not method parameters');
      }
      // A constructor parameter: `target` is the class.
      const m = ensureClassMetadata(target as Function);
      const p = m.params.get(index) ?? {};
      update(p);
      m.params.set(index, p);
    } else if (key !== undefined) {
      // A property: `target` is the prototype.
      const m = ensureClassMetadata((target as { constructor: Function }).constructor);
      const p = m.props.get(key) ?? {};
      update(p);
      m.props.set(key, p);
    }
  };
}

/** Injects `token` into a constructor parameter or a property. */
export function Inject(token: InjectionToken): ParamOrPropertyDecorator {
  if (token === undefined || token === null) {
    throw invalidArgument(
      '@Inject() was given undefined: the token is not defined yet (a circular import between files?) or was misspelled',
    );
  }
  return point((p) => {
    p.token = token;
  });
}

/** The dependency may be missing: it is then `undefined`. */
export function Optional(): ParamOrPropertyDecorator {
  return point((p) => {
    p.optional = true;
  });
}

/** Injects every provider of a multi token, as an array in registration order. */
export function InjectAll(token: InjectionToken): ParamOrPropertyDecorator {
  if (token === undefined || token === null) {
    throw invalidArgument('@InjectAll() was given undefined: the token is not defined yet (a circular import between files?) or was misspelled');
  }
  return point((p) => {
    p.token = token;
    p.all = true;
  });
}

/** Alias of `@InjectAll`. */
export const InjectMany = InjectAll;

/** Declares a module: its imports, providers (and controllers), exports and process. */
export function Module(metadata: ModuleMetadata = {}): ClassDecorator {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw invalidArgument(`@Module() takes a metadata object, got ${describe(metadata)}`);
  }
  checkKeys(metadata, MODULE_KEYS, '@Module()');
  return (target: Function) => {
    moduleProcess(metadata.process, metadata.name ?? target.name);
    const existing = moduleMetadata(target);
    Object.defineProperty(target, MODULE_META, {
      value: { ...metadata, global: metadata.global ?? existing?.global },
      enumerable: false,
      configurable: true,
    });
  };
}

/** Makes a module's exports visible everywhere (use with `@Module`). */
export function Global(): ClassDecorator {
  return (target: Function) => {
    const existing = moduleMetadata(target) ?? {};
    Object.defineProperty(target, MODULE_META, {
      value: { ...existing, global: true },
      enumerable: false,
      configurable: true,
    });
  };
}

/** Builds a dynamic module (what a `forRoot(options)` returns). */
export function createDynamicModule(module: Function, metadata: ModuleMetadata): DynamicModule {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw invalidArgument(`createDynamicModule() takes a metadata object, got ${describe(metadata)}`);
  }
  checkKeys(metadata, MODULE_KEYS, 'createDynamicModule()');
  return { module, ...metadata };
}

/** The constructor parameter types TypeScript recorded, if it did. */
export function paramTypes(target: Function): unknown[] | undefined {
  const R = Reflect as any;
  return typeof R.getOwnMetadata === 'function' ? R.getOwnMetadata('design:paramtypes', target) : undefined;
}

/** The property type TypeScript recorded, if it did. */
export function propertyType(target: Function, key: string | symbol): unknown {
  const R = Reflect as any;
  return typeof R.getMetadata === 'function' ? R.getMetadata('design:type', target.prototype, key) : undefined;
}
