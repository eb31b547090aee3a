// `Test.createTestingModule({ providers, imports })` as NestJS users write it: a root module built
// from the metadata, compiled into a real container (the engine's graph, checks and errors), its
// overridden providers replaced by the engine wherever the module tree declares them, initialized.

import { createApplication, type CreateOptions, type OmnitronApp } from '../app.js';
import { Container } from '../di/container.js';
import type { DynamicModule, ModuleRef } from '../di/decorators.js';
import type { InjectEntry, Provider, ProviderInput } from '../di/providers.js';
import { describe, tokenKey, tokenName, type Constructor, type InjectionToken } from '../di/tokens.js';
import { invalidArgument } from '../errors.js';
import { OptionKeys, options } from '../util.js';

/** What `Test.createTestingModule` takes: the test's own root module. */
export interface TestingModuleMetadata {
  /** Modules whose exports the test reaches (their providers can be overridden too). */
  imports?: ModuleRef[];
  /** Providers of the root module: classes or `{ provide, useValue | useClass | useFactory | useExisting }`. */
  providers?: ProviderInput[];
  /** Controllers of the root module (built and injected as its providers are, as `@Module` does). */
  controllers?: Function[];
}
const METADATA_KEYS = new OptionKeys(['imports', 'providers', 'controllers']);

/** Options of `Test.createTestingModule`. */
export interface TestingModuleOptions {
  /** What `CONTEXT` gives outside any scope. */
  context?: unknown;
}
const OPTION_KEYS = new OptionKeys(['context']);

/** `overrideProvider(X).useFactory({ factory, inject })`. */
export interface OverrideByFactoryOptions {
  factory: (...args: any[]) => unknown;
  /** The factory's dependencies, in parameter order. */
  inject?: InjectEntry[];
}
const FACTORY_KEYS = new OptionKeys(['factory', 'inject']);

/** What `overrideProvider(X)` gives: how to provide `X` instead (a stand-in need not have X's type). */
export interface OverrideBy {
  useValue(value: unknown): TestingModuleBuilder;
  useClass(cls: Constructor): TestingModuleBuilder;
  useFactory(options: OverrideByFactoryOptions): TestingModuleBuilder;
}

/** What `overrideModule(M)` gives. */
export interface OverrideModule {
  useModule(replacement: ModuleRef): TestingModuleBuilder;
}

type Replacement = { provide: InjectionToken } & Record<string, unknown>;

/** What `Test.createApplication(AppModule, options)` takes besides `Omnitron.create`'s options. */
export interface TestApplicationOptions extends Omit<CreateOptions, 'peer'> {
  /** Providers replaced wherever the module tree declares them: `{ provide, useValue | useClass | useFactory | useExisting }`. */
  providers?: Replacement[];
  /** Modules replaced wherever they are imported: `[[DatabaseModule, FakeDatabaseModule]]`. */
  modules?: [ModuleRef, ModuleRef][];
}
const APPLICATION_KEYS = new OptionKeys(['providers', 'modules', 'context', 'http', 'onAudit', 'onHttpError']);

/** Entry point of the testing utilities (`Test.createTestingModule`). */
export class Test {
  private constructor() {}

