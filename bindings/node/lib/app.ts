// `Omnitron.create(AppModule)`: the application object of the spec (§2.2).

import { Container, type ContainerScope } from './di/container.js';
import type { ModuleRef } from './di/decorators.js';
import { collectModules, type CollectedModules } from './di/modules.js';
import type { Provider } from './di/providers.js';
import type { InjectionToken } from './di/tokens.js';
import { invalidArgument } from './errors.js';
import { buildHttp, wantsHttp, type HttpAppOptions } from './http/application.js';
import { TestClient } from './http/client.js';
import type { AuditRecord, HttpHost } from './http/host.js';
import type { Peer } from './rpc/peer.js';
import { processorOf, startProcessor } from './queue/decorators.js';
import { defaultStore } from './queue/queue.js';
import { deployedSchedules, schedulesOf, startSchedules, type RunningSchedules } from './queue/schedule.js';
import type { Worker } from './queue/queue.js';
import { OptionKeys, options as checkedOptions } from './util.js';
import { flushTraces, tracingFromEnv } from './telemetry.js';

export interface CreateOptions {
  /** What `CONTEXT` gives outside any scope. */
  context?: unknown;
  /**
   * A peer (`Peer.listen(...)` / `Peer.connect(...)`) on which the application exposes every
   * `@Service` class among its modules' providers, once initialized. Each must be resolvable from the
   * root module (declared there, or exported to it).
   */
  peer?: Peer;
  /**
   * The HTTP app's options (docs/HTTP.md): limits, security headers, CORS, rate limit, JWT,
   * OpenAPI, health, metrics, TLS. They win over a `SecurityModule.forRoot(...)`'s.
   */
  http?: HttpAppOptions;
  /** Audit records of `@AuditLog` routes (default: the engine's log). */
  onAudit?: (record: AuditRecord) => void;
  /** A handler threw something that is not an HttpException: its route got a 500 (default: console.error). */
  onHttpError?: (error: unknown, route: string) => void;
  /**
   * `@QueueProcessor` classes (docs/QUEUES.md): the store their queues live in when they name
   * none (default `sqlite:.omnitron/queues.db`), and how long `close()` lets running jobs finish
   * (ms, default 10000).
   */
  queues?: { store?: string; closeGrace?: number };
}
const CREATE_KEYS = new OptionKeys(['context', 'peer', 'http', 'onAudit', 'onHttpError', 'queues']);
const QUEUES_KEYS = new OptionKeys(['store', 'closeGrace']);

/** @internal What `Test.createApplication` adds: modules replaced, providers overridden. */
export interface AppSetup {
  swap?: ReadonlyMap<unknown, ModuleRef>;
  overrides?: { provide: InjectionToken; provider: Provider }[];
}

/** A running application: its container, built from the root module and initialized. */
export class OmnitronApp {
  /** @internal What `create({ peer })` exposed: unexposed by `close()`. */
  readonly _exposed: { peer: Peer; name: string; version: string }[] = [];
  #http: Promise<HttpHost> | undefined;
  #makeHttp: (() => Promise<HttpHost>) | undefined;
  #port: number | undefined;
  /** @internal The workers of the module tree's `@QueueProcessor` classes, and their close grace. */
  readonly _workers: Worker[] = [];
  /** @internal The `@Cron` / `@Interval` methods' scheduler and workers. */
  _schedules: RunningSchedules | undefined;
  _closeGrace = 10_000;

  constructor(readonly container: Container) {}

  /** @internal The HTTP app, built now (`http`) or on first use (`make`). */
  _setHttp(http: HttpHost | undefined, make: () => Promise<HttpHost>): void {
    if (http) this.#http = Promise.resolve(http);
    this.#makeHttp = make;
  }

