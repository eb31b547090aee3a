// The container: the engine decides (graph, checks, plan, order, every error message); this file
// only runs the plan. A compiled plan becomes one small closure per provider, so a resolve is a Map
// lookup and a call: it never crosses into native code on the hot path.

import { AsyncLocalStorage } from 'node:async_hooks';

import type { JsPlan } from '../../native.js';
import { native } from '../native.js';
import { call, fromInfo, OmnitronError } from '../errors.js';
import { isThenable, OptionKeys, options as checkedOptions } from '../util.js';
import type { ModuleRef } from './decorators.js';
import { collectModules } from './modules.js';
import { classEntry, providerEntry, registerOptions, type Entry, type Provider, type RegisterOptions } from './providers.js';
import { CONTEXT, tokenKey, tokenName, type Constructor, type InjectionToken } from './tokens.js';

const C = native.planCodes();

/** Per-scope state: scoped instances by provider id. */
class ScopeState {
  readonly instances: unknown[] = [];
  readonly pending = new Map<number, Promise<unknown>>();
  readonly created: [number, unknown][] = [];
  disposed = false;
  constructor(readonly context: unknown) {}
}

type Build = (s: ScopeState | null) => unknown;

/**
 * Thrown inside the sync path when a factory returned a promise: the provider turned out to be
 * async. The sync API turns it into the engine's DI005 error; the async API awaits `promise` (which
 * gives the instance of provider `id`).
 */
class WentAsync {
  constructor(
    readonly id: number,
    readonly promise: Promise<unknown>,
  ) {
    promise.catch(() => {}); // whoever awaits it sees the rejection; nobody else should crash on it
  }
}

function hasDestroy(v: unknown): v is { onDestroy(): unknown } {
  return v !== null && typeof v === 'object' && typeof (v as { onDestroy?: unknown }).onDestroy === 'function';
}

function hasInit(v: unknown): v is { onInit(): unknown } {
  return v !== null && typeof v === 'object' && typeof (v as { onInit?: unknown }).onInit === 'function';
}

/** Providers being built asynchronously in the current async context, to catch runtime loops. */
const building = new AsyncLocalStorage<readonly (readonly [Container, number])[]>();
/** Containers whose `initialize()` is running in the current async context (a hook calling it). */
const initializing = new AsyncLocalStorage<readonly Container[]>();

/** Whether `e` is one of the container's own errors (DI001..DI015): those pass through a failing
 * factory or hook unchanged (they already say what is wrong and where). */
function isDiError(e: unknown): boolean {
  return e instanceof OmnitronError && e.code.startsWith('DI');
}

/** What a thrown value says, for the engine's message (the class name unless it is plain `Error`). */
function causeText(e: unknown): string {
  if (e instanceof Error) return e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
  return String(e);
}

/** Options of `new Container(...)`. */
export interface ContainerOptions {
  /** What `CONTEXT` gives outside any scope. */
  context?: unknown;
}
const CONTAINER_KEYS = new OptionKeys(['context']);

/**
 * A dependency-injection container.
 *
 * ```ts
 * const c = new Container();
 * c.register(Config, { useValue: new Config() });
 * c.register(UserService);
 * const users = c.resolve(UserService);
 * ```
 *
 * Node runs JavaScript on one thread, so a container is not shared between worker threads (each
 * worker has its own).
 */
