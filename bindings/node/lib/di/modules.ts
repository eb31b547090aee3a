// Collecting a module tree for the engine: every module reachable from the root, with its
// providers, imports and exports. The engine checks it (loops, unknown exports, duplicates).

import type { JsExport, JsModuleSpec } from '../../native.js';
import { native } from '../native.js';
import { errorFor, OmnitronError, ErrorCodes } from '../errors.js';
import { checkKeys } from '../util.js';
import { DYNAMIC_MODULE_KEYS, moduleMetadata, moduleProcess, type DynamicModule, type ModuleMetadata, type ModuleRef } from './decorators.js';
import { classEntry, moduleProviderEntry, type Entry } from './providers.js';
import { describe, tokenKey, tokenName } from './tokens.js';

const moduleKeys = new WeakMap<object, number>();

function keyOf(ref: object): number {
  let k = moduleKeys.get(ref);
  if (k === undefined) {
    k = native.freshModuleKey();
    moduleKeys.set(ref, k);
  }
  return k;
}

function isDynamic(ref: unknown): ref is DynamicModule {
  return ref !== null && typeof ref === 'object' && typeof (ref as DynamicModule).module === 'function';
}

function invalidModule(message: string): OmnitronError {
  return errorFor(ErrorCodes.INVALID_MODULE, message);
}

/** The metadata of a module reference, or an error naming what is wrong with it. */
function resolveRef(ref: unknown, importer: string | undefined): { name: string; meta: ModuleMetadata } {
  const where = importer === undefined ? '' : ` (imported by '${importer}')`;
  if (isDynamic(ref)) {
    const base = moduleMetadata(ref.module) ?? {};
    const { module, ...own } = ref;
    checkKeys(ref, DYNAMIC_MODULE_KEYS, `the dynamic module of '${own.name ?? base.name ?? module.name}'${where}`);
    const list = (key: 'imports' | 'providers' | 'controllers', name: string): unknown[] => {
      const mine = own[key];
      if (mine !== undefined && !Array.isArray(mine)) throw invalidModule(`${key} of module '${name}' must be an array`);
      return [...(base[key] ?? []), ...(mine ?? [])];
    };
    const name = own.name ?? base.name ?? module.name;
    return {
      name,
      meta: {
        imports: list('imports', name) as ModuleRef[],
        providers: list('providers', name) as ModuleMetadata['providers'],
        controllers: list('controllers', name) as Function[],
        exports: own.exports !== undefined || base.exports !== undefined ? [...(base.exports ?? []), ...(own.exports ?? [])] : undefined,
        global: own.global ?? base.global,
        process: own.process ?? base.process,
      },
    };
  }
  if (typeof ref === 'function') {
    const meta = moduleMetadata(ref);
    if (!meta) throw invalidModule(`${describe(ref)} is not a module${where}: decorate it with @Module({...})`);
    return { name: meta.name ?? ref.name, meta };
  }
  if (ref === undefined) {
    throw invalidModule(
      `a module is undefined${where}: this usually means two files import each other; move the shared part into a third module`,
    );
  }
  throw invalidModule(`${describe(ref)} is not a module${where}: expected a @Module class or a dynamic module`);
}

export interface CollectedModules {
  entry: number;
  specs: JsModuleSpec[];
  entries: Entry[][];
  /** Every module of the tree (replacements applied), in the order visited. */
  refs: ModuleRef[];
  /** Every module's controllers, in the order visited. */
  controllers: Function[];
}

/**
 * Walks the module tree from `root`, skipping modules already loaded (by key). `swap` replaces
 * modules wherever they are imported or re-exported (a testing module's `overrideModule`).
 */
export function collectModules(
  root: ModuleRef,
  isLoaded: (key: number) => boolean,
  swap?: ReadonlyMap<unknown, ModuleRef>,
): CollectedModules {
  const specs: JsModuleSpec[] = [];
  const entries: Entry[][] = [];
  const refs: ModuleRef[] = [];
  const allControllers: Function[] = [];
  const seen = new Set<number>();
  const sub = (ref: ModuleRef): ModuleRef => {
    // Followed through chains; a loop of replacements stops where it comes back. A module's
    // dynamic forms (`ConfigModule.forRoot()`) are replaced with it.
    const visited = new Set<unknown>();
    for (;;) {
      const next = swap?.get(ref) ?? (isDynamic(ref) ? swap?.get(ref.module) : undefined);
      if (next === undefined || visited.has(ref)) return ref;
      visited.add(ref);
      ref = next;
    }
  };
  root = sub(root);
  resolveRef(root, undefined);
  const entry = keyOf(root as object);
  const stack: { ref: ModuleRef; importer?: string }[] = [{ ref: root }];
  while (stack.length > 0) {
    const { ref, importer } = stack.pop()!;
    const { name, meta } = resolveRef(ref, importer);
    const key = keyOf(ref as object);
    if (seen.has(key) || isLoaded(key)) continue;
    seen.add(key);
    const given = meta.imports ?? [];
    if (!Array.isArray(given)) throw invalidModule(`imports of module '${name}' must be an array`);
    const imports = swap === undefined ? given : given.map(sub);
    const providers = meta.providers ?? [];
    if (!Array.isArray(providers)) throw invalidModule(`providers of module '${name}' must be an array`);
    const controllers = meta.controllers ?? [];
    if (!Array.isArray(controllers)) throw invalidModule(`controllers of module '${name}' must be an array`);
    const moduleEntries = providers.map((p) => moduleProviderEntry(p, name));
    for (const c of controllers) {
      if (typeof c !== 'function') {
        throw invalidModule(`module '${name}' lists ${describe(c)} as a controller: controllers are classes`);
      }
      moduleEntries.push(classEntry(c));
      allControllers.push(c);
    }
    refs.push(ref);
    let exports: JsExport[] | undefined;
    if (meta.exports !== undefined) {
      if (!Array.isArray(meta.exports)) throw invalidModule(`exports of module '${name}' must be an array`);
      exports = meta.exports.map((x) => {
        const isModule = isDynamic(x) || (typeof x === 'function' && moduleMetadata(x) !== undefined);
        return isModule ? { module: keyOf(sub(x as ModuleRef) as object) } : { token: tokenKey(x), name: tokenName(x) };
      });
    }
    specs.push({
      key,
      name,
      imports: imports.map((i) => {
        resolveRef(i, name);
        return keyOf(i as object);
      }),
      providers: moduleEntries.map((e) => e.spec),
      exports,
      global: !!meta.global,
      process: moduleProcess(meta.process, name),
    });
    entries.push(moduleEntries);
    for (const i of imports) stack.push({ ref: i, importer: name });
  }
  return { entry, specs, entries, refs, controllers: allControllers };
}
