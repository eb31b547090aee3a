// @omnitron-dev/native: Omnitron's engine for Node.js, with the decorator API of the spec.

import { native } from './native.js';
export { native as _native };
export { OmnitronError, ErrorCodes, isOmnitronError } from './errors.js';
export { Token, createToken, CONTEXT, type InjectionToken, type Constructor, type AbstractConstructor } from './di/tokens.js';
export {
  Injectable,
  Singleton,
  Transient,
  Scoped,
  Inject,
  Optional,
  InjectAll,
  InjectMany,
  Module,
  Global,
  createDynamicModule,
  type ScopeName,
  type InjectableOptions,
  type ModuleMetadata,
  type DynamicModule,
  type ModuleRef,
} from './di/decorators.js';
export type {
  Provider,
  ClassProvider,
  ValueProvider,
  FactoryProvider,
  AliasProvider,
  RegisterOptions,
  ProviderInput,
  InjectEntry,
} from './di/providers.js';
export { Container, Scope, type ContainerOptions } from './di/container.js';
export { Omnitron, OmnitronApp, type CreateOptions } from './app.js';

/** The engine version. */
export function version(): string {
  return native.version();
}
