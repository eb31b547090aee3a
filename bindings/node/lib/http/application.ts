// An application's HTTP side: every controller of its module tree (built by the container, so
// constructor injection works as for any provider) and every `@HealthIndicator()` provider,
// declared on one engine app with the options of `Omnitron.create(..., { http })` over those of a
// `SecurityModule.forRoot(...)`.

import type { Container } from '../di/container.js';
import type { CollectedModules } from '../di/modules.js';
import type { InjectionToken } from '../di/tokens.js';
import { HttpHost, type HttpHooks } from './host.js';
import { checksOf, isHealthIndicator } from './health.js';
import { compileController, hasRoutes } from './routes.js';
import { securityOptions } from './security.js';

/**
 * The HTTP app's options (docs/HTTP.md), checked by the engine: durations in ms, unknown keys and
 * wrong types refused (E001).
 */
export interface HttpAppOptions {
  /** An HTTP/1.1 client that has not sent a request's headers by then is disconnected (default 10 s). */
  headerReadTimeout?: number;
  /** A body that has not arrived by then is a 408 (default 30 s). */
  bodyReadTimeout?: number;
  /** Bytes; a larger body is a 413 (default 1 MiB). */
  bodyLimit?: number;
  /** Connections open at once (default 10,000). */
  maxConnections?: number;
  /** How long `close()` waits for requests in flight (default 30 s). */
  shutdownTimeout?: number;
  /** Security headers as helmet sets them (default on). */
  securityHeaders?: boolean;
  cors?: { origin?: string | string[]; credentials?: boolean; methods?: string | string[]; allowedHeaders?: string | string[]; exposedHeaders?: string | string[]; maxAge?: number };
  /** A limit on every route, per client: `max` requests per `window` ms. */
  rateLimit?: { max: number; window?: number; per?: 'client' | 'route' };
  /** How bearer tokens are verified on routes that require auth. */
  jwt?: { secret?: string; publicKey?: string; algorithms?: string | string[]; issuer?: string; audience?: string | string[]; leeway?: number; rolesClaim?: string; permissionsClaim?: string };
  /** The OpenAPI document (default at `/openapi.json`), or `false`. */
  openapi?: boolean | { path?: string; title?: string; version?: string; description?: string };
  /** `/health`, `/health/live`, `/health/ready` (default on). */
  health?: boolean;
  /** How long one health check may take (default 5 s). */
  healthTimeout?: number;
  /** `/metrics` on the same server (default off). */
  metrics?: boolean;
  /** TLS: PEM files. */
  tls?: { cert: string; key: string };
}

/** Whether the module tree asks for HTTP (`@Controller` classes, health indicators, a security module). */
export function wantsHttp(collected: CollectedModules): boolean {
  return (
    collected.controllers.some(hasRoutes) ||
    collected.entries.some((list) => list.some((e) => e.kind === 0 && isHealthIndicator(e.make))) ||
    Object.keys(securityOptions(collected.refs)).length > 0
  );
}

/** The HTTP app of an initialized container built from `collected`. */
export async function buildHttp(container: Container, collected: CollectedModules, options: HttpAppOptions | undefined, hooks: HttpHooks): Promise<HttpHost> {
  const host = new HttpHost({ ...securityOptions(collected.refs), ...(options ?? {}) }, hooks);
  const seen = new Set<unknown>();
  for (const cls of collected.controllers) {
    if (seen.has(cls)) continue;
    seen.add(cls);
    const [instance] = await container._instancesOf(cls as InjectionToken);
    for (const route of compileController(cls, instance as object)) host.addRoute(route);
  }
  for (const e of collected.entries.flat()) {
    if (e.kind !== 0 || !isHealthIndicator(e.make) || seen.has(e.token)) continue;
    seen.add(e.token);
    const [instance] = await container._instancesOf(e.token);
    const target = instance as Record<string | symbol, (...a: unknown[]) => unknown>;
    for (const c of checksOf(e.make)) host.addHealthCheck(c.name, () => target[c.key](), c.timeout);
  }
  host.build();
  return host;
}