  #host(): Promise<HttpHost> {
    // Once closed, an app that has an HTTP side answers 503; one that has none never gets one.
    if (this.#http) return this.#http;
    if (!this.#makeHttp) return Promise.reject(invalidArgument('the application is closed'));
    this.#http = this.#makeHttp();
    return this.#http;
  }

  /**
   * Serves every controller of the module tree, the health endpoints and the OpenAPI document on
   * `host:port` (port 0 picks a free one); resolves with the port. The process stays alive until
   * `close()`. Without a host it binds every interface as Node's `http` does: `::` (IPv6 and
   * IPv4), or `0.0.0.0` where IPv6 is not available.
   */
  async listen(port: number, host?: string): Promise<number> {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument(`listen() takes a port from 0 to 65535, got ${String(port)}`);
    if (host !== undefined && typeof host !== 'string') throw invalidArgument(`listen()'s host must be a string such as '127.0.0.1', got ${typeof host}`);
    const http = await this.#host();
    if (host !== undefined) {
      this.#port = await http.listen(port, host);
    } else {
      try {
        this.#port = await http.listen(port, '::');
      } catch {
        this.#port = await http.listen(port, '0.0.0.0');
      }
    }
    return this.#port;
  }

  /** The port the application listens on, once `listen()` resolved. */
  get port(): number | undefined {
    return this.#port;
  }

  /**
   * Requests answered in-process, through the same pipeline as a socket's (spec 10.2):
   * `await app.request().post('/orders').send(body).expect(201)`.
   */
  request(): TestClient {
    return new TestClient((method, uri, headers, body) => this.#host().then((h) => h.inject(method, uri, headers, body)));
  }

  /** Resolves a provider visible from the root module. */
  get<T>(token: InjectionToken<T>): T {
    return this.container.resolve(token);
  }

  /** Resolves a provider, awaiting async ones. */
  getAsync<T>(token: InjectionToken<T>): Promise<T> {
    return this.container.resolveAsync(token);
  }

  /** A request scope. */
  createScope(context?: unknown): ContainerScope {
    return this.container.createScope(context);
  }

  /**
   * Stops hosting the services `create({ peer })` exposed (their methods and `@OnEvent`
   * subscriptions), then runs every `onDestroy` and closes the application.
   */
  async close(): Promise<void> {
    this.#makeHttp = undefined;
    // No new firing; running jobs finish (or are handed back) while their processors still have
    // their dependencies.
    const schedules = this._schedules;
    this._schedules = undefined;
    await schedules?.close(this._closeGrace).catch(() => {});
    await Promise.all(this._workers.splice(0).map((w) => w.close(this._closeGrace).catch(() => {})));
    const http = this.#http;
    // Requests in flight finish first (their handlers still have their dependencies).
    if (http) await (await http.catch(() => undefined))?.close();
    await unexposeAll(this._exposed.splice(0));
    await this.container.dispose();
    await flushTraces();
  }
}

/** `token`'s instance: resolved synchronously (it is built), asynchronously only if it must be. */
async function builtInstance(container: Container, token: InjectionToken): Promise<{ instance: unknown }> {
  try {
    return { instance: container.resolve(token) };
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'DI005') throw e;
    return { instance: await container.resolveAsync(token) };
  }
}

async function unexposeAll(list: { peer: Peer; name: string; version: string }[]): Promise<void> {
  for (const { peer, name, version } of list.reverse()) await peer.unexpose(name, version).catch(() => {});
}

export const Omnitron = {
  /**
   * Builds the application from its root module: loads it, then `initialize()` builds every
   * singleton and runs every `onInit` (dependencies first, awaited). On failure, what was built is
   * disposed and the error is thrown.
   */
  async create(rootModule: ModuleRef, createOptions?: CreateOptions): Promise<OmnitronApp> {
    return createApplication(rootModule, createOptions, {});
  },
};

/**
 * @internal `Omnitron.create`, with what tests replace: loads the root module (`swap` applied),
 * overrides providers, initializes, then builds the HTTP side when the module tree has one (so a
 * bad option or route fails here) and exposes `@Service` classes on `peer`.
 */
export async function createApplication(rootModule: ModuleRef, createOptions: CreateOptions | undefined, setup: AppSetup): Promise<OmnitronApp> {
  const options = checkedOptions<CreateOptions>(createOptions, 'Omnitron.create()', CREATE_KEYS);
  // Tracing from the OTEL_* variables (omnitron.yaml's `tracing:` sets them for each process): a
  // bad value fails here, naming the variable.
  tracingFromEnv(process.env.OMNITRON_CHILD_NAME ?? (rootModule as { name?: string }).name ?? 'omnitron');
  const container = new Container({ context: options.context });
  let collected: CollectedModules;
  try {
    container.loadRootModule(rootModule, setup.swap);
    for (const { provide, provider } of setup.overrides ?? []) container.overrideProvider(provide, provider);
    collected = collectModules(rootModule, () => false, setup.swap);
    await container.initialize();
  } catch (e) {
    // Whatever was built before the failure is destroyed; the failure is what the caller sees.
    await container.dispose().catch(() => {});
    throw e;
  }
  const app = new OmnitronApp(container);
  try {
    const hooks = { onAudit: options.onAudit, onError: options.onHttpError };
    const make = () => buildHttp(container, collected, options.http, hooks);
    app._setHttp(options.http !== undefined || wantsHttp(collected) ? await make() : undefined, make);
    const queues = checkedOptions<{ store?: string; closeGrace?: number }>(options.queues, 'Omnitron.create(): queues', QUEUES_KEYS);
    if (queues.closeGrace !== undefined) app._closeGrace = queues.closeGrace;
    for (const e of collected.entries.flat()) {
      const processor = e.kind === 0 ? processorOf(e.make) : undefined;
      if (processor === undefined) continue;
      const { instance } = await builtInstance(container, e.token);
      const worker = await startProcessor(instance as object, processor, queues.store);
      if (worker !== undefined) app._workers.push(worker);
    }
    const scheduled: { instance: object; schedules: NonNullable<ReturnType<typeof schedulesOf>> }[] = [];
    for (const e of collected.entries.flat()) {
      const schedules = e.kind === 0 ? schedulesOf(e.make) : undefined;
      if (schedules !== undefined) scheduled.push({ instance: (await builtInstance(container, e.token)).instance as object, schedules });
    }
    // The `cronJobs:` that `omnitron.yaml` gives this process join the decorated schedules.
    if (scheduled.length > 0 || deployedSchedules() > 0) app._schedules = await startSchedules(scheduled, queues.store ?? defaultStore());
    const peer = options.peer;
    if (peer) {
      for (const e of collected.entries.flat()) {
        const meta = e.kind === 0 && typeof e.make === 'function' ? (e.make as Record<symbol, { name: string; version: string } | undefined>)[Symbol.for('omnitron.rpc.service')] : undefined;
        if (meta === undefined) continue;
        // Singletons are built by now: resolved synchronously, so that a service with a `then`
        // method is not taken for a promise.
        // Boxed: an instance with a `then` method must not be taken for a promise.
        await peer.expose((await builtInstance(container, e.token)).instance as object);
        app._exposed.push({ peer, name: meta.name, version: meta.version });
      }
    }
  } catch (e) {
    await app.close().catch(() => {});
    throw e;
  }
  return app;
}
