// Scope names and the constants users reach for. `Scope` is the constants (Nexus spelling and
// NestJS spelling); the class of a container's scopes is `ContainerScope` (container.ts).

import { invalidArgument, call } from '../errors.js';
import { native } from '../native.js';
import { describe } from './tokens.js';

/** Scope names accepted everywhere. `request` is a scope created per request (same as `scoped`). */
export type ScopeName = 'singleton' | 'transient' | 'scoped' | 'request';

/**
 * How long an instance lives: `@Injectable({ scope: Scope.Transient })`.
 *
 * - `Singleton` / `DEFAULT`: one per container (the default).
 * - `Transient` / `TRANSIENT`: a new one every resolve.
 * - `Scoped` / `Request` / `REQUEST`: one per scope (`container.createScope(context)`).
 */
export const Scope = Object.freeze({
  Singleton: 'singleton',
  Transient: 'transient',
  Scoped: 'scoped',
  Request: 'request',
  DEFAULT: 'singleton',
  TRANSIENT: 'transient',
  REQUEST: 'request',
} as const);

/** A scope name, as the `Scope` constants give it. */
export type Scope = ScopeName;

/**
 * The `scope` of an options object: `undefined` when the key is absent. A key that is present must
 * hold a scope name: `scope: undefined` (a misspelt `Scope` constant) is refused with E001, an
 * unknown name with DI014.
 */
export function scopeOf(o: object, where: string): ScopeName | undefined {
  if (!Object.prototype.hasOwnProperty.call(o, 'scope')) return undefined;
  const v = (o as { scope?: unknown }).scope;
  if (typeof v !== 'string') {
    throw invalidArgument(
      `${where}: scope is ${describe(v)}; expected Scope.Singleton, Scope.Transient, Scope.Scoped or Scope.Request ` +
        `(or 'singleton', 'transient', 'scoped', 'request')${v === undefined ? '. A misspelt Scope constant gives undefined; leave the key out for the default (singleton)' : ''}`,
    );
  }
  call(() => native.checkScope(v));
  return v as ScopeName;
}
