// @omnitron-dev/native: Omnitron's engine for Node.js, with the decorator API of the spec.

import { native } from './native.js';
export { native as _native };
export { OmnitronError, ErrorCodes, isOmnitronError, errorFor, type OmnitronErrorOptions } from './errors.js';
export * from './error-classes.js';
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
  type InjectableOptions,
  type ModuleMetadata,
  type ModuleProcess,
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
export { Scope, type ScopeName } from './di/scope.js';
export { Container, ContainerScope, type ContainerOptions } from './di/container.js';
export { Omnitron, OmnitronApp, OmnitronApp as OmnitronApplication, type CreateOptions } from './app.js';

// Metrics
export {
  Registry,
  Counter,
  Gauge,
  Histogram,
  type MetricConfig,
  type MetricType,
  type Labels,
  type MetricsServer,
  type MetricSnapshot,
} from './metrics/registry.js';
export { Metric, type MetricOptions } from './metrics/decorator.js';

// Resilience
export {
  CircuitBreakerPolicy,
  type CircuitBreakerOptions,
  type BreakerState,
  type StateChangeEvent,
} from './resilience/breaker.js';
export {
  RateLimiter,
  BulkheadPolicy,
  RetryPolicy,
  withTimeout,
  type RateLimiterOptions,
  type BulkheadOptions,
  type RetryOptions,
} from './resilience/policies.js';
// `RateLimit` is HTTP's (lib/http), which hands a policy's options (`{ points, duration }`) to the
// resilience decorator.
export { CircuitBreaker, Retry, Throttle, Timeout, Bulkhead, type ThrottleOptions } from './resilience/decorators.js';

// RPC
export {
  Peer,
  Service,
  Public,
  OnEvent,
  EmitEvent,
  InjectProcess,
  callContext,
  proxyInfo,
  DEFAULT_SERVICE_VERSION,
  type CallContext,
  type CallOptions,
  type PeerOptions,
  type ServiceInfo,
  type ServiceOptions,
  type ServiceProxy,
} from './rpc/peer.js';
export { encode as packMessage, decode as unpackMessage } from './rpc/msgpack.js';
export { busyPoll } from './rpc/polling.js';
export {
  Trace,
  withSpan,
  currentTrace,
  runInTrace,
  tracingFromEnv,
  tracingEnabled,
  flushTraces,
  type TraceOptions,
  type TraceHeaders,
} from './telemetry.js';

// HTTP controllers
export { Logger, InjectLogger, createLogger, logger, setLogFilter, setLogLevel, logFilter, type Level as LogLevel, type LevelWithSilent, type LogFn, type LoggerOptions } from './log.js';
export * from './http/index.js';

// Workflows
export * from './workflow/index.js';
// Job queues
export * from './queue/index.js';
// Processes
export { Pool, ProcessPool, type PoolOptions, type PoolStatus, type PoolStrategy, type MethodName, type MapOptions as PoolMapOptions } from './process/pool.js';
export {
  Supervisor,
  Child,
  OnChildCrash,
  OnChildRestart,
  ChildCrash,
  type SupervisorStatic,
  type SupervisorOptions,
  type SupervisionStrategy,
  type StatusPage,
  type StatusPageOptions,
  type ChildOptions,
  type ChildInfo,
  type ProcessInfo,
  type CrashDecision,
  type RestartPolicy,
} from './process/supervisor.js';
export type { ChildProgram, HealthCheckOptions } from './process/program.js';
export {
  serveAsChild,
  connectToParent,
  loadService,
  WORKER_ENTRY,
  workerCommand,
  type ChildHandle,
  type ParentLink,
  type StopSignal,
  type WorkerCommandOptions,
} from './process/worker.js';

// Testing
export * from './testing/index.js';

/** The engine version. */
export function version(): string {
  return native.version();
}
