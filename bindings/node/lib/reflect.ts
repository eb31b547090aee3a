// The Reflect metadata API that TypeScript's `emitDecoratorMetadata` output calls. When no polyfill
// is loaded, the package installs a complete one (the whole reflect-metadata API, not just the part
// its own decorators use), so that a real `reflect-metadata` loaded later can take it over:
//
// - reflect-metadata 0.2 finds a `Reflect.defineMetadata` without its registry and wraps the
//   existing functions as a "fallback provider" (it calls `getOwnMetadataKeys`, `hasOwnMetadata`,
//   `getOwnMetadata`, `defineMetadata` and `deleteMetadata` of what it found), then installs its
//   own; metadata recorded before it loaded stays readable through it.
// - reflect-metadata 0.1 adds only the functions that are missing, so ours stay in place.
// - A polyfill loaded before the package (any version) is left alone.

/** A target's metadata: by property key (`undefined` for the target itself), then by metadata key. */
type Store = WeakMap<object, Map<string | symbol | undefined, Map<unknown, unknown>>>;

const API = [
  'defineMetadata',
  'hasMetadata',
  'hasOwnMetadata',
  'getMetadata',
  'getOwnMetadata',
  'getMetadataKeys',
  'getOwnMetadataKeys',
  'deleteMetadata',
  'metadata',
] as const;

/** Whether `Reflect` already has the whole metadata API (a polyfill, or ours from another copy). */
export function hasReflectMetadata(): boolean {
  const R = Reflect as unknown as Record<string, unknown>;
  return API.every((name) => typeof R[name] === 'function');
}

function target(o: unknown, fn: string): object {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) {
    throw new TypeError(`Reflect.${fn}: the target must be an object, got ${o === null ? 'null' : typeof o}`);
  }
  return o as object;
}

/**
 * Installs the reflect-metadata API on `Reflect` when it is not complete there. Functions already
 * present are kept (a partial polyfill keeps its own store for what it defines); the missing ones
 * are added. Returns whether anything was installed.
 */
export function installReflectMetadata(): boolean {
  if (hasReflectMetadata()) return false;
  const R = Reflect as unknown as Record<string, unknown>;
  if (!Object.isExtensible(Reflect)) return false;
  const store: Store = new WeakMap();
  const table = (o: object, p: string | symbol | undefined, create: boolean) => {
    let byKey = store.get(o);
    if (!byKey) {
      if (!create) return undefined;
      byKey = new Map();
      store.set(o, byKey);
    }
    let m = byKey.get(p);
    if (!m && create) {
      m = new Map();
      byKey.set(p, m);
    }
    return m;
  };
  const parent = (o: object): object | null => Object.getPrototypeOf(o) as object | null;
  const own = {
    defineMetadata(k: unknown, v: unknown, o: object, p?: string | symbol): void {
      table(target(o, 'defineMetadata'), p, true)!.set(k, v);
    },
    hasOwnMetadata(k: unknown, o: object, p?: string | symbol): boolean {
      return table(target(o, 'hasOwnMetadata'), p, false)?.has(k) ?? false;
    },
    hasMetadata(k: unknown, o: object, p?: string | symbol): boolean {
      for (let t: object | null = target(o, 'hasMetadata'); t; t = parent(t)) if (table(t, p, false)?.has(k)) return true;
      return false;
    },
    getOwnMetadata(k: unknown, o: object, p?: string | symbol): unknown {
      return table(target(o, 'getOwnMetadata'), p, false)?.get(k);
    },
    getMetadata(k: unknown, o: object, p?: string | symbol): unknown {
      for (let t: object | null = target(o, 'getMetadata'); t; t = parent(t)) {
        const m = table(t, p, false);
        if (m?.has(k)) return m.get(k);
      }
      return undefined;
    },
    getOwnMetadataKeys(o: object, p?: string | symbol): unknown[] {
      return [...(table(target(o, 'getOwnMetadataKeys'), p, false)?.keys() ?? [])];
    },
    getMetadataKeys(o: object, p?: string | symbol): unknown[] {
      const keys = new Set<unknown>();
      for (let t: object | null = target(o, 'getMetadataKeys'); t; t = parent(t)) {
        for (const k of table(t, p, false)?.keys() ?? []) keys.add(k);
      }
      return [...keys];
    },
    deleteMetadata(k: unknown, o: object, p?: string | symbol): boolean {
      const byKey = store.get(target(o, 'deleteMetadata'));
      const m = byKey?.get(p);
      if (!m?.delete(k)) return false;
      if (m.size === 0) byKey!.delete(p);
      return true;
    },
    metadata(k: unknown, v: unknown) {
      return (o: object, p?: string | symbol): void => own.defineMetadata(k, v, o, p);
    },
  };
  for (const name of API) {
    if (typeof R[name] !== 'function') {
      Object.defineProperty(Reflect, name, { value: own[name], writable: true, configurable: true, enumerable: false });
    }
  }
  return true;
}
