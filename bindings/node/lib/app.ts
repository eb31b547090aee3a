// `Omnitron.create(AppModule)`: the application object of the spec (§2.2).

import { Container, type ContainerScope } from './di/container.js';
import type { ModuleRef } from './di/decorators.js';
import { collectModules } from './di/modules.js';
import type { InjectionToken } from './di/tokens.js';
import type { Peer } from './rpc/peer.js';
import { OptionKeys, options as checkedOptions } from './util.js';

export interface CreateOptions {
  /** What `CONTEXT` gives outside any scope. */
  context?: unknown;
  /**
   * A peer (`Peer.listen(...)` / `Peer.connect(...)`) on which the application exposes every
   * `@Service` class among its modules' providers, once initialized. Each must be resolvable from the
   * root module (declared there, or exported to it).
   */
  peer?: Peer;
}
const CREATE_KEYS = new OptionKeys(['context', 'peer']);

/** A running application: its container, built from the root module and initialized. */
export class OmnitronApp {
  /** @internal What `create({ peer })` exposed: unexposed by `close()`. */
  readonly _exposed: { peer: Peer; name: string; version: string }[] = [];

  constructor(readonly container: Container) {}

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
    await unexposeAll(this._exposed.splice(0));
    return this.container.dispose();
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
    const options = checkedOptions<CreateOptions>(createOptions, 'Omnitron.create()', CREATE_KEYS);
    const container = new Container({ context: options.context });
    container.loadRootModule(rootModule);
    try {
      await container.initialize();
    } catch (e) {
      // Whatever was built before the failure is destroyed; the failure is what the caller sees.
      await container.dispose().catch(() => {});
      throw e;
    }
    const app = new OmnitronApp(container);
    const peer = options.peer;
    if (peer) {
      try {
        for (const e of collectModules(rootModule, () => false).entries.flat()) {
          const meta = e.kind === 0 && typeof e.make === 'function' ? (e.make as Record<symbol, { name: string; version: string } | undefined>)[Symbol.for('omnitron.rpc.service')] : undefined;
          if (meta === undefined) continue;
          // Singletons are built by now: resolved synchronously, so that a service with a `then`
          // method is not taken for a promise.
          // Boxed: an instance with a `then` method must not be taken for a promise.
          await peer.expose((await builtInstance(container, e.token)).instance as object);
          app._exposed.push({ peer, name: meta.name, version: meta.version });
        }
      } catch (e) {
        await app.close().catch(() => {});
        throw e;
      }
    }
    return app;
  },
};