export class Container {
  readonly #graph = new native.NativeGraph();
  /** By provider id: what JavaScript holds for each provider (undefined for built-ins). */
  readonly #entries: (Entry | undefined)[] = [];
  /** Token objects by engine key, to map the plan's root back to tokens. */
  readonly #tokens = new Map<number, InjectionToken>([[CONTEXT.key, CONTEXT]]);
  #plan: JsPlan | null = null;
  #build: Build[] = [];
  #root = new Map<unknown, number[]>();
  /** Root-resolved singletons, for the fastest path. */
  readonly #ready = new Map<unknown, unknown>();
  readonly #singletons: unknown[] = [];
  readonly #pending = new Map<number, Promise<unknown>>();
  /** Providers being built synchronously right now, outermost first (runtime loop detection). */
  readonly #stack: number[] = [];
  #created: [number, unknown][] = [];
  #disposed = false;
  #disposing: Promise<void> | null = null;
  /** The last `initialize()` run; the next one starts after it. */
  #initializing: Promise<void> = Promise.resolve();
  /** Instances whose `onInit` has run (once per instance, whichever providers give it). */
  readonly #initialized = new WeakSet<object>();
  readonly #context: unknown;

  constructor(options?: ContainerOptions) {
    this.#context = checkedOptions<ContainerOptions>(options, 'new Container()', CONTAINER_KEYS).context;
  }

  // ---- registration ------------------------------------------------------------------------

