// The container: the engine decides (graph, checks, plan, order, every error message); this file
// only runs the plan. A compiled plan becomes one small closure per provider, so a resolve is a
// Map lookup and a call: it never crosses into native code on the hot path.

import type { JsPlan } from '../../native.js';
import { native } from '../native.js';
import { call, fromInfo, invalidArgument } from '../errors.js';
import type { ModuleRef } from './decorators.js';
import { collectModules } from './modules.js';
import {
  classEntry,
  providerEntry,
  type Entry,
  type Provider,
  type RegisterOptions,
} from './providers.js';
import { CONTEXT, tokenKey, tokenName, type Constructor, type InjectionToken } from './tokens.js';

const KIND_CLASS = 0;
const KIND_VALUE = 1;
const KIND_FACTORY = 2;
const KIND_ALIAS = 3;
const KIND_CONTEXT = 4;

const SINGLETON = 0;
const TRANSIENT = 1;
const SCOPED = 2;

/** Per-scope state: scoped instances by provider id. */
class ScopeState {
  readonly instances: unknown[] = [];
  readonly pending = new Map<number, Promise<unknown>>();
  readonly created: [number, unknown][] = [];
  disposed = false;
  constructor(readonly context: unknown) {}
}

type Build = (s: ScopeState | null) => unknown;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as any).then === 'function';
}

function hasDestroy(v: unknown): v is { onDestroy(): unknown } {
  return v !== null && typeof v === 'object' && typeof (v as any).onDestroy === 'function';
}

/** Options of `new Container(...)`. */
export interface ContainerOptions {
  /** What `CONTEXT` gives outside any scope. */
  context?: unknown;
}

