// Metrics for Node: the engine's registry, with counters and histograms that JavaScript records into
// memory the engine reads (a Float64Array over a shard of the series' cells), so `inc()` never crosses
// into native code. Gauges, whose `set` cannot be split across writers, are native calls.

import type { NativeMetric, NativeRegistry, NativeSeries } from '../../native.js';
import { native } from '../native.js';
import { errorFor, call, invalidArgument, OmnitronError, ErrorCodes } from '../errors.js';
import { describe } from '../di/tokens.js';
import { OptionKeys, options } from '../util.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';
/** Label values by label name. */
export type Labels = Record<string, string | number>;

export interface MetricConfig {
  name: string;
  help?: string;
  labelNames?: readonly string[];
  /** Histogram bucket upper bounds (ascending); default 5 ms to 10 s. */
  buckets?: readonly number[];
  /** Cap on label sets (default 10,000). */
  cardinalityLimit?: number;
}

/** The keys of `MetricConfig` (anything else is refused with E001; the registry is the one called). */
export const METRIC_CONFIG_KEYS = new OptionKeys(['name', 'help', 'labelNames', 'buckets', 'cardinalityLimit']);
const SERVE_KEYS = new OptionKeys(['port', 'host']);

const SEP = '\u0001';

/** A set of metrics exposed together. `Registry.global` is where the engine reports too. */
export class Registry {
  /** @internal */
  readonly native: NativeRegistry;
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();
  static #global: Registry | undefined;

  constructor(nativeRegistry?: NativeRegistry) {
    this.native = nativeRegistry ?? new native.NativeRegistry();
  }

  /** The process-wide registry. */
  static get global(): Registry {
    return (Registry.#global ??= new Registry(native.NativeRegistry.global()));
  }

  counter(config: MetricConfig): Counter {
    return this.#get('counter', config) as Counter;
  }

  gauge(config: MetricConfig): Gauge {
    return this.#get('gauge', config) as Gauge;
  }

  histogram(config: MetricConfig): Histogram {
    return this.#get('histogram', config) as Histogram;
  }

  #get(type: MetricType, config: MetricConfig): Counter | Gauge | Histogram {
    const c = options<MetricConfig>(config, `Registry.${type}()`, METRIC_CONFIG_KEYS);
    if (typeof c.name !== 'string') throw invalidArgument(`a metric needs a name (a string), got ${describe(c.name)}`);
    const labelNames = c.labelNames ?? [];
    if (!Array.isArray(labelNames) || labelNames.some((l) => typeof l !== 'string')) {
      throw invalidArgument(`labelNames of '${c.name}' must be an array of strings`);
    }
    if (c.buckets !== undefined && (!Array.isArray(c.buckets) || c.buckets.some((b) => typeof b !== 'number'))) {
      throw invalidArgument(`buckets of '${c.name}' must be an array of numbers`);
    }
    if (c.help !== undefined && typeof c.help !== 'string') throw invalidArgument(`help of '${c.name}' must be a string`);
    const family = call(() =>
      this.native.metric({
        kind: type,
        name: c.name,
        help: c.help ?? '',
        labelNames: [...labelNames],
        buckets: c.buckets ? [...c.buckets] : undefined,
        cardinalityLimit: c.cardinalityLimit,
      }),
    );
    const existing = this.#metrics.get(c.name);
    if (existing) return existing;
    const m = type === 'counter' ? new Counter(family, labelNames) : type === 'gauge' ? new Gauge(family, labelNames) : new Histogram(family, labelNames);
    this.#metrics.set(c.name, m);
    return m;
  }

  /** A metric declared through this registry object, by name. */
  getSingleMetric(name: string): Counter | Gauge | Histogram | undefined {
    return this.#metrics.get(name);
  }

  removeSingleMetric(name: string): void {
    this.#metrics.delete(name);
    this.native.unregister(name);
  }

  clear(): void {
    this.#metrics.clear();
    this.native.clear();
  }

  /** Every metric in the Prometheus text format. */
  metrics(): string {
    return this.native.text();
  }

  /** Every metric in the OpenMetrics format. */
  openMetrics(): string {
    return this.native.openmetrics();
  }

  /** Content type of `metrics()`. */
  get contentType(): string {
    return 'text/plain; version=0.0.4; charset=utf-8';
  }