  /**
   * The application of `module` as `Omnitron.create` makes it, with providers and modules replaced
   * (spec 10.2); `app.request()` answers requests in-process, without a port:
   *
   * ```ts
   * const app = await Test.createApplication(AppModule, { providers: [{ provide: OrdersRepository, useValue: fake }] });
   * await app.request().post('/orders').send({ items }).expect(201);
   * await app.close();
   * ```
   */
  static async createApplication(module: ModuleRef, opts?: TestApplicationOptions): Promise<OmnitronApp> {
    const what = 'Test.createApplication()';
    const o = options<TestApplicationOptions>(opts, what, APPLICATION_KEYS);
    const { providers = [], modules = [], ...create } = o;
    if (!Array.isArray(providers)) throw invalidArgument(`${what}: 'providers' must be an array, got ${describe(providers)}`);
    if (!Array.isArray(modules)) throw invalidArgument(`${what}: 'modules' must be an array of [module, replacement] pairs, got ${describe(modules)}`);
    const overrides = providers.map((p) => {
      if (p === null || typeof p !== 'object' || !('provide' in p)) throw invalidArgument(`${what}: each of 'providers' is { provide, useValue | useClass | useFactory | useExisting }, got ${describe(p)}`);
      const { provide, ...provider } = p;
      return { provide, provider: provider as Provider };
    });
    const swap = new Map<unknown, ModuleRef>();
    for (const pair of modules) {
      if (!Array.isArray(pair) || pair.length !== 2) throw invalidArgument(`${what}: each of 'modules' is a [module, replacement] pair, got ${describe(pair)}`);
      swap.set(pair[0], pair[1]);
    }
    return createApplication(module, create, { swap, overrides });
  }

  /**
   * Starts a testing module from `metadata` (`providers`, `imports`): override providers or
   * modules on the builder, then `compile()`.
   *
   * ```ts
   * const module = await Test.createTestingModule({
   *   providers: [UserService, { provide: UserRepository, useValue: createMock<UserRepository>() }],
   * }).compile();
   * const service = module.get<UserService>(UserService);
   * ```
   */
  static createTestingModule(metadata: TestingModuleMetadata = {}, opts?: TestingModuleOptions): TestingModuleBuilder {
    const what = 'Test.createTestingModule()';
    const m = options<TestingModuleMetadata>(metadata, what, METADATA_KEYS);
    for (const key of ['imports', 'providers', 'controllers'] as const) {
      if (m[key] !== undefined && !Array.isArray(m[key])) throw invalidArgument(`${what}: '${key}' must be an array, got ${describe(m[key])}`);
    }
    const o = options<TestingModuleOptions>(opts, `${what} options`, OPTION_KEYS);
    return new TestingModuleBuilder([...(m.imports ?? [])], [...(m.providers ?? [])], [...(m.controllers ?? [])], o.context);
  }
}

/** Collects overrides, then builds the container (`compile()`). */
export class TestingModuleBuilder {
  readonly #imports: ModuleRef[];
  readonly #providers: ProviderInput[];
  readonly #controllers: Function[];
  readonly #context: unknown;
  /** By token key: the token and what replaces its providers. */
  readonly #overrides = new Map<number, Replacement>();
  readonly #modules = new Map<object, ModuleRef>();

  /** @internal Use `Test.createTestingModule`. */
  constructor(imports: ModuleRef[], providers: ProviderInput[], controllers: Function[], context: unknown) {
    this.#imports = imports;
    this.#providers = providers;
    this.#controllers = controllers;
    this.#context = context;
  }

  /**
   * Replaces every provider of `token` in the module tree (the root's and imported modules') with
   * what `useValue` / `useClass` / `useFactory` gives. A token nobody provides is added to the
   * root module. The last override of a token wins.
   */
  overrideProvider(token: InjectionToken): OverrideBy {
    const key = tokenKey(token); // refuses what is not a token (E001)
    const set = (p: Record<string, unknown>): TestingModuleBuilder => {
      this.#overrides.set(key, { provide: token, ...p });
      return this;
    };
    return {
      useValue: (value) => set({ useValue: value }),
      useClass: (cls) => {
        if (typeof cls !== 'function') throw invalidArgument(`overrideProvider(${tokenName(token)}).useClass() takes a class, got ${describe(cls)}`);
        return set({ useClass: cls });
      },
      useFactory: (factoryOptions) => {
        const what = `overrideProvider(${tokenName(token)}).useFactory()`;
        if (typeof factoryOptions === 'function') {
          throw invalidArgument(`${what} takes { factory, inject }, got a function: write useFactory({ factory: ${(factoryOptions as Function).name || 'fn'} })`);
        }
        const f = options<OverrideByFactoryOptions>(factoryOptions, what, FACTORY_KEYS);
        if (typeof f.factory !== 'function') throw invalidArgument(`${what}: 'factory' must be a function, got ${describe(f.factory)}`);
        if (f.inject !== undefined && !Array.isArray(f.inject)) throw invalidArgument(`${what}: 'inject' must be an array, got ${describe(f.inject)}`);
        return set(f.inject === undefined ? { useFactory: f.factory } : { useFactory: f.factory, inject: f.inject });
      },
    };
  }

