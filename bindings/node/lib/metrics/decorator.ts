// `@Metric`: the spec's forms. `@Metric('users.findOne')` records calls, errors and duration of
// the method (in `method_calls_total`, `method_errors_total` and `method_duration_seconds`, labelled
// `method="users.findOne"`); `@Metric()` does the same under `Class.method`. `@Metric({ type, name, help, labelNames, buckets })` (spec 7.3) records
// the method's arguments: a counter is incremented with the arguments as label values (in
// `labelNames` order), a histogram observes the first argument (the rest are label values), a gauge
// is set to the first argument. The method itself still runs.

import { invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { isThenable, methodOf, OptionKeys, options } from '../util.js';
import { Registry, type Counter, type Gauge, type Histogram, type Labels, type MetricType } from './registry.js';

export interface MetricOptions {
  type: MetricType;
  name: string;
  help?: string;
  labelNames?: string[];
  buckets?: number[];
  registry?: Registry;
}

/** The keys `@Metric({...})` takes (anything else is refused with E001). */
export const METRIC_KEYS = new OptionKeys(['type', 'name', 'help', 'labelNames', 'buckets', 'registry']);

type MethodDecorator = (target: object, key: string | symbol, descriptor: PropertyDescriptor) => void;

/**
 * `@Metric('users.findOne')` or `@Metric()` (named `Class.method`): calls, errors and duration of the
 * method. `@Metric({ type, name, help, labelNames, buckets })`: the method's arguments recorded.
 */
export function Metric(nameOrOptions?: string | MetricOptions, registry?: Registry): MethodDecorator {
  if (registry !== undefined && !(registry instanceof Registry)) throw invalidArgument(`@Metric()'s second argument must be a Registry, got ${describe(registry)}`);
  if (typeof nameOrOptions === 'string') {
    if (nameOrOptions.trim() === '') throw invalidArgument('@Metric() needs a non-empty name');
    return timed(() => nameOrOptions, registry ?? Registry.global);
  }
  if (nameOrOptions === undefined) return timed((target, key) => `${className(target)}.${String(key)}`, registry ?? Registry.global);
  if (nameOrOptions === null || typeof nameOrOptions !== 'object' || Array.isArray(nameOrOptions)) {
    throw invalidArgument(`@Metric() takes a method name or { type, name, ... }, got ${describe(nameOrOptions)}`);
  }
  return recorded(options<MetricOptions>(nameOrOptions, '@Metric()', METRIC_KEYS));
}

function className(target: object): string {
  return (typeof target === 'function' ? target.name : (target as { constructor?: { name?: string } }).constructor?.name) || 'Anonymous';
}

function timed(nameOf: (target: object, key: string | symbol) => string, registry: Registry): MethodDecorator {
  const calls = registry.counter({ name: 'method_calls_total', help: 'Calls of instrumented methods', labelNames: ['method'] });
  const errors = registry.counter({ name: 'method_errors_total', help: 'Calls of instrumented methods that failed', labelNames: ['method'] });
  const duration = registry.histogram({ name: 'method_duration_seconds', help: 'Duration of instrumented methods', labelNames: ['method'] });
  return (target, key, descriptor) => {
    const original = methodOf(descriptor, 'Metric', key);
    const method = nameOf(target, key);
    const labels = { method };
    const c = calls.labels(method);
    const e = errors.labels(method);
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      const start = performance.now();
      c.inc();
      let r: unknown;
      try {
        r = original.apply(this, args);
      } catch (err) {
        e.inc();
        duration.observe(labels, (performance.now() - start) / 1000);
        throw err;
      }
      if (isThenable(r)) {
        return Promise.resolve(r).then(
          (v) => {
            duration.observe(labels, (performance.now() - start) / 1000);
            return v;
          },
          (err) => {
            e.inc();
            duration.observe(labels, (performance.now() - start) / 1000);
            throw err;
          },
        );
      }
      duration.observe(labels, (performance.now() - start) / 1000);
      return r;
    };
  };
}

function recorded(o: MetricOptions): MethodDecorator {
  const registry = o.registry ?? Registry.global;
  const labelNames = o.labelNames ?? [];
  const config = { name: o.name, help: o.help, labelNames, buckets: o.buckets };
  let record: (args: unknown[]) => void;
  const toLabels = (values: unknown[]): Labels | undefined => {
    if (labelNames.length === 0) return undefined;
    const l: Labels = {};
    labelNames.forEach((n, i) => {
      l[n] = values[i] as string;
    });
    return l;
  };
  switch (o.type) {
    case 'counter': {
      const m: Counter = registry.counter(config);
      record = (args) => {
        const l = toLabels(args);
        if (l) m.inc(l);
        else m.inc();
      };
      break;
    }
    case 'histogram': {
      const m: Histogram = registry.histogram(config);
      record = (args) => {
        const l = toLabels(args.slice(1));
        if (l) m.observe(l, args[0] as number);
        else m.observe(args[0] as number);
      };
      break;
    }
    case 'gauge': {
      const m: Gauge = registry.gauge(config);
      record = (args) => {
        const l = toLabels(args.slice(1));
        if (l) m.set(l, args[0] as number);
        else m.set(args[0] as number);
      };
      break;
    }
    default:
      throw invalidArgument(`@Metric() type must be 'counter', 'gauge' or 'histogram', got ${describe(o.type)}`);
  }
  return (_target, key, descriptor) => {
    const original = methodOf(descriptor, 'Metric', key);
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      record(args);
      return original.apply(this, args);
    };
  };
}