/**
 * A dependency-injection container.
 *
 * ```ts
 * const c = new Container();
 * c.register(Config, { useValue: new Config() });
 * c.register(UserService);
 * const users = c.resolve(UserService);
 * ```
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
  #created: [number, unknown][] = [];
  #disposed = false;
  #disposing: Promise<void> | null = null;
  #initializing: Promise<void> | null = null;
  #initialized = false;
  readonly #context: unknown;

  constructor(options: ContainerOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw invalidArgument('Container options must be an object');
    }
    this.#context = options.context;
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
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw invalidArgument(`register options must be an object, got ${String(options)}`);
    }
    const entry = provider === undefined ? classEntry(token, options) : providerEntry(token as InjectionToken, provider, options);
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

  /** @internal Used by `Omnitron.create`: the module's whole inside view becomes resolvable. */
  loadRootModule(module: ModuleRef): this {
    return this.#load(module, true);
  }

  #load(module: ModuleRef, asEntry: boolean): this {
    this.#checkAlive();
    const { entry, specs, entries } = collectModules(module, (key) => this.#graph.hasModule(key));
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

  /** Resolves a token synchronously. */
  resolve<T>(token: InjectionToken<T>): T {
    const v = this.#ready.get(token);
    if (v !== undefined) return v as T;
    return this.#resolveIn(token, null) as T;
  }

  /** Alias of `resolve`. */
  get<T>(token: InjectionToken<T>): T {
    return this.resolve(token);
  }

  /** Resolves a token, awaiting async factories and `onInit` hooks. */
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
  createScope(context?: unknown): Scope {
    this.#checkAlive();
    return new Scope(this, new ScopeState(context));
  }

  /** Builds every singleton in dependency order, awaiting async factories and `onInit` hooks. */
  initialize(): Promise<void> {
    if (this.#disposed) return Promise.reject(this.#disposedError());
    if (this.#initialized) return Promise.resolve();
    this.#initializing ??= this.#initializeOnce().finally(() => {
      this.#initializing = null;
    });
    return this.#initializing;
  }

  async #initializeOnce(): Promise<void> {
    const plan = this.#ensurePlan();
    for (const id of plan.initOrder) {
      await this.#getAsync(id, null);
    }
    this.#initialized = true;
  }

  /**
   * Runs every `onDestroy` (dependents first) and closes the container. A failing hook does not stop
   * the others: all failures are reported in one error whose `errors` holds each. Idempotent.
   */
  dispose(): Promise<void> {
    this.#disposing ??= this.#disposeOnce();
    return this.#disposing;
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
    const v = this.#build[id](s);
    if (s === null && this.#plan!.scopes[id] === SINGLETON && this.#plan!.kinds[id] !== KIND_ALIAS && v !== undefined) {
      this.#ready.set(token, v);
    }
    return v;
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
    return ids.map((id) => this.#build[id](s));
  }

  #idsOf(token: unknown): number[] | undefined {
    const ids = this.#root.get(token);
    if (ids !== undefined) return ids;
    // A token object the root map does not know (for example an equal string built at run time).
    const key = tokenKey(token);
    const known = this.#tokens.get(key);
    return known !== undefined && known !== token ? this.#root.get(known) : undefined;
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
    if (kind === KIND_CONTEXT) return (s) => (s === null ? this.#context : s.context);
    if (plan.failed[id]) {
      return () => {
        throw fromInfo(this.#graph.explain(id));
      };
    }
    const scope = plan.scopes[id];
    if (kind === KIND_ALIAS) {
      const target = plan.deps[id][0];
      return (s) => build[target](s);
    }
    if (plan.isAsync[id]) {
      // Sync access works only once the async path has built it.
      return (s) => {
        const v = scope === SINGLETON ? this.#singletons[id] : scope === SCOPED && s !== null ? s.instances[id] : undefined;
        if (v !== undefined || (scope === SINGLETON && id in this.#singletons)) return v;
        throw fromInfo(this.#graph.explainAsync(id));
      };
    }
    if (scope === SINGLETON) {
      if (id in this.#singletons) {
        const v = this.#singletons[id];
        return () => v;
      }
      const create = this.#creator(id, plan, build);
      return () => {
        const v = create(null);
        this.#singletons[id] = v;
        build[id] = () => v;
        if (hasDestroy(v)) this.#created.push([id, v]);
        return v;
      };
    }
    const create = this.#creator(id, plan, build);
    if (scope === SCOPED) {
      return (s) => {
        if (s === null) throw fromInfo(this.#graph.explainNeedsScope(id));
        const v = s.instances[id];
        if (v !== undefined) return v;
        const made = create(s);
        s.instances[id] = made;
        if (hasDestroy(made)) s.created.push([id, made]);
        return made;
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

  /** A function that builds a fresh instance of provider `id` (dependencies through `build`). */
  #creator(id: number, plan: JsPlan, build: Build[]): Build {
    const entry = this.#entries[id]!;
    const fns = plan.deps[id].map((code) => depFn(code, plan, build));
    let make: Build;
    if (entry.kind === KIND_VALUE) {
      const v = entry.make;
      make = () => v;
    } else if (entry.kind === KIND_CLASS) {
      make = construct(entry, fns);
    } else if (entry.kind === KIND_FACTORY) {
      make = invoke(entry.make, fns);
    } else {
      throw new Error(`internal: no creator for provider kind ${entry.kind}`);
    }
    if (entry.spec.init === 'sync') {
      const graph = this.#graph;
      const inner = make;
      make = (s) => {
        const v = inner(s) as { onInit(): unknown };
        if (isThenable(v.onInit())) throw fromInfo(graph.explainAsync(id));
        return v;
      };
    }
    return make;
  }

  /** Builds provider `id`, awaiting whatever is async (itself or a dependency). */
  #getAsync(id: number, s: ScopeState | null): unknown {
    const plan = this.#plan!;
    if (!plan.isAsync[id]) return this.#build[id](s);
    if (plan.failed[id]) return Promise.reject(fromInfo(this.#graph.explain(id)));
    const kind = plan.kinds[id];
    if (kind === KIND_ALIAS) return this.#getAsync(plan.deps[id][0], s);
    const scope = plan.scopes[id];
    if (scope === SINGLETON) {
      if (id in this.#singletons) return this.#singletons[id];
      let p = this.#pending.get(id);
      if (p === undefined) {
        p = this.#createAsync(id, null).then(
          (v) => {
            this.#singletons[id] = v;
            this.#build[id] = () => v;
            if (hasDestroy(v)) this.#created.push([id, v]);
            this.#pending.delete(id);
            return v;
          },
          (e) => {
            this.#pending.delete(id);
            throw e;
          },
        );
        this.#pending.set(id, p);
      }
      return p;
    }
    if (scope === SCOPED) {
      if (s === null) return Promise.reject(fromInfo(this.#graph.explainNeedsScope(id)));
      if (s.instances[id] !== undefined) return s.instances[id];
      let p = s.pending.get(id);
      if (p === undefined) {
        p = this.#createAsync(id, s).then(
          (v) => {
            s.instances[id] = v;
            if (hasDestroy(v)) s.created.push([id, v]);
            s.pending.delete(id);
            return v;
          },
          (e) => {
            s.pending.delete(id);
            throw e;
          },
        );
        s.pending.set(id, p);
      }
      return p;
    }
    if (plan.needsScope[id] && s === null) return Promise.reject(fromInfo(this.#graph.explainNeedsScope(id)));
    return this.#createAsync(id, s);
  }

  async #createAsync(id: number, s: ScopeState | null): Promise<unknown> {
    const plan = this.#plan!;
    const entry = this.#entries[id]!;
    const args: unknown[] = [];
    for (const code of plan.deps[id]) {
      if (code >= 0) args.push(await this.#getAsync(code, s));
      else if (code === -1) args.push(undefined);
      else if (code <= -3) {
        const list: unknown[] = [];
        for (const q of plan.many[-3 - code]) list.push(await this.#getAsync(q, s));
        args.push(list);
      } else throw fromInfo(this.#graph.explain(id));
    }
    let v: any;
    if (entry.kind === KIND_CLASS) {
      const C = entry.make as Constructor;
      v = new C(...args.slice(0, entry.ctorArity));
      entry.props.forEach((key, i) => {
        v[key] = args[entry.ctorArity + i];
      });
    } else if (entry.kind === KIND_FACTORY) {
      v = await entry.make(...args);
    } else {
      v = entry.make;
    }
    if (entry.spec.init !== 'none') await v.onInit();
    return v;
  }
}

function depFn(code: number, plan: JsPlan, build: Build[]): Build {
  if (code >= 0) return (s) => build[code](s);
  if (code === -1) return () => undefined;
  if (code <= -3) {
    const list = plan.many[-3 - code];
    return (s) => list.map((q) => build[q](s));
  }
  return () => {
    throw new Error('internal: a missing dependency reached the builder');
  };
}

/** `new C(a, b, ...)`, specialised for small arities so the hot path does not spread arrays. */
function construct(entry: Entry, fns: Build[]): Build {
  const C = entry.make as Constructor;
  const n = entry.ctorArity;
  if (entry.props.length > 0) {
    const ctor = fns.slice(0, n);
    const props = entry.props.map((key, i) => [key, fns[n + i]] as const);
    return (s) => {
      const o = new C(...ctor.map((f) => f(s)));
      for (const [key, f] of props) o[key] = f(s);
      return o;
    };
  }
  const [a, b, c, d] = fns;
  switch (n) {
    case 0:
      return () => new C();
    case 1:
      return (s) => new C(a(s));
    case 2:
      return (s) => new C(a(s), b(s));
    case 3:
      return (s) => new C(a(s), b(s), c(s));
    case 4:
      return (s) => new C(a(s), b(s), c(s), d(s));
    default:
      return (s) => new C(...fns.map((f) => f(s)));
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

/** A scope of a container (a request, a job): scoped providers get one instance per scope. */
export class Scope {
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
}