  /**
   * Replaces module `module` (a `@Module` class, whose dynamic forms such as `forRoot()` it
   * replaces too, or a dynamic module) wherever it is imported.
   */
  overrideModule(module: ModuleRef): OverrideModule {
    if (module === null || (typeof module !== 'function' && typeof module !== 'object')) {
      throw invalidArgument(`overrideModule() takes a module, got ${describe(module)}`);
    }
    return {
      useModule: (replacement) => {
        if (replacement === null || (typeof replacement !== 'function' && typeof replacement !== 'object')) {
          throw invalidArgument(`overrideModule().useModule() takes a module, got ${describe(replacement)}`);
        }
        this.#modules.set(module, replacement);
        return this;
      },
    };
  }

  /**
   * Builds the container from the root module (overrides applied) and runs `initialize()`: every
   * singleton is built and every `onInit` hook has run when this resolves. A failure (a missing
   * provider, a throwing hook) rejects with the engine's error, after disposing what was built.
   */
  async compile(): Promise<TestingModule> {
    const root: DynamicModule = {
      module: named('TestingModule'),
      name: 'TestingModule',
      imports: this.#imports,
      providers: this.#providers,
      controllers: this.#controllers,
    };
    const container = new Container({ context: this.#context });
    try {
      container.loadRootModule(root, this.#modules);
      // The engine puts each replacement where its token's providers were declared.
      for (const { provide, ...provider } of this.#overrides.values()) container.overrideProvider(provide, provider as Provider);
      await container.initialize();
    } catch (e) {
      await container.dispose().catch(() => {});
      throw e;
    }
    return new TestingModule(container);
  }
}

/** A compiled testing module: its container, initialized. */
export class TestingModule {
  /** @internal Use `compile()`. */
  constructor(readonly container: Container) {}

  // As in NestJS, the type argument may differ from the token's (`get<DeepMocked<Repo>>(Repo)`).

  /** Resolves a provider visible from the testing module (synchronously). */
  get<TInput = any, TResult = TInput>(token: InjectionToken<TInput> | Function): TResult {
    return this.container.resolve(token as InjectionToken) as TResult;
  }

  /** Resolves a provider, awaiting async factories (hooks ran in `compile()`). */
  resolve<TInput = any, TResult = TInput>(token: InjectionToken<TInput> | Function): Promise<TResult> {
    return this.container.resolveAsync(token as InjectionToken) as Promise<TResult>;
  }

  /** Same as `resolve` (the name `OmnitronApp` uses). */
  getAsync<TInput = any, TResult = TInput>(token: InjectionToken<TInput> | Function): Promise<TResult> {
    return this.resolve<TInput, TResult>(token);
  }

  /** Every provider of a multi token. */
  resolveAll<TInput = any, TResult = TInput>(token: InjectionToken<TInput> | Function): TResult[] {
    return this.container.resolveAll(token as InjectionToken) as TResult[];
  }

  /** Whether something visible from the testing module provides `token`. */
  has(token: InjectionToken): boolean {
    return this.container.has(token);
  }

  /** A scope (a request, a job): scoped providers get one instance per scope. */
  createScope(context?: unknown): ReturnType<Container['createScope']> {
    return this.container.createScope(context);
  }

  /** Runs every `onDestroy` and closes the container. Idempotent. */
  close(): Promise<void> {
    return this.container.dispose();
  }
}

/** A fresh class standing for the testing module (each compile makes its own). */
function named(name: string): Function {
  const c = class {};
  Object.defineProperty(c, 'name', { value: name });
  return c;
}