  /** Every metric as plain data. */
  snapshot(): MetricSnapshot[] {
    return JSON.parse(this.native.snapshotJson());
  }

  /** Serves `GET /metrics` over HTTP. `port: 0` picks a free port (see `server.port`). */
  serve(opts: { port?: number; host?: string } = {}): MetricsServer {
    const o = options<{ port?: number; host?: string }>(opts, 'Registry.serve()', SERVE_KEYS);
    const port = o.port ?? 9464;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument(`port must be 0..65535, got ${describe(port)}`);
    const host = o.host ?? '127.0.0.1';
    const server = call(() => this.native.serve(`${host}:${port}`));
    return { port: server.port, host, stop: () => server.stop() };
  }
}

export interface MetricsServer {
  readonly port: number;
  readonly host: string;
  /** Stops the server (idempotent). */
  stop(): void;
}

export interface MetricSnapshot {
  name: string;
  help: string;
  type: MetricType;
  label_names: string[];
  series: { labels: Record<string, string>; value: number | { buckets: { le: number | '+Inf'; count: number }[]; sum: number; count: number } }[];
}

abstract class Family {
  /** @internal */
  protected readonly family: NativeMetric;
  protected readonly labelNames: readonly string[];
  readonly #series = new Map<string, NativeSeries>();

  constructor(family: NativeMetric, labelNames: readonly string[]) {
    this.family = family;
    this.labelNames = labelNames;
  }

  get name(): string {
    return this.family.name;
  }

  /** The key of a label object (validated), in label-name order. */
  protected key(labels: Labels): string {
    const names = this.labelNames;
    if (names.length === 1) return String(labels[names[0]]);
    let k = '';
    for (let i = 0; i < names.length; i++) k += (i ? SEP : '') + String(labels[names[i]]);
    return k;
  }

  protected values(labels: Labels | undefined): string[] {
    if (labels !== undefined && (labels === null || typeof labels !== 'object')) {
      throw invalidArgument(`labels of '${this.name}' must be an object, got ${describe(labels)}`);
    }
    const names = this.labelNames;
    const got = labels === undefined ? [] : Object.keys(labels);
    if (got.length !== names.length || names.some((n) => labels![n] === undefined)) {
      throw errorFor(
        ErrorCodes.INVALID_LABELS,
        `metric '${this.name}' has labels [${names.join(', ')}] but got {${got.join(', ')}}`,
      );
    }
    return names.map((n) => String(labels![n]));
  }

  protected nativeSeries(key: string, labels: Labels | undefined): NativeSeries {
    let s = this.#series.get(key);
    if (s === undefined) {
      const values = this.values(labels);
      s = call(() => this.family.series(values));
      this.#series.set(key, s);
    }
    return s;
  }
}

/** A counter: only goes up. */
export class Counter extends Family {
  readonly #cells = new Map<string, Float64Array>();
  #unlabeled: Float64Array | undefined;

  constructor(family: NativeMetric, labelNames: readonly string[]) {
    super(family, labelNames);
    if (labelNames.length === 0) this.#unlabeled = this.#shard('', undefined);
  }

  #shard(key: string, labels: Labels | undefined): Float64Array {
    const cells = call(() => this.nativeSeries(key, labels).shard());
    this.#cells.set(key, cells);
    return cells;
  }

  /** `inc()`, `inc(5)`, `inc({ status: 'paid' })`, `inc({ status: 'paid' }, 5)`. */
  inc(labelsOrValue?: Labels | number, value?: number): void {
    const u = this.#unlabeled;
    if (u !== undefined && labelsOrValue === undefined) {
      u[0] += 1;
      return;
    }
    let labels: Labels | undefined;
    let v: number;
    if (typeof labelsOrValue === 'number') {
      v = labelsOrValue;
    } else {
      labels = labelsOrValue;
      v = value ?? 1;
    }
    if (!(v >= 0)) {
      // Let the engine refuse it, with its message.
      call(() => this.nativeSeries(labels ? this.key(labels) : '', labels).add(v));
      return;
    }
    if (labels === undefined) {
      if (u === undefined) this.values({}); // the engine names the missing labels
      u![0] += v;
      return;
    }
    const key = this.key(labels);
    const cells = this.#cells.get(key) ?? this.#shard(key, labels);
    cells[0] += v;
  }

  /** The child for these label values, in label-name order. */
  labels(...values: (string | number)[]): { inc(value?: number): void } {
    if (values.length !== this.labelNames.length) {
      throw errorFor(
        ErrorCodes.INVALID_LABELS,
        `metric '${this.name}' has labels [${this.labelNames.join(', ')}] but got ${values.length} value(s)`,
      );
    }
    const labels: Labels = {};
    this.labelNames.forEach((n, i) => {
      labels[n] = values[i];
    });
    const key = this.key(labels);
    const cells = this.#cells.get(key) ?? this.#shard(key, labels);
    return {
      inc: (value?: number) => {
        const v = value ?? 1;
        if (!(v >= 0)) call(() => this.nativeSeries(key, labels).add(v));
        else cells[0] += v;
      },
    };
  }

  /** The current value (of the unlabeled series, or of `labels`). */
  get(labels?: Labels): number {
    return this.nativeSeries(labels ? this.key(labels) : '', labels).value();
  }
}

