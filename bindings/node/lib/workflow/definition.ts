// Workflow definitions for TypeScript: the spec's @Workflow / @Stage / @Compensate decorators and a
// programmatic builder. Both only collect metadata; the engine checks the graph (cycles, unknown
// dependencies, duplicates) when the definition is registered.

import { errorFor, fromInfo, invalidArgument, OmnitronError } from '../errors.js';
import { native } from '../native.js';
import { describe } from '../di/tokens.js';
import { fn, methodOf, OptionKeys, options, rawOptions, str } from '../util.js';

/** What a stage (or a compensation) knows about its run. */
export interface StageContext {
  /** The run's id. */
  readonly runId: string;
  /** The workflow's name. */
  readonly workflow: string;
  /** The stage's name (for a compensation: the stage it undoes). */
  readonly stage: string;
  /** This attempt's number, from 1, over the run's whole life. */
  readonly attempt: number;
  /** `{runId}:{stage}` (`...:compensate` for a compensation): the same on every attempt and after a crash. */
  readonly idempotencyKey: string;
  /** Whether this is a compensation. */
  readonly isCompensation: boolean;
  /** The run's input. */
  readonly workflowInput: unknown;
  /** Aborted when the attempt is abandoned (stage timeout, run cancelled or timed out). */
  readonly signal: AbortSignal;
  /** The trace this attempt runs in (a W3C traceparent), when the run is traced; also `currentTrace()` inside it. */
  readonly traceparent: string | undefined;
}

/** A stage: gets the run's input (no dependency), its dependency's output (one) or an object from dependency name to output (several). */
export type StageFn<I = any, O = unknown> = (input: I, ctx: StageContext) => O | Promise<O>;
/** A compensation: gets the output of the stage it undoes. */
export type CompensateFn<O = any> = (output: O, ctx: StageContext) => unknown;

export interface WorkflowOptions {
  /** The workflow's name, unique per engine (`@Workflow()` default: the class's name; required by `defineWorkflow`). */
  name?: string;
  /** Each attempt of a whole run must finish within this many ms. */
  timeout?: number;
  /** Attempts of the whole run after the first (re-running only what failed or never ran). */
  retries?: number;
  /** First delay between run attempts, in ms (doubling; default 100). */
  retryDelay?: number;
  /** What recovery does with a run its process left unfinished: `resume` (default) or `compensate`. */
  recovery?: 'resume' | 'compensate';
}

/** The keys `@Workflow({...})` and `defineWorkflow({...})` take (anything else is refused with E001). */
export const WORKFLOW_KEYS = new OptionKeys(['name', 'timeout', 'retries', 'retryDelay', 'recovery']);

export interface StageOptions {
  /** The stage's name (default: the method's name). */
  name?: string;
  /** The stage(s) it runs after. */
  dependsOn?: string | string[];
  /** Each attempt must finish within this many ms. */
  timeout?: number;
  /** Attempts after the first. */
  retries?: number;
  /** First delay between attempts, in ms (doubling; default 100). */
  retryDelay?: number;
}

/** The keys `@Stage({...})` takes (`.stage(name, fn, {...})`: the same but `name`). */
export const STAGE_KEYS = new OptionKeys(['name', 'dependsOn', 'timeout', 'retries', 'retryDelay']);
const BUILDER_STAGE_KEYS = new OptionKeys(['dependsOn', 'timeout', 'retries', 'retryDelay']);

export interface CompensateOptions {
  /** Attempts of the compensation after the first. */
  retries?: number;
  /** First delay between attempts, in ms (doubling; default 100). */
  retryDelay?: number;
}

/** The keys `@Compensate(stage, {...})` takes. */
export const COMPENSATE_KEYS = new OptionKeys(['retries', 'retryDelay']);

/** One stage of a definition. */
export interface StageDefinition {
  name: string;
  run: StageFn;
  dependsOn: string[];
  timeout?: number;
  retries?: number;
  retryDelay?: number;
  compensate?: CompensateFn;
  compensation?: CompensateOptions;
}

/** A workflow ready to be registered with a `WorkflowEngine`. */
export interface WorkflowDefinition {
  readonly name: string;
  readonly options: Readonly<WorkflowOptions>;
  readonly stages: readonly StageDefinition[];
  /** Compensations given for a stage name that is not (yet) a stage: the engine reports them. */
  readonly orphans: readonly { stage: string; fn: CompensateFn; options: CompensateOptions }[];
}

const STEP_KEYS = {
  workflow: ['timeout', 'retries', 'retryDelay', 'recovery'],
  stage: ['timeout', 'retries', 'retryDelay'],
  compensation: ['retries', 'retryDelay'],
} as const;

