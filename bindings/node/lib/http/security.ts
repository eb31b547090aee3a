// Spec 8.1's `SecurityModule.forRoot({ helmet, cors, rateLimit, csrf })`: imported by a module, it
// sets the HTTP app's options (helmet → securityHeaders, rateLimit.windowMs → rateLimit.window);
// options given to `Omnitron.create(..., { http })` win over it. CSRF protection is not there yet,
// so `csrf` enabled is refused rather than silently not applied.

import { invalidArgument } from '../errors.js';
import { Module, type DynamicModule, type ModuleRef } from '../di/decorators.js';
import { describe } from '../di/tokens.js';
import { OptionKeys, checkKeys } from '../util.js';

/** What `SecurityModule.forRoot` takes. */
export interface SecurityOptions {
  /** Security headers as helmet sets them (default on). */
  helmet?: boolean;
  /** CORS: `true` for any origin, or { origin, credentials, methods, allowedHeaders, exposedHeaders, maxAge }. */
  cors?: boolean | Record<string, unknown>;
  /** A rate limit on every route, per client: `max` requests per `windowMs` (express-rate-limit's names). */
  rateLimit?: { windowMs?: number; max: number };
  /** Not supported yet: only `false` or `{ enabled: false }` is taken. */
  csrf?: boolean | { enabled?: boolean };
}
const SECURITY_KEYS = new OptionKeys(['helmet', 'cors', 'rateLimit', 'csrf']);
const RATE_KEYS = new OptionKeys(['windowMs', 'max']);

const OPTIONS = Symbol('omnitron:http:security');

/** The HTTP app options a `SecurityModule.forRoot(...)` stands for. */
function appOptions(o: SecurityOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.helmet !== undefined) {
    if (typeof o.helmet !== 'boolean') throw invalidArgument(`SecurityModule.forRoot(): helmet takes true or false (the engine sets helmet's default headers), got ${describe(o.helmet)}`);
    out.securityHeaders = o.helmet;
  }
  if (o.cors !== undefined && o.cors !== false) out.cors = o.cors === true ? {} : o.cors;
  if (o.rateLimit !== undefined) {
    const r = o.rateLimit;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw invalidArgument(`SecurityModule.forRoot(): rateLimit takes { windowMs, max }, got ${describe(r)}`);
    checkKeys(r, RATE_KEYS, 'SecurityModule.forRoot() rateLimit');
    out.rateLimit = r.windowMs === undefined ? { max: r.max } : { max: r.max, window: r.windowMs };
  }
  const csrf = o.csrf;
  const enabled = csrf === true || (csrf !== null && typeof csrf === 'object' && csrf.enabled !== false);
  if (csrf !== undefined && csrf !== false && enabled) {
    throw invalidArgument(
      'SecurityModule.forRoot(): csrf is not supported yet; remove it (or set csrf: false). Routes that take cookies for auth should check an anti-CSRF header themselves until it is',
    );
  }
  return out;
}

/** Spec 8.1's security module: `imports: [SecurityModule.forRoot({ helmet, cors, rateLimit })]`. */
@Module({})
export class SecurityModule {
  static forRoot(options: SecurityOptions = {}): DynamicModule {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidArgument(`SecurityModule.forRoot() takes an options object, got ${describe(options)}`);
    checkKeys(options, SECURITY_KEYS, 'SecurityModule.forRoot()');
    const m: DynamicModule = { module: SecurityModule, name: 'SecurityModule' };
    // A symbol key: not one of a dynamic module's keys, which are checked.
    Object.defineProperty(m, OPTIONS, { value: appOptions(options), enumerable: false });
    return m;
  }
}

/** The HTTP app options of every `SecurityModule.forRoot(...)` among `modules`, merged in order. */
export function securityOptions(modules: readonly ModuleRef[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of modules) {
    const o = (m as unknown as Record<symbol, Record<string, unknown> | undefined>)[OPTIONS];
    if (o) Object.assign(out, o);
  }
  return out;
}