/** A gauge: goes up and down. */
export class Gauge extends Family {
  #s(labels: Labels | undefined): NativeSeries {
    return this.nativeSeries(labels ? this.key(labels) : '', labels);
  }

  set(labelsOrValue: Labels | number, value?: number): void {
    const [labels, v] = typeof labelsOrValue === 'number' ? [undefined, labelsOrValue] : [labelsOrValue, value];
    if (typeof v !== 'number') throw invalidArgument(`gauge '${this.name}': set() needs a number, got ${describe(v)}`);
    call(() => this.#s(labels).set(v));
  }

  inc(labelsOrValue?: Labels | number, value?: number): void {
    const [labels, v] = typeof labelsOrValue === 'number' || labelsOrValue === undefined ? [undefined, labelsOrValue ?? 1] : [labelsOrValue, value ?? 1];
    call(() => this.#s(labels).add(v));
  }

  dec(labelsOrValue?: Labels | number, value?: number): void {
    const [labels, v] = typeof labelsOrValue === 'number' || labelsOrValue === undefined ? [undefined, labelsOrValue ?? 1] : [labelsOrValue, value ?? 1];
    call(() => this.#s(labels).add(-v));
  }

  get(labels?: Labels): number {
    return this.#s(labels).value();
  }
}

/** A histogram: counts observations into buckets, with their sum and count. */
export class Histogram extends Family {
  readonly #bounds: Float64Array;
  readonly #cells = new Map<string, Float64Array>();
  #unlabeled: Float64Array | undefined;

  constructor(family: NativeMetric, labelNames: readonly string[]) {
    super(family, labelNames);
    this.#bounds = Float64Array.from(family.buckets);
    if (labelNames.length === 0) this.#unlabeled = this.#shard('', undefined);
  }

  #shard(key: string, labels: Labels | undefined): Float64Array {
    const cells = call(() => this.nativeSeries(key, labels).shard());
    this.#cells.set(key, cells);
    return cells;
  }

  /** `observe(0.25)` or `observe({ route: '/a' }, 0.25)`. */
  observe(labelsOrValue: Labels | number, value?: number): void {
    let cells: Float64Array | undefined;
    let v: number;
    if (typeof labelsOrValue === 'number') {
      v = labelsOrValue;
      cells = this.#unlabeled;
      if (cells === undefined) this.values({});
    } else {
      v = value as number;
      const key = this.key(labelsOrValue);
      cells = this.#cells.get(key) ?? this.#shard(key, labelsOrValue);
    }
    if (typeof v !== 'number' || v !== v) {
      throw invalidArgument(`histogram '${this.name}': observe() needs a number, got ${describe(v)}`);
    }
    const b = this.#bounds;
    const n = b.length;
    let i = 0;
    while (i < n && b[i] < v) i++;
    cells![i] += 1;
    cells![n + 1] += v;
    cells![n + 2] += 1;
  }

  /** Starts a timer; calling the result observes the elapsed seconds. */
  startTimer(labels?: Labels): () => number {
    const start = process.hrtime.bigint();
    return () => {
      const s = Number(process.hrtime.bigint() - start) / 1e9;
      if (labels) this.observe(labels, s);
      else this.observe(s);
      return s;
    };
  }
}