/**
 * Checks a workflow's, stage's or compensation's options in the engine, which says what is wrong
 * in TypeScript's words (milliseconds, `retryDelay`), where they are written.
 */
function checkStep(kind: keyof typeof STEP_KEYS, o: object, what: string): void {
  const e = native.checkWorkflowOptions(kind, what, rawOptions(o, STEP_KEYS[kind]));
  if (e) throw fromInfo(e);
}

function deps(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((d) => typeof d === 'string')) return [...(v as string[])];
  throw invalidArgument(`${what} dependsOn must be a stage name or an array of stage names, got ${describe(v)}`);
}

/** Checked options; `name` may be missing only where a default comes later (the decorated class's name). */
function workflowOptions(o: unknown, what: string, nameRequired = true): WorkflowOptions {
  const opts = options<WorkflowOptions>(o, what, WORKFLOW_KEYS);
  const name = str(opts.name, `${what} name`);
  if (name === '' || (nameRequired && name === undefined)) throw errorFor('WF004', `${what} needs a non-empty name, got ${describe(opts.name)}`);
  checkStep('workflow', opts, what);
  return { name, timeout: opts.timeout, retries: opts.retries, retryDelay: opts.retryDelay, recovery: opts.recovery };
}

function compensateOptions(o: unknown, what: string): CompensateOptions {
  const opts = options<CompensateOptions>(o, what, COMPENSATE_KEYS);
  checkStep('compensation', opts, what);
  return { retries: opts.retries, retryDelay: opts.retryDelay };
}

/** Builds a workflow definition in code: `defineWorkflow('order').stage('reserve', fn).stage('pay', fn, { dependsOn: 'reserve' })`. */
export class WorkflowBuilder {
  readonly #options: WorkflowOptions;
  readonly #stages: StageDefinition[] = [];
  readonly #orphans: { stage: string; fn: CompensateFn; options: CompensateOptions }[] = [];

  constructor(nameOrOptions: string | WorkflowOptions) {
    const o = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
    this.#options = workflowOptions(o, 'defineWorkflow()');
  }

  /** Adds a stage named `name` running `run(input, ctx)`. */
  stage(name: string, run: StageFn, opts?: Omit<StageOptions, 'name'>): this {
    if (typeof name !== 'string' || name === '') throw errorFor('WF004', `workflow '${this.#options.name}': a stage needs a non-empty name, got ${describe(name)}`);
    const what = `workflow '${this.#options.name}', stage '${name}':`;
    if (typeof run !== 'function') throw invalidArgument(`${what} the stage must be a function, got ${describe(run)}`);
    const o = options<StageOptions>(opts, `defineWorkflow('${this.#options.name}').stage('${name}')`, BUILDER_STAGE_KEYS);
    const dependsOn = deps(o.dependsOn, what);
    checkStep('stage', o, what.slice(0, -1));
    this.#stages.push({ name, run, dependsOn, timeout: o.timeout, retries: o.retries, retryDelay: o.retryDelay });
    return this;
  }

  /** The compensation undoing stage `stage` (given its output). */
  compensate(stage: string, f: CompensateFn, opts?: CompensateOptions): this {
    const what = `workflow '${this.#options.name}', compensation of '${String(stage)}':`;
    if (typeof stage !== 'string') throw invalidArgument(`${what} the stage name must be a string, got ${describe(stage)}`);
    fn(f, `${what} the compensation`);
    if (f === undefined) throw invalidArgument(`${what} the compensation must be a function, got undefined`);
    const o = compensateOptions(opts, `defineWorkflow('${this.#options.name}').compensate('${stage}')`);
    const s = this.#stages.find((x) => x.name === stage);
    if (s) {
      s.compensate = f;
      s.compensation = o;
    } else {
      this.#orphans.push({ stage, fn: f, options: o });
    }
    return this;
  }

