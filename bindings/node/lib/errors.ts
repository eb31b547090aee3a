/**
 * The error every Omnitron API throws. `code` is the engine's stable id (`DI001` for a missing
 * provider, ...), the same one C, Rust and Python see.
 */
export class OmnitronError extends Error {
  /** The engine's stable error id, e.g. `DI001`. */
  readonly code: string;
  /** For aggregate errors (a dispose where several hooks failed): each original error. */
  readonly errors: unknown[];

  constructor(code: string, message: string, options?: { cause?: unknown; errors?: unknown[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errors = options?.errors ?? [];
    this.name = ERROR_NAMES[code] ?? 'OmnitronError';
  }
}

/** Stable codes, as constants. */
export const ErrorCodes = {
  INVALID_ARGUMENT: 'E001',
  INTERNAL: 'E003',
  CALLBACK_FAILED: 'E004',
  MISSING_PROVIDER: 'DI001',
  CIRCULAR_DEPENDENCY: 'DI002',
  DUPLICATE_PROVIDER: 'DI003',
  INVALID_PROVIDER: 'DI004',
  ASYNC_PROVIDER_RESOLVED_SYNC: 'DI005',
  SCOPE_VIOLATION: 'DI006',
  SCOPE_REQUIRED: 'DI007',
  CONTAINER_DISPOSED: 'DI008',
  CIRCULAR_MODULE_IMPORT: 'DI009',
  NOT_EXPORTED: 'DI010',
  FACTORY_FAILED: 'DI011',
  LIFECYCLE_FAILED: 'DI012',
  INVALID_MODULE: 'DI013',
  INVALID_SCOPE: 'DI014',
  DEPENDENCY_TOO_DEEP: 'DI015',
  INVALID_METRIC_NAME: 'M001',
  INVALID_LABELS: 'M002',
  CARDINALITY_EXCEEDED: 'M003',
  METRIC_CONFLICT: 'M004',
  INVALID_BUCKETS: 'M005',
  INVALID_METRIC_VALUE: 'M006',
  EXPORTER_FAILED: 'M007',
  CIRCUIT_OPEN: 'R001',
  RATE_LIMITED: 'R002',
  BULKHEAD_FULL: 'R003',
  RETRY_EXHAUSTED: 'R004',
  INVALID_POLICY: 'R005',
  SERVICE_NOT_FOUND: 'RPC001',
  METHOD_NOT_FOUND: 'RPC002',
  AUTH_FAILED: 'RPC003',
  PEER_DISCONNECTED: 'RPC004',
  PROTOCOL_ERROR: 'RPC005',
  FRAME_TOO_LARGE: 'RPC006',
  DUPLICATE_SERVICE: 'RPC007',
  REMOTE_ERROR: 'RPC008',
  NOT_CONNECTED: 'RPC009',
  INVALID_SERVICE: 'RPC010',
  SPAWN_FAILED: 'P001',
  CHILD_NOT_READY: 'P002',
  QUEUE_FULL: 'P003',
  WORKER_LOST: 'P004',
  NOT_RUNNING: 'P005',
  RESTART_LIMIT: 'P006',
  INVALID_CONFIG: 'P007',
  CHILD_NOT_FOUND: 'P008',
  NO_PARENT: 'P009',
  WORKFLOW_CYCLE: 'WF001',
  UNKNOWN_DEPENDENCY: 'WF002',
  DUPLICATE_STAGE: 'WF003',
  INVALID_WORKFLOW: 'WF004',
  WORKFLOW_NOT_FOUND: 'WF005',
  RUN_NOT_FOUND: 'WF006',
  STAGE_FAILED: 'WF007',
  STAGE_TIMEOUT: 'WF008',
  WORKFLOW_TIMEOUT: 'WF009',
  COMPENSATION_FAILED: 'WF010',
  RUN_CANCELLED: 'WF011',
  JOURNAL_ERROR: 'WF012',
  JOURNAL_VERSION: 'WF013',
  DUPLICATE_WORKFLOW: 'WF014',
  RUN_INTERRUPTED: 'WF015',
  RUN_ID_CONFLICT: 'WF016',
  CANCELLED: 'E005',
  TIMEOUT: 'E006',
} as const;

const ERROR_NAMES: Record<string, string> = {
  E001: 'InvalidArgumentError',
  DI001: 'MissingProviderError',
  DI002: 'CircularDependencyError',
  DI003: 'DuplicateProviderError',
  DI004: 'InvalidProviderError',
  DI005: 'AsyncResolutionError',
  DI006: 'ScopeViolationError',
  DI007: 'ScopeRequiredError',
  DI008: 'ContainerDisposedError',
  DI009: 'CircularModuleImportError',
  DI010: 'NotExportedError',
  DI011: 'FactoryError',
  DI012: 'LifecycleError',
  DI013: 'InvalidModuleError',
  DI014: 'InvalidScopeError',
  DI015: 'DependencyTooDeepError',
  M001: 'InvalidMetricNameError',
  M002: 'InvalidLabelsError',
  M003: 'CardinalityExceededError',
  M004: 'MetricConflictError',
  M005: 'InvalidBucketsError',
  M006: 'InvalidMetricValueError',
  M007: 'ExporterError',
  R001: 'CircuitOpenError',
  R002: 'RateLimitedError',
  R003: 'BulkheadFullError',
  R004: 'RetryExhaustedError',
  R005: 'InvalidPolicyError',
  RPC001: 'ServiceNotFoundError',
  RPC002: 'MethodNotFoundError',
  RPC003: 'AuthFailedError',
  RPC004: 'PeerDisconnectedError',
  RPC005: 'ProtocolError',
  RPC006: 'FrameTooLargeError',
  RPC007: 'DuplicateServiceError',
  RPC008: 'RemoteError',
  RPC009: 'NotConnectedError',
  RPC010: 'InvalidServiceError',
  P001: 'SpawnFailedError',
  P002: 'ChildNotReadyError',
  P003: 'QueueFullError',
  P004: 'WorkerLostError',
  P005: 'NotRunningError',
  P006: 'RestartLimitError',
  P007: 'InvalidConfigError',
  P008: 'ChildNotFoundError',
  P009: 'NoParentError',
  E005: 'CancelledError',
  E006: 'TimeoutError',
  WF001: 'WorkflowCycleError',
  WF002: 'UnknownDependencyError',
  WF003: 'DuplicateStageError',
  WF004: 'InvalidWorkflowError',
  WF005: 'WorkflowNotFoundError',
  WF006: 'RunNotFoundError',
  WF007: 'StageFailedError',
  WF008: 'StageTimeoutError',
  WF009: 'WorkflowTimeoutError',
  WF010: 'CompensationFailedError',
  WF011: 'RunCancelledError',
  WF012: 'JournalError',
  WF013: 'JournalVersionError',
  WF014: 'DuplicateWorkflowError',
  WF015: 'RunInterruptedError',
  WF016: 'RunIdConflictError',
};

/** Whether `e` is an OmnitronError, optionally with a given code. */
export function isOmnitronError(e: unknown, code?: string): e is OmnitronError {
  return e instanceof OmnitronError && (code === undefined || e.code === code);
}

/** An engine error description turned into an exception. */
export function fromInfo(info: { code: string; message: string }, options?: { cause?: unknown; errors?: unknown[] }): OmnitronError {
  return new OmnitronError(info.code, info.message, options);
}

/** Calls into the addon, rethrowing its errors (which carry `code`) as OmnitronError. */
export function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && !(e instanceof OmnitronError)) {
      throw new OmnitronError((e as unknown as { code: string }).code, e.message);
    }
    throw e;
  }
}

export function invalidArgument(message: string): OmnitronError {
  return new OmnitronError(ErrorCodes.INVALID_ARGUMENT, message);
}

export function invalidProvider(message: string): OmnitronError {
  return new OmnitronError(ErrorCodes.INVALID_PROVIDER, message);
}
