// The workflow engine for TypeScript: a thin layer over the engine's. Stages run on this process's
// event loop (a returned Promise is awaited); the engine journals, schedules, retries, times out and
// compensates. Values cross as JSON. While operations are pending (a run being awaited, a query),
// the process stays alive; `close()` lets it exit.

import type { NativeWorkflowEngine } from '../../native.js';
import { native } from '../native.js';
import { errorFor, OmnitronError, call as nativeCall, invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { checkKeys, isThenable, OptionKeys } from '../util.js';
import { currentTrace, runInTrace } from '../telemetry.js';
import { definitionOf, isWorkflowClass, workflowNameOf, type StageContext, type StageDefinition, type CompensateFn, type WorkflowDefinition } from './definition.js';

/** Where a run is. */
export type RunState = 'pending' | 'running' | 'compensating' | 'completed' | 'compensated' | 'compensation_failed' | 'cancelled';
/** Where a stage is. */
export type StageState = 'pending' | 'running' | 'completed' | 'failed' | 'compensating' | 'compensated' | 'compensation_failed';

/** An error as the journal keeps it. */
export interface ErrorRecord {
  code: string;
  message: string;
  related: ErrorRecord[];
}

/** One failed attempt. */
export interface AttemptError {
  attempt: number;
  /** When (ms since the epoch). */
  atMs: number;
  error: ErrorRecord;
}

/** A stage of a run. */
export interface StageInfo {
  name: string;
  state: StageState;
  attempts: number;
  /** Its output, once completed. */
  output: unknown;
  errors: AttemptError[];
  startedAtMs: number | null;
  finishedAtMs: number | null;
  compensationAttempts: number;
  compensationErrors: AttemptError[];
}

/** A run: state, input, stages, error, times (ms since the epoch). */
export interface RunInfo {
  runId: string;
  workflow: string;
  state: RunState;
  input: unknown;
  attempts: number;
  stages: StageInfo[];
  error: ErrorRecord | null;
  createdAtMs: number;
  updatedAtMs: number;
  finishedAtMs: number | null;
  /** The run's trace (a W3C traceparent) when tracing was on as it started. */
  trace: string | null;
}

export interface RunSummary {
  runId: string;
  workflow: string;
  state: RunState;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface RunFilter {
  workflow?: WorkflowRef;
  state?: RunState;
  limit?: number;
}
const RUN_FILTER_KEYS = new OptionKeys(['workflow', 'state', 'limit']);

/** What `recover()` did. */
export interface Recovery {
  resumed: string[];
  compensating: string[];
  unrecovered: { runId: string; workflow: string; reason: string }[];
}

export interface StartOptions {
  /** The run's id (default: generated). Starting again with an id that exists returns that run. */
  runId?: string;
}
const START_KEYS = new OptionKeys(['runId']);

/** What `start`, `run` and `list` take to name a workflow: its name or its `@Workflow` class. */
export type WorkflowRef = string | (abstract new (...args: any[]) => object);

/** The outputs of a completed run: stage name to output. */
export type Outputs = Record<string, unknown>;

type Raw = Record<string, any>;

function errorRecord(r: Raw | null | undefined): ErrorRecord | null {
  if (!r) return null;
  return { code: r.code, message: r.message, related: (r.related ?? []).map((x: Raw) => errorRecord(x)!) };
}

function attempts(list: Raw[]): AttemptError[] {
  return list.map((a) => ({ attempt: a.attempt, atMs: a.at_ms, error: errorRecord(a.error)! }));
}

function runInfo(r: Raw): RunInfo {
  return {
    runId: r.run_id,
    workflow: r.workflow,
    state: r.state,
    input: r.input,
    attempts: r.attempts,
    stages: (r.stages as Raw[]).map((s) => ({
      name: s.name,
      state: s.state,
      attempts: s.attempts,
      output: s.output ?? null,
      errors: attempts(s.errors),
      startedAtMs: s.started_at_ms ?? null,
      finishedAtMs: s.finished_at_ms ?? null,
      compensationAttempts: s.compensation_attempts,
      compensationErrors: attempts(s.compensation_errors),
    })),
    error: errorRecord(r.error),
    createdAtMs: r.created_at_ms,
    updatedAtMs: r.updated_at_ms,
    finishedAtMs: r.finished_at_ms ?? null,
    trace: r.trace ?? null,
  };
}

/** The exception for an error record, its related errors as `errors`. */
function toError(r: ErrorRecord): OmnitronError {
  return errorFor(r.code, r.message, { errors: r.related.map(toError) });
}

/** A run started by `start()`. */
export class WorkflowRun<O extends Outputs = Outputs> {
  constructor(
    readonly engine: WorkflowEngine,
    /** The run's id. */
    readonly id: string,
  ) {}

  /** Resolves with the outputs, or rejects with the run's error (`WF007` stage failed, `WF010` compensation failed, ...). */
  wait(): Promise<O> {
    return this.engine.wait(this.id) as Promise<O>;
  }

  /** The run's state now. */
  get(): Promise<RunInfo> {
    return this.engine.get(this.id);
  }

  /** Cancels it (completed stages are compensated). */
  cancel(): Promise<RunInfo> {
    return this.engine.cancel(this.id);
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** A stage call being run here, so that an abandoned one can be aborted. */
class RunningContext implements StageContext {
  #ac: AbortController | undefined;
  #aborted = false;
  readonly runId: string;
  readonly workflow: string;
  readonly stage: string;
  readonly attempt: number;
  readonly idempotencyKey: string;
  readonly isCompensation: boolean;
  readonly workflowInput: unknown;
  readonly traceparent: string | undefined;

  constructor(c: Raw) {
    this.runId = c.runId;
    this.workflow = c.workflow;
    this.stage = c.stage;
    this.attempt = c.attempt;
    this.idempotencyKey = c.idempotencyKey;
    this.isCompensation = c.isCompensation;
    this.workflowInput = c.workflowInput;
    this.traceparent = c.traceparent ?? undefined;
  }

  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#aborted) this.#ac.abort();
    }
    return this.#ac.signal;
  }

  abort(): void {
    this.#aborted = true;
    this.#ac?.abort();
  }
}

/**
 * The workflow engine: register definitions (`@Workflow` classes, instances of them, or
 * `defineWorkflow(...).build()`), start runs, query, cancel, recover. Over a SQLite journal file
 * (`WorkflowEngine.open(path)`) or in memory (`WorkflowEngine.inMemory()`).
 */
export class WorkflowEngine {
  readonly #native: NativeWorkflowEngine;
  readonly #pending = new Map<number, Pending>();
  readonly #workflows = new Map<number, readonly StageDefinition[]>();
  readonly #running = new Map<number, RunningContext>();
  #nextOp = 1;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(path: string | undefined) {
    const cb = {
      invoke: ([id, wf, stage, compensation, input, ctx]: [number, number, number, boolean, string, string]) =>
        this.#invoke(id, wf, stage, compensation, input, ctx),
      abort: (id: number) => this.#running.get(id)?.abort(),
      done: ([op, result]: [number, string]) => this.#done(op, result),
    };
    this.#native = nativeCall(() => native.NativeWorkflowEngine.open(path, cb as any));
  }

  /** An engine over the SQLite journal file at `path` (created if missing). Open one engine per file per process. */
  static async open(path: string): Promise<WorkflowEngine> {
    if (typeof path !== 'string' || path === '') throw invalidArgument(`WorkflowEngine.open() needs a file path, got ${describe(path)}`);
    return new WorkflowEngine(path);
  }

  /** An engine whose journal lives in memory (nothing survives the process). */
  static inMemory(): WorkflowEngine {
    return new WorkflowEngine(undefined);
  }

  /**
   * Registers a workflow: a `@Workflow` class (instantiated without arguments), an instance of one
   * (e.g. built by the DI container), or a definition from `defineWorkflow()`. Returns its name.
   */
  register(workflow: WorkflowDefinition | object | (abstract new (...args: any[]) => object)): string {
    let def: WorkflowDefinition;
    if (isWorkflowClass(workflow)) {
      def = definitionOf(workflow, new (workflow as unknown as new () => object)());
    } else if (workflow !== null && typeof workflow === 'object' && isWorkflowClass(workflow.constructor)) {
      def = definitionOf(workflow.constructor, workflow);
    } else if (workflow !== null && typeof workflow === 'object' && Array.isArray((workflow as WorkflowDefinition).stages)) {
      def = workflow as WorkflowDefinition;
    } else {
      throw invalidArgument(`register() takes a @Workflow class, an instance of one, or defineWorkflow(...).build(), got ${describe(workflow)}`);
    }
    for (const s of def.stages) {
      if (typeof s.run !== 'function') throw invalidArgument(`workflow '${def.name}', stage '${s.name}': the stage must be a function, got ${describe(s.run)}`);
    }
    const stages: StageDefinition[] = def.stages.map((s) => ({ ...s }));
    // A compensation for a name that is not a stage is refused, naming the stages.
    const orphan = def.orphans[0];
    if (orphan) {
      throw errorFor(
        'WF004',
        `workflow '${def.name}': a compensation is given for stage '${orphan.stage}', which the workflow does not have (stages: ${stages.map((s) => s.name).join(', ') || 'none'})`,
      );
    }
    const index = nativeCall(() =>
      this.#native.register({
        name: def.name,
        timeoutMs: def.options.timeout,
        retries: def.options.retries,
        retryDelayMs: def.options.retryDelay,
        recovery: def.options.recovery,
        stages: stages.map((s) => ({
          name: s.name,
          dependsOn: s.dependsOn,
          timeoutMs: s.timeout,
          retries: s.retries,
          retryDelayMs: s.retryDelay,
          compensate: s.compensate !== undefined,
          compensationRetries: s.compensation?.retries,
          compensationRetryDelayMs: s.compensation?.retryDelay,
        })),
      }),
    );
    this.#workflows.set(index, stages);
    return def.name;
  }

  /** The registered workflows' names, sorted. */
  get workflows(): string[] {
    return this.#native.workflows();
  }

  /** Starts a run of `workflow` (its name or its `@Workflow` class) and resolves once its creation is journaled. */
  async start<O extends Outputs = Outputs>(name: WorkflowRef, input?: unknown, opts: StartOptions = {}): Promise<WorkflowRun<O>> {
    const id = (await this.#op((op) => this.#native.start(op, this.#name(name), json(input, 'the input'), runIdOf(opts, 'WorkflowEngine.start()'), currentTrace()?.traceparent))) as string;
    return new WorkflowRun<O>(this, id);
  }

  /** Starts a run of `workflow` (its name or its `@Workflow` class) and resolves with its outputs (or rejects with its error). */
  run<O extends Outputs = Outputs>(name: WorkflowRef, input?: unknown, opts: StartOptions = {}): Promise<O> {
    return this.#op((op) => this.#native.run(op, this.#name(name), json(input, 'the input'), runIdOf(opts, 'WorkflowEngine.run()'), currentTrace()?.traceparent)) as Promise<O>;
  }

  /** Waits for a run's end. A run unfinished in the journal but not running here fails at once (call `recover()` first). */
  wait<O extends Outputs = Outputs>(runId: string): Promise<O> {
    return this.#op((op) => this.#native.wait(op, this.#runId(runId))) as Promise<O>;
  }

  /** A run's state, stages, attempts, errors and times. */
  async get(runId: string): Promise<RunInfo> {
    return runInfo((await this.#op((op) => this.#native.get(op, this.#runId(runId)))) as Raw);
  }

  /** Runs in the journal, oldest first. */
  async list(filter: RunFilter = {}): Promise<RunSummary[]> {
    if (filter === null || typeof filter !== 'object') throw invalidArgument(`list() takes a filter object, got ${describe(filter)}`);
    checkKeys(filter, RUN_FILTER_KEYS, 'WorkflowEngine.list()');
    const { state, limit } = filter;
    const workflow = filter.workflow === undefined ? undefined : this.#name(filter.workflow);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) throw invalidArgument(`list() limit must be a whole number, got ${describe(limit)}`);
    const raw = (await this.#op((op) => this.#native.list(op, workflow, state, limit))) as Raw[];
    return raw.map((r) => ({ runId: r.run_id, workflow: r.workflow, state: r.state, createdAtMs: r.created_at_ms, updatedAtMs: r.updated_at_ms }));
  }

  /** Cancels a run: stages in flight are abandoned (their `ctx.signal` aborts), completed ones compensated. */
  async cancel(runId: string): Promise<RunInfo> {
    return runInfo((await this.#op((op) => this.#native.cancel(op, this.#runId(runId)))) as Raw);
  }

  /** Takes up the runs a stopped process left unfinished (register the workflows first). */
  recover(): Promise<Recovery> {
    return this.#op((op) => this.#native.recover(op)) as Promise<Recovery>;
  }

  /** Lets the process exit once nothing is pending; new operations are refused. */
  close(): void {
    this.#closed = true;
    this.#hold();
  }

  #name(name: unknown): string {
    const n = workflowNameOf(name) ?? name;
    if (typeof n !== 'string' || n === '') throw invalidArgument(`a workflow is named by a non-empty string or its @Workflow class, got ${describe(name)}`);
    return n;
  }

  #runId(id: unknown): string {
    if (typeof id !== 'string' || id === '') throw invalidArgument(`a run id must be a non-empty string, got ${describe(id)}`);
    return id;
  }

  #op(start: (op: number) => void): Promise<unknown> {
    if (this.#closed) return Promise.reject(errorFor('E001', 'this workflow engine was closed'));
    return new Promise((resolve, reject) => {
      const op = this.#nextOp++;
      try {
        start(op);
      } catch (e) {
        return reject(e);
      }
      this.#pending.set(op, { resolve, reject });
      this.#hold();
    });
  }

  #done(op: number, result: string): void {
    const p = this.#pending.get(op);
    if (!p) return;
    this.#pending.delete(op);
    this.#hold();
    const r = JSON.parse(result) as { ok?: unknown; error?: ErrorRecord };
    if (r.error) p.reject(toError(errorRecord(r.error)!));
    else p.resolve(r.ok);
  }

  #invoke(id: number, wf: number, stage: number, compensation: boolean, input: string, ctx: string): void {
    const answer = (code: string | null, message: string | null, output: string | null) => native.workflowAnswer(id, code, message, output);
    const s = this.#workflows.get(wf)?.[stage];
    const f: ((v: unknown, c: StageContext) => unknown) | undefined = compensation ? (s?.compensate as CompensateFn | undefined) : s?.run;
    if (!f) return void answer('E003', `no function for stage #${stage} of workflow #${wf}`, null);
    const raw = JSON.parse(ctx) as Raw;
    const c = new RunningContext(raw);
    this.#running.set(id, c);
    const fail = (e: unknown) => {
      this.#running.delete(id);
      if (e instanceof OmnitronError) answer(e.code, e.message, null);
      else {
        const name = e instanceof Error ? e.constructor.name : typeof e;
        answer('E004', `${name}: ${e instanceof Error ? e.message : String(e)}`, null);
      }
    };
    const ok = (v: unknown) => {
      this.#running.delete(id);
      let text: string | undefined;
      try {
        text = compensation ? undefined : JSON.stringify(v);
      } catch (e) {
        return fail(errorFor('E001', `stage '${c.stage}' returned a value that cannot be turned into JSON: ${(e as Error).message}`));
      }
      answer(null, null, text ?? null);
    };
    try {
      // The attempt's span is the current trace while it runs: the calls it makes are its children.
      const r = raw.traceparent ? runInTrace({ traceparent: raw.traceparent as string }, () => f(JSON.parse(input), c)) : f(JSON.parse(input), c);
      if (isThenable(r)) r.then(ok, fail);
      else ok(r);
    } catch (e) {
      fail(e);
    }
  }

  #hold(): void {
    const want = this.#pending.size > 0;
    if (want && !this.#keepAlive) this.#keepAlive = setInterval(() => {}, 1 << 30);
    else if (!want && this.#keepAlive) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}

function json(v: unknown, what: string): string {
  let t: string | undefined;
  try {
    t = JSON.stringify(v);
  } catch (e) {
    throw invalidArgument(`${what} cannot be turned into JSON: ${(e as Error).message}`);
  }
  return t ?? 'null';
}

function runIdOf(opts: StartOptions, what: string): string | undefined {
  if (opts === null || typeof opts !== 'object') throw invalidArgument(`${what} takes an options object, got ${describe(opts)}`);
  checkKeys(opts, START_KEYS, what);
  if (opts.runId !== undefined && (typeof opts.runId !== 'string' || opts.runId === '')) {
    throw invalidArgument(`runId must be a non-empty string, got ${describe(opts.runId)}`);
  }
  return opts.runId;
}