  /** The definition (checked by the engine when registered). */
  build(): WorkflowDefinition {
    // Orphans whose stage was added later attach to it now.
    const orphans = this.#orphans.filter((o) => {
      const s = this.#stages.find((x) => x.name === o.stage);
      if (!s) return true;
      s.compensate = o.fn;
      s.compensation = o.options;
      return false;
    });
    return Object.freeze({
      name: this.#options.name!,
      options: Object.freeze({ ...this.#options }),
      stages: Object.freeze(this.#stages.map((s) => ({ ...s, dependsOn: [...s.dependsOn] }))),
      orphans: Object.freeze(orphans),
    });
  }
}

/** Starts a programmatic definition. */
export function defineWorkflow(nameOrOptions: string | WorkflowOptions): WorkflowBuilder {
  return new WorkflowBuilder(nameOrOptions);
}

// ---- decorators ---------------------------------------------------------------------------------

const WORKFLOW = Symbol.for('omnitron.workflow');
const STAGES = Symbol.for('omnitron.workflow.stages');
const COMPENSATIONS = Symbol.for('omnitron.workflow.compensations');

type Ctor = abstract new (...args: any[]) => object;

interface StageMeta {
  key: string | symbol;
  options: StageOptions;
}

interface CompensateMeta {
  key: string | symbol;
  stage: string;
  options: CompensateOptions;
}

function own<T>(ctor: object, key: symbol): T[] {
  const c = ctor as Record<symbol, T[]>;
  if (!Object.prototype.hasOwnProperty.call(c, key)) {
    Object.defineProperty(c, key, { value: [...(c[key] ?? [])], enumerable: false, configurable: true });
  }
  return c[key];
}

/**
 * `@Workflow({ name, timeout, retries })`, `@Workflow('order-processing')` or `@Workflow()`: a class
 * whose `@Stage` methods form a workflow. Without a name it is named after the class.
 */
export function Workflow(nameOrOptions?: string | WorkflowOptions): <C extends Ctor>(cls: C) => C {
  const given = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
  const o = workflowOptions(given, '@Workflow()', false);
  return (cls) => {
    if (typeof cls !== 'function') throw invalidArgument(`@Workflow decorates classes, got ${describe(cls)}`);
    const name = o.name ?? cls.name;
    if (!name) throw errorFor('WF004', `@Workflow() on an anonymous class needs a name: @Workflow({ name: '...' })`);
    Object.defineProperty(cls, WORKFLOW, { value: { ...o, name }, enumerable: false, configurable: true });
    return cls;
  };
}

/**
 * `@Stage({ name, dependsOn, timeout, retries })`, `@Stage('validate')` or `@Stage()`: the method is
 * a stage of its `@Workflow` class (named after the method unless a name is given).
 */
export function Stage(nameOrOptions?: string | StageOptions): MethodDecorator {
  const given = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
  const o = options<StageOptions>(given, '@Stage()', STAGE_KEYS);
  const what = `@Stage(${o.name === undefined ? '' : `'${String(o.name)}'`})`;
  if (str(o.name, `${what} name`) === '') throw errorFor('WF004', `@Stage() needs a non-empty name, got ''`);
  deps(o.dependsOn, what);
  checkStep('stage', o, what);
  return (target, key, descriptor) => {
    methodOf(descriptor, 'Stage', key);
    own<StageMeta>(target.constructor, STAGES).push({ key, options: o });
  };
}

/** `@Compensate('reserve')`: the method undoes stage `reserve`, given its output. */
export function Compensate(stage: string, opts?: CompensateOptions): MethodDecorator {
  if (typeof stage !== 'string' || stage === '') throw invalidArgument(`@Compensate needs the name of the stage it undoes, got ${describe(stage)}`);
  const o = compensateOptions(opts, `@Compensate('${stage}')`);
  return (target, key, descriptor) => {
    methodOf(descriptor, 'Compensate', key);
    own<CompensateMeta>(target.constructor, COMPENSATIONS).push({ key, stage, options: o });
  };
}

/** The name a `@Workflow` class registers under, or undefined for anything else. */
export function workflowNameOf(v: unknown): string | undefined {
  return isWorkflowClass(v) ? (v as unknown as Record<symbol, WorkflowOptions>)[WORKFLOW].name : undefined;
}

/** The definition of a `@Workflow` class, with its methods bound to `instance`. */
export function definitionOf(cls: Ctor, instance: object): WorkflowDefinition {
  const o = (cls as unknown as Record<symbol, WorkflowOptions | undefined>)[WORKFLOW];
  if (!o) throw invalidArgument(`${describe(cls)} is not a @Workflow class: decorate it with @Workflow()`);
  const b = new WorkflowBuilder(o);
  const methods = instance as Record<string | symbol, unknown>;
  for (const s of (cls as unknown as Record<symbol, StageMeta[] | undefined>)[STAGES] ?? []) {
    const f = methods[s.key] as StageFn;
    const { name, ...rest } = s.options;
    b.stage(name ?? String(s.key), (input, ctx) => f.call(instance, input, ctx), rest);
  }
  for (const c of (cls as unknown as Record<symbol, CompensateMeta[] | undefined>)[COMPENSATIONS] ?? []) {
    const f = methods[c.key] as CompensateFn;
    b.compensate(c.stage, (output, ctx) => f.call(instance, output, ctx), c.options);
  }
  return b.build();
}

/** Whether `v` is a `@Workflow` class. */
export function isWorkflowClass(v: unknown): v is Ctor {
  return typeof v === 'function' && (v as unknown as Record<symbol, unknown>)[WORKFLOW] !== undefined;
}
