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

  /** Runs every `onDestroy` and closes the application. */
  close(): Promise<void> {
    return this.container.dispose();
  }
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
    if (options.peer) {
      try {
        for (const e of collectModules(rootModule, () => false).entries.flat()) {
          const isService = e.kind === 0 && typeof e.make === 'function' && (e.make as Record<symbol, unknown>)[Symbol.for('omnitron.rpc.service')];
          if (isService) await options.peer.expose((await container.resolveAsync(e.token)) as object);
        }
      } catch (e) {
        await container.dispose().catch(() => {});
        throw e;
      }
    }
    return new OmnitronApp(container);
  },
};