  /**
   * Registers a provider: `register(UserService)` for an `@Injectable()` class, or
   * `register(token, { useClass | useValue | useFactory | useExisting }, options)`.
   */
  register<T>(token: Constructor<T>): this;
  register<T>(token: InjectionToken<T>, provider: Provider<T>, options?: RegisterOptions): this;
  register(token: unknown, provider?: unknown, options?: RegisterOptions): this {
    this.#checkAlive();
    const opts = registerOptions(options, 'register() options');
    const entry = provider === undefined ? classEntry(token, opts) : providerEntry(token as InjectionToken, provider, opts);
    const id = call(() => this.#graph.register(entry.spec));
    this.#remember(entry);
    this.#entries[id] = entry;
    this.#invalidate();
    return this;
  }

  /** Loads a module (a `@Module` class or a dynamic module) and everything it imports. */
  loadModule(module: ModuleRef): this {
    return this.#load(module, false);
  }

  /**
   * @internal Used by `Omnitron.create` and testing modules: the module's whole inside view becomes
   * resolvable; `swap` replaces modules wherever they are imported (`overrideModule`).
   */
  loadRootModule(module: ModuleRef, swap?: ReadonlyMap<unknown, ModuleRef>): this {
    return this.#load(module, true, swap);
  }

  /**
   * @internal A testing module's `overrideProvider(token)`: `provider` takes the place of every
   * provider of `token`, in whichever module declared it (the engine's override: each keeps its
   * module and exports), or is registered in the container when nothing provides it. Made before
   * anything is built.
   */
  overrideProvider(token: InjectionToken, provider: Provider): this {
    this.#checkAlive();
    const entry = providerEntry(token, provider, {});
    let ids = call(() => this.#graph.overrideProvider(entry.spec));
    if (ids.length === 0) ids = [call(() => this.#graph.register(entry.spec))];
    this.#remember(entry);
    for (const id of ids) {
      this.#entries[id] = entry;
      delete this.#singletons[id];
    }
    this.#invalidate();
    return this;
  }

  #load(module: ModuleRef, asEntry: boolean, swap?: ReadonlyMap<unknown, ModuleRef>): this {
    this.#checkAlive();
    const { entry, specs, entries } = collectModules(module, (key) => this.#graph.hasModule(key), swap);
    const ids = call(() => this.#graph.loadModules(entry, specs, asEntry));
    ids.forEach((list, i) => {
      list.forEach((id, j) => {
        const e = entries[i][j];
        this.#remember(e);
        this.#entries[id] = e;
      });
    });
    this.#invalidate();
    return this;
  }

  #remember(e: Entry): void {
    this.#tokens.set(e.spec.token, e.token);
    for (const d of e.spec.deps) {
      if (!this.#tokens.has(d.token)) this.#tokens.set(d.token, d.name);
    }
  }

  #invalidate(): void {
    this.#plan = null;
    this.#ready.clear();
  }

  // ---- resolution --------------------------------------------------------------------------

  /**
   * Resolves a token synchronously. Never runs `onInit` (`initialize()` does); fails with DI005 only
   * when building it needs an async factory that has not run yet.
   */
  resolve<T>(token: InjectionToken<T>): T {
    const v = this.#ready.get(token);
    if (v !== undefined) return v as T;
    return this.#resolveIn(token, null) as T;
  }

  /** Alias of `resolve`. */
  get<T>(token: InjectionToken<T>): T {
    return this.resolve(token);
  }

  /** Resolves a token, awaiting async factories. Never runs `onInit` (`initialize()` does). */
  async resolveAsync<T>(token: InjectionToken<T>): Promise<T> {
    const v = this.#ready.get(token);
    if (v !== undefined) return v as T;
    return (await this.#resolveAsyncIn(token, null)) as T;
  }

  /** Resolves a token, giving `undefined` when nothing provides it. */
  resolveOptional<T>(token: InjectionToken<T>): T | undefined {
    return this.has(token) ? this.resolve(token) : undefined;
  }

  /** Every provider of a multi token, in registration order (`[]` when there is none). */
  resolveAll<T>(token: InjectionToken<T>): T[] {
    return this.#all(token, null);
  }

  /** Alias of `resolveAll`. */
  resolveMany<T>(token: InjectionToken<T>): T[] {
    return this.resolveAll(token);
  }

  /** Whether something visible from the container provides `token`. */
  has(token: InjectionToken): boolean {
    if (this.#disposed) return false;
    this.#ensurePlan();
    return this.#idsOf(token) !== undefined;
  }

  /** Creates a scope: scoped providers get one instance per scope; `CONTEXT` gives `context`. */
  createScope(context?: unknown): ContainerScope {
    this.#checkAlive();
    return new ContainerScope(this, new ScopeState(context));
  }

  /**
   * Builds every singleton not built yet and runs the `onInit` hooks of the instances not yet
   * initialized, in dependency order (a provider's dependencies are built and initialized before
   * it is built), awaiting async factories and hooks. Resolving never runs `onInit`: only this does,
   * once per singleton instance; transient and scoped instances are never initialized. Calling it
   * again does only what is left (singletons registered, or built by a resolve, since). A failing
   * hook fails it with DI012 (its error as `cause`); that hook runs again on the next call.
   */
  initialize(): Promise<void> {
    if (this.#disposed) return Promise.reject(this.#disposedError());
    if (initializing.getStore()?.includes(this)) return Promise.reject(fromInfo(native.initializeReenteredError()));
    const outer = initializing.getStore() ?? [];
    const run = this.#initializing.catch(() => {}).then(() => initializing.run([...outer, this], () => this.#initializeOnce()));
    this.#initializing = run;
    return run;
  }

  async #initializeOnce(): Promise<void> {
    const order = this.#ensurePlan().initOrder;
    for (const id of order) {
      if (this.#disposed) throw this.#disposedError();
      this.#ensurePlan(); // a hook may have registered something meanwhile
      // Built at once (most are), the instance itself: not awaited, which would take an instance
      // with a `then` method for a promise (and wait on it forever).
      const built = this.#getAsync(id, null);
      const v = built instanceof Promise ? await built : built;
      if (!hasInit(v) || this.#initialized.has(v)) continue;
      try {
        await v.onInit();
      } catch (e) {
        throw this.#failed(id, 'onInit', e, []);
      }
      this.#initialized.add(v);
      if (this.#disposed) throw this.#disposedError(); // a hook disposed the container
    }
  }

  /**
   * Runs every `onDestroy` (dependents first) and closes the container. A failing hook does not stop
   * the others: all failures are reported in one error whose `errors` holds each. Idempotent.
   */
  dispose(): Promise<void> {
    this.#disposing ??= this.#disposeOnce();
    return this.#disposing;
  }

  /** Same as `dispose()`. */
  close(): Promise<void> {
    return this.dispose();
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  async #disposeOnce(): Promise<void> {
    this.#disposed = true;
    this.#graph.markDisposed();
    this.#ready.clear();
    const created = this.#created;
    this.#created = [];
    await runDestroyHooks(this.#graph, created, 'container', (id) => this.#name(id));
  }

  /** The dependency graph as JSON (`format: 'json'`, the default, parsed) or Mermaid text. */
  exportGraph(format: 'json'): { nodes: unknown[]; edges: unknown[] };
  exportGraph(format: 'mermaid'): string;
  exportGraph(): { nodes: unknown[]; edges: unknown[] };
  exportGraph(format: 'json' | 'mermaid' = 'json'): unknown {
    const text = call(() => this.#graph.exportGraph(format));
    return format === 'json' ? JSON.parse(text) : text;
  }

  /**
   * @internal The instance of each provider of `token` in any module of the tree, visible from the
   * root or not (what an application serves: its controllers, health indicators), in registration
   * order. Singletons are built by `initialize()`; this only gathers them.
   */
  async _instancesOf(token: InjectionToken): Promise<unknown[]> {
    if (this.#disposed) throw this.#disposedError();
    this.#ensurePlan();
    const out: unknown[] = [];
    for (let id = 0; id < this.#entries.length; id++) {
      if (this.#entries[id]?.token !== token) continue;
      const v = this.#getAsync(id, null);
      out.push(v instanceof Promise ? await v : v);
    }
    return out;
  }

  // ---- internals shared with Scope ----------------------------------------------------------

  /** @internal */
  _resolveIn(token: InjectionToken, s: ScopeState): unknown {
    if (s.disposed) throw this.#scopeDisposedError();
    return this.#resolveIn(token, s);
  }

  /** @internal */
  _resolveAsyncIn(token: InjectionToken, s: ScopeState): Promise<unknown> {
    if (s.disposed) return Promise.reject(this.#scopeDisposedError());
    return this.#resolveAsyncIn(token, s);
  }

  /** @internal */
  _all(token: InjectionToken, s: ScopeState): unknown[] {
    if (s.disposed) throw this.#scopeDisposedError();
    return this.#all(token, s);
  }

  /** @internal */
  async _disposeScope(s: ScopeState): Promise<void> {
    if (s.disposed) return;
    s.disposed = true;
    const created = s.created.splice(0);
    s.instances.length = 0;
    if (this.#disposed) return;
    await runDestroyHooks(this.#graph, created, 'scope', (id) => this.#name(id));
  }

  #resolveIn(token: InjectionToken, s: ScopeState | null): unknown {
    if (this.#disposed) throw this.#disposedError();
    this.#ensurePlan();
    const ids = this.#idsOf(token);
    if (ids === undefined) throw this.#missing(token);
    const id = ids[0];
    const v = this.#sync(id, s);
    const plan = this.#plan!;
    if (s === null && plan.scopes[id] === C.scopeSingleton && plan.kinds[id] !== C.kindAlias && v !== undefined) {
      this.#ready.set(token, v);
    }
    return v;
  }

  /** Builds synchronously; a provider that turns out to be async is the engine's DI005 error. */
  #sync(id: number, s: ScopeState | null): unknown {
    try {
      return this.#build[id](s);
    } catch (e) {
      if (e instanceof WentAsync) throw fromInfo(this.#graph.explainAsync(e.id));
      throw e;
    }
  }

  async #resolveAsyncIn(token: InjectionToken, s: ScopeState | null): Promise<unknown> {
    if (this.#disposed) throw this.#disposedError();
    this.#ensurePlan();
    const ids = this.#idsOf(token);
    if (ids === undefined) throw this.#missing(token);
    return this.#getAsync(ids[0], s);
  }

  #all(token: InjectionToken, s: ScopeState | null): any[] {
    if (this.#disposed) throw this.#disposedError();
    this.#ensurePlan();
    const ids = this.#idsOf(token) ?? [];
    return ids.map((id) => this.#sync(id, s));
  }

  #idsOf(token: unknown): number[] | undefined {
    const ids = this.#root.get(token);
    if (ids !== undefined) return ids;
    // A token object the root map does not know (for example an equal string built at run time).
    const key = tokenKey(token);
    const known = this.#tokens.get(key);
    return known !== undefined && known !== token ? this.#root.get(known) : undefined;
  }

  /** What a failed factory, constructor or hook throws: DI errors (and async markers) unchanged,
   * anything else as DI011 / DI012 naming the provider, the resolution path and the module path,
   * with the original as `cause`. */
  #failed(id: number, what: 'factory' | 'constructor' | 'onInit', e: unknown, path: readonly number[]): unknown {
    if (e instanceof WentAsync || isDiError(e)) return e;
    return fromInfo(this.#graph.explainFailure(id, what, [...path], causeText(e)), { cause: e });
  }

  #missing(token: unknown): Error {
    return fromInfo(this.#graph.explainMissing(tokenKey(token), tokenName(token)));
  }

  #name(id: number): string {
    const e = this.#entries[id];
    return e ? e.spec.name : 'CONTEXT';
  }

  #checkAlive(): void {
    if (this.#disposed) throw this.#disposedError();
  }

  #disposedError(): Error {
    return fromInfo(native.disposedError());
  }

  #scopeDisposedError(): Error {
    const info = native.disposedError();
    return fromInfo({ code: info.code, message: 'this scope has been disposed; create a new scope' });
  }

  /** An instance finished after its container (or scope) was disposed: destroy it, report DI008. */
  #discard(v: unknown): Error {
    if (hasDestroy(v)) {
      try {
        const r = v.onDestroy();
        if (isThenable(r)) Promise.resolve(r).catch(() => {});
      } catch {
        // Nothing to report it to: the container is gone.
      }
    }
    return this.#disposedError();
  }

  // ---- compiling the plan into closures -----------------------------------------------------

  #ensurePlan(): JsPlan {
    if (this.#plan !== null) return this.#plan;
    const plan = this.#graph.compile();
    const n = plan.kinds.length;
    const build: Build[] = new Array(n);
    this.#build = build;
    for (let id = 0; id < n; id++) {
      build[id] = this.#builder(id, plan, build);
    }
    const root = new Map<unknown, number[]>();
    plan.rootKeys.forEach((key, i) => {
      const token = this.#tokens.get(key);
      if (token !== undefined) root.set(token, plan.rootIds[i]);
    });
    this.#root = root;
    this.#plan = plan;
    return plan;
  }

  #builder(id: number, plan: JsPlan, build: Build[]): Build {
    const kind = plan.kinds[id];
    if (kind === C.kindContext) return (s) => (s === null ? this.#context : s.context);
    if (plan.failed[id]) {
      return () => {
        throw fromInfo(this.#graph.explain(id));
      };
    }
    const scope = plan.scopes[id];
    if (kind === C.kindAlias) {
      const target = plan.deps[id][0];
      return (s) => build[target](s);
    }
    if (plan.isAsync[id]) {
      // Sync access works only once the async path has built it.
      return (s) => {
        if (scope === C.scopeSingleton && id in this.#singletons) return this.#singletons[id];
        if (scope === C.scopeScoped && s !== null && s.instances[id] !== undefined) return s.instances[id];
        throw fromInfo(this.#graph.explainAsync(id));
      };
    }
    if (scope === C.scopeSingleton) {
      if (id in this.#singletons) {
        const v = this.#singletons[id];
        return () => v;
      }
      const create = this.#creator(id, plan, build);
      return () => {
        const pending = this.#pending.get(id);
        if (pending !== undefined) throw new WentAsync(id, pending);
        let v: unknown;
        try {
          v = create(null);
        } catch (e) {
          if (e instanceof WentAsync && e.id === id) throw new WentAsync(id, this.#settleSingleton(id, e.promise));
          throw e;
        }
        return this.#keepSingleton(id, v);
      };
    }
    const create = this.#creator(id, plan, build);
    if (scope === C.scopeScoped) {
      return (s) => {
        if (s === null) throw fromInfo(this.#graph.explainNeedsScope(id));
        const v = s.instances[id];
        if (v !== undefined) return v;
        const pending = s.pending.get(id);
        if (pending !== undefined) throw new WentAsync(id, pending);
        let made: unknown;
        try {
          made = create(s);
        } catch (e) {
          if (e instanceof WentAsync && e.id === id) throw new WentAsync(id, this.#settleScoped(id, s, e.promise));
          throw e;
        }
        return this.#keepScoped(id, s, made);
      };
    }
    // Transient.
    if (plan.needsScope[id]) {
      return (s) => {
        if (s === null) throw fromInfo(this.#graph.explainNeedsScope(id));
        return create(s);
      };
    }
    return create;
  }

  #keepSingleton(id: number, v: unknown): unknown {
    if (this.#disposed) throw this.#discard(v);
    this.#singletons[id] = v;
    this.#build[id] = () => v;
    if (hasDestroy(v)) this.#created.push([id, v]);
    return v;
  }

  #keepScoped(id: number, s: ScopeState, v: unknown): unknown {
    if (this.#disposed || s.disposed) throw this.#discard(v);
    s.instances[id] = v;
    if (hasDestroy(v)) s.created.push([id, v]);
    return v;
  }

  /** Caches an async singleton once its promise settles; concurrent callers share the promise. */
  #settleSingleton(id: number, p: Promise<unknown>): Promise<unknown> {
    const settled = p.then(
      (v) => {
        this.#pending.delete(id);
        return this.#keepSingleton(id, v);
      },
      (e) => {
        this.#pending.delete(id);
        throw e;
      },
    );
    // Whoever awaits it sees the failure; a build nobody awaits (a sync resolve that got DI005)
    // must not crash the process with an unhandled rejection.
    settled.catch(() => {});
    this.#pending.set(id, settled);
    return settled;
  }

  #settleScoped(id: number, s: ScopeState, p: Promise<unknown>): Promise<unknown> {
    const settled = p.then(
      (v) => {
        s.pending.delete(id);
        return this.#keepScoped(id, s, v);
      },
      (e) => {
        s.pending.delete(id);
        throw e;
      },
    );
    settled.catch(() => {}); // as in #settleSingleton
    s.pending.set(id, settled);
    return settled;
  }

  /** A function that builds a fresh instance of provider `id` (dependencies through `build`). */
  #creator(id: number, plan: JsPlan, build: Build[]): Build {
    const entry = this.#entries[id]!;
    const fns = plan.deps[id].map((code) => depFn(code, plan, build));
    let make: Build;
    if (entry.kind === C.kindValue) {
      const v = entry.make;
      return () => v;
    } else if (entry.kind === C.kindClass) {
      make = construct(entry, fns);
    } else if (entry.kind === C.kindFactory) {
      make = invoke(entry.make, fns);
    } else {
      throw new Error(`internal: no creator for provider kind ${entry.kind}`);
    }
    const stack = this.#stack;
    const graph = this.#graph;
    const isClass = entry.kind === C.kindClass;
    const what = isClass ? 'constructor' : 'factory';
    // A factory's result may be a promise: then the provider went async (the async path awaits
    // it; the sync path reports DI005). Whatever the constructor or factory throws is reported
    // naming this provider (dependencies' failures are already reported by their own builders).
    return (s) => {
      if (stack.includes(id)) throw fromInfo(graph.explainLoop([...stack.slice(stack.indexOf(id)), id]));
      stack.push(id);
      try {
        const v = make(s);
        if (!isClass && isThenable(v)) {
          const path = [...this.#asyncChain(), ...stack];
          throw new WentAsync(
            id,
            Promise.resolve(v).catch((e: unknown) => {
              throw this.#failed(id, what, e, path);
            }),
          );
        }
        return v;
      } catch (e) {
        throw this.#failed(id, what, e, [...this.#asyncChain(), ...stack]);
      } finally {
        stack.pop();
      }
    };
  }

  // ---- async path ---------------------------------------------------------------------------

  /** Builds provider `id`, awaiting whatever is async (itself or a dependency). */
  #getAsync(id: number, s: ScopeState | null): unknown {
    const plan = this.#plan!;
    if (!plan.isAsync[id]) {
      try {
        return this.#build[id](s);
      } catch (e) {
        if (!(e instanceof WentAsync)) throw e;
        if (e.id === id) return e.promise;
        // A dependency went async: build this one on the async path.
        return this.#getAsyncSlow(id, s);
      }
    }
    return this.#getAsyncSlow(id, s);
  }

  #getAsyncSlow(id: number, s: ScopeState | null): unknown {
    const plan = this.#plan!;
    if (plan.failed[id]) return Promise.reject(fromInfo(this.#graph.explain(id)));
    const kind = plan.kinds[id];
    if (kind === C.kindAlias) return this.#getAsync(plan.deps[id][0], s);
    const chain = this.#asyncChain();
    if (chain.includes(id)) {
      return Promise.reject(fromInfo(this.#graph.explainLoop([...chain.slice(chain.indexOf(id)), id])));
    }
    const scope = plan.scopes[id];
    if (scope === C.scopeSingleton) {
      if (id in this.#singletons) return this.#singletons[id];
      return this.#pending.get(id) ?? this.#settleSingleton(id, this.#createAsync(id, null, chain));
    }
    if (scope === C.scopeScoped) {
      if (s === null) return Promise.reject(fromInfo(this.#graph.explainNeedsScope(id)));
      if (s.instances[id] !== undefined) return s.instances[id];
      return s.pending.get(id) ?? this.#settleScoped(id, s, this.#createAsync(id, s, chain));
    }
    if (plan.needsScope[id] && s === null) return Promise.reject(fromInfo(this.#graph.explainNeedsScope(id)));
    return this.#createAsync(id, s, chain);
  }

  /** This container's providers being built on the async path in the current async context. */
  #asyncChain(): number[] {
    const all = building.getStore();
    return all === undefined ? [] : all.filter(([c]) => c === this).map(([, id]) => id);
  }

  #createAsync(id: number, s: ScopeState | null, chain: readonly number[]): Promise<unknown> {
    const path = [...chain, id];
    return building.run([...(building.getStore() ?? []), [this, id] as const], async () => {
      const plan = this.#plan!;
      const entry = this.#entries[id]!;
      const args: unknown[] = [];
      for (const code of plan.deps[id]) {
        if (code >= 0) args.push(await this.#getAsync(code, s));
        else if (code === C.depAbsent) args.push(undefined);
        else if (code <= C.depManyBase) {
          const list: unknown[] = [];
          for (const q of plan.many[C.depManyBase - code]) list.push(await this.#getAsync(q, s));
          args.push(list);
        } else throw fromInfo(this.#graph.explain(id));
      }
      let v: any;
      if (entry.kind === C.kindClass) {
        const Cls = entry.make as Constructor;
        try {
          v = new Cls(...args.slice(0, entry.ctorArity));
        } catch (e) {
          throw this.#failed(id, 'constructor', e, path);
        }
        entry.props.forEach((key, i) => {
          v[key] = args[entry.ctorArity + i];
        });
      } else if (entry.kind === C.kindFactory) {
        try {
          v = await entry.make(...args);
        } catch (e) {
          throw this.#failed(id, 'factory', e, path);
        }
      } else {
        v = entry.make;
      }
      return v;
    });
  }
}

function depFn(code: number, plan: JsPlan, build: Build[]): Build {
  if (code >= 0) return (s) => build[code](s);
  if (code === C.depAbsent) return () => undefined;
  if (code <= C.depManyBase) {
    const list = plan.many[C.depManyBase - code];
    return (s) => list.map((q) => build[q](s));
  }
  return () => {
    throw new Error('internal: a missing dependency reached the builder');
  };
}

/** `new C(a, b, ...)`, specialised for small arities so the hot path does not spread arrays. */
function construct(entry: Entry, fns: Build[]): Build {
  const Cls = entry.make as Constructor;
  const n = entry.ctorArity;
  if (entry.props.length > 0) {
    const ctor = fns.slice(0, n);
    const props = entry.props.map((key, i) => [key, fns[n + i]] as const);
    return (s) => {
      const o = new Cls(...ctor.map((f) => f(s)));
      for (const [key, f] of props) o[key] = f(s);
      return o;
    };
  }
  const [a, b, c, d] = fns;
  switch (n) {
    case 0:
      return () => new Cls();
    case 1:
      return (s) => new Cls(a(s));
    case 2:
      return (s) => new Cls(a(s), b(s));
    case 3:
      return (s) => new Cls(a(s), b(s), c(s));
    case 4:
      return (s) => new Cls(a(s), b(s), c(s), d(s));
    default:
      return (s) => new Cls(...fns.map((f) => f(s)));
  }
}

function invoke(f: (...args: unknown[]) => unknown, fns: Build[]): Build {
  const [a, b, c] = fns;
  switch (fns.length) {
    case 0:
      return () => f();
    case 1:
      return (s) => f(a(s));
    case 2:
      return (s) => f(a(s), b(s));
    case 3:
      return (s) => f(a(s), b(s), c(s));
    default:
      return (s) => f(...fns.map((g) => g(s)));
  }
}

/** Runs `onDestroy` in the engine's order, every hook even when some fail, reporting all failures. */
async function runDestroyHooks(
  graph: InstanceType<typeof native.NativeGraph>,
  created: [number, unknown][],
  what: string,
  name: (id: number) => string,
): Promise<void> {
  if (created.length === 0) return;
  const order = graph.disposeOrder(created.map(([id]) => id));
  const seen = new Set<unknown>();
  const failures: { id: number; error: unknown }[] = [];
  for (const i of order) {
    const [id, v] = created[i];
    if (seen.has(v)) continue;
    seen.add(v);
    try {
      await (v as { onDestroy(): unknown }).onDestroy();
    } catch (error) {
      failures.push({ id, error });
    }
  }
  if (failures.length > 0) {
    const info = native.lifecycleError(
      what,
      created.length,
      failures.map((f) => ({ token: name(f.id), message: f.error instanceof Error ? f.error.message : String(f.error) })),
    );
    throw fromInfo(info, { errors: failures.map((f) => f.error), cause: failures[0].error });
  }
}

/**
 * A scope of a container (a request, a job): scoped providers get one instance per scope. (The
 * scope constants, `Scope.Transient` and the like, are `Scope`.)
 */
export class ContainerScope {
  readonly #container: Container;
  readonly #state: ScopeState;

  /** @internal */
  constructor(container: Container, state: ScopeState) {
    this.#container = container;
    this.#state = state;
  }

  /** The context the scope was created with. */
  get context(): unknown {
    return this.#state.context;
  }

  resolve<T>(token: InjectionToken<T>): T {
    return this.#container._resolveIn(token, this.#state) as T;
  }

  get<T>(token: InjectionToken<T>): T {
    return this.resolve(token);
  }

  resolveAsync<T>(token: InjectionToken<T>): Promise<T> {
    return this.#container._resolveAsyncIn(token, this.#state) as Promise<T>;
  }

  resolveAll<T>(token: InjectionToken<T>): T[] {
    return this.#container._all(token, this.#state) as T[];
  }

  /** Runs `onDestroy` on this scope's instances (dependents first). Idempotent. */
  dispose(): Promise<void> {
    return this.#container._disposeScope(this.#state);
  }

  /** Same as `dispose()`. */
  close(): Promise<void> {
    return this.dispose();
  }
}
