// `createMock<T>()`: an object whose every method is a recording stub, as @golevelup/ts-jest's
// `createMock` gives, with the stub API jest users know (`mock.calls`, `mockReturnValue`,
// `mockResolvedValue`, `mockImplementation`, ...) but no test framework behind it: a Proxy and a
// plain function, so it works under `node --test`, mocha, vitest or jest alike. A stub carries
// `_isMockFunction` and `mock.{calls, results, instances, invocationCallOrder}` as jest's do, which
// is what jest's and vitest's `toHaveBeenCalled*` matchers read.

import { invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { OptionKeys, options } from '../util.js';

type AnyFn = (...args: any[]) => any;

/** What one call of a stub did. */
export type MockResult<R = unknown> = { type: 'return'; value: R } | { type: 'throw'; value: unknown };

/** What a stub recorded. */
export interface MockState<F extends AnyFn = AnyFn> {
  /** The arguments of every call, in order. */
  readonly calls: Parameters<F>[];
  /** What every call returned or threw, in order. */
  readonly results: MockResult<ReturnType<F>>[];
  /** The `this` of every call, in order. */
  readonly contexts: unknown[];
  /** jest's name for `contexts` (the `this` of every call). */
  readonly instances: unknown[];
  /** When each call was made, counted across every stub (to compare calls of two stubs). */
  readonly invocationCallOrder: number[];
  /** The arguments of the last call, if any. */
  readonly lastCall: Parameters<F> | undefined;
}

/** A recording stub: callable like `F`, with what it recorded in `mock` and its behaviour configurable. */
export interface MockFunction<F extends AnyFn = AnyFn> {
  (...args: Parameters<F>): ReturnType<F>;
  readonly mock: MockState<F>;
  /** Runs `impl` on every call (after any `...Once` behaviour is used up). */
  mockImplementation(impl: (...args: Parameters<F>) => unknown): this;
  /** Runs `impl` on the next call only (queued). */
  mockImplementationOnce(impl: (...args: Parameters<F>) => unknown): this;
  mockReturnValue(value: ReturnType<F>): this;
  mockReturnValueOnce(value: ReturnType<F>): this;
  /** Every call returns a promise of `value`. */
  mockResolvedValue(value: Awaited<ReturnType<F>>): this;
  mockResolvedValueOnce(value: Awaited<ReturnType<F>>): this;
  /** Every call returns a promise rejected with `error`. */
  mockRejectedValue(error: unknown): this;
  mockRejectedValueOnce(error: unknown): this;
  /** Forgets the recorded calls (keeps the behaviour). */
  mockClear(): this;
  /** Forgets the recorded calls and the configured behaviour. */
  mockReset(): this;
  /** The implementation set with `mockImplementation`, if any. */
  getMockImplementation(): ((...args: Parameters<F>) => unknown) | undefined;
  getMockName(): string;
  mockName(name: string): this;
}

/**
 * What `createMock<T>()` gives: `T`, where every method is also a `MockFunction`. A method nobody
 * configured returns a nested mock (so `ctx.switchToHttp().getRequest()` works), the same one on
 * every call; configure it with `mockReturnValue` / `mockResolvedValue` / `mockImplementation`.
 */
export type DeepMocked<T> = {
  [K in keyof T]-?: NonNullable<T[K]> extends (...args: infer A) => infer R
    ? MockFunction<(...args: A) => R> & T[K]
    : NonNullable<T[K]> extends object
      ? DeepMocked<T[K]>
      : T[K];
} & T;

/** What `createMock` takes: values for properties, implementations for methods. */
export type MockPartial<T> = {
  [K in keyof T]?: NonNullable<T[K]> extends (...args: infer A) => any ? (...args: A) => unknown : T[K];
};

/** Options of `createMock`. */
export interface MockOptions {
  /** The mock's name, in stub names (`getMockName()`) and messages (default `'mock'`). */
  name?: string;
}
const MOCK_KEYS = new OptionKeys(['name']);

/**
 * Names a mock answers with `undefined` unless given in the partial or assigned: `then` (so a
 * mock is not taken for a promise by `await`), matchers' and inspectors' probes, and the
 * container's lifecycle hooks (so a mock provided as a value does not get its hooks called).
 */
const NOT_MOCKED: ReadonlySet<string> = new Set([
  'then',
  'asymmetricMatch',
  'nodeType',
  'toJSON',
  'inspect',
  '$$typeof',
  'onInit',
  'onDestroy',
  // jest takes an object with `calls.all()` and `calls.count()` for a jasmine spy.
  'calls',
]);

const STUB_API: ReadonlySet<string | symbol> = new Set([
  '_isMockFunction',
  'mock',
  'mockImplementation',
  'mockImplementationOnce',
  'mockReturnValue',
  'mockReturnValueOnce',
  'mockResolvedValue',
  'mockResolvedValueOnce',
  'mockRejectedValue',
  'mockRejectedValueOnce',
  'mockClear',
  'mockReset',
  'getMockImplementation',
  'getMockName',
  'mockName',
  // What every function has.
  'call',
  'apply',
  'bind',
  'name',
  'length',
  'prototype',
  'toString',
]);

const mocks = new WeakSet<object>();
/** The order of every stub call, across stubs (jest's `mock.invocationCallOrder`). */
let callOrder = 0;

/** Whether `v` is a stub or a mock made here. */
export function isMock(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && mocks.has(v as object);
}

/**
 * A recording stub: `mockFn()` alone returns a nested mock when called, `mockFn(impl)` runs `impl`.
 * Every call is recorded (`stub.mock.calls`, `results`, `contexts`).
 */
export function mockFn<F extends AnyFn = AnyFn>(impl?: F, name = 'mockFn'): MockFunction<F> {
  if (impl !== undefined && typeof impl !== 'function') throw invalidArgument(`mockFn() takes an implementation function, got ${describe(impl)}`);
  return stub(name, impl) as unknown as MockFunction<F>;
}

function stub(name: string, impl?: AnyFn): AnyFn {
  const calls: unknown[][] = [];
  const results: MockResult[] = [];
  const contexts: unknown[] = [];
  let current: AnyFn | undefined = impl;
  let once: AnyFn[] = [];
  let stubName = name;
  let returned: unknown; // the nested mock an unconfigured call returns (made on first use)
  const instances: unknown[] = [];
  const invocationCallOrder: number[] = [];
  const state = {
    calls,
    results,
    contexts,
    instances,
    invocationCallOrder,
    get lastCall() {
      return calls[calls.length - 1];
    },
  };
  const fn = function (this: unknown, ...args: unknown[]): unknown {
    calls.push(args);
    contexts.push(this);
    instances.push(this);
    invocationCallOrder.push(++callOrder);
    const run = once.shift() ?? current;
    try {
      const value = run ? run.apply(this, args) : (returned ??= deep(`${stubName}()`));
      results.push({ type: 'return', value });
      return value;
    } catch (e) {
      results.push({ type: 'throw', value: e });
      throw e;
    }
  };
  const api = {
    // What jest's and vitest's matchers look for (`expect(stub).toHaveBeenCalledWith(...)`).
    _isMockFunction: true,
    mock: state,
    mockImplementation(f: AnyFn) {
      current = checkFn(f, 'mockImplementation');
      return proxy;
    },
    mockImplementationOnce(f: AnyFn) {
      once.push(checkFn(f, 'mockImplementationOnce'));
      return proxy;
    },
    mockReturnValue(v: unknown) {
      current = () => v;
      return proxy;
    },
    mockReturnValueOnce(v: unknown) {
      once.push(() => v);
      return proxy;
    },
    mockResolvedValue(v: unknown) {
      current = () => Promise.resolve(v);
      return proxy;
    },
    mockResolvedValueOnce(v: unknown) {
      once.push(() => Promise.resolve(v));
      return proxy;
    },
    mockRejectedValue(e: unknown) {
      current = () => Promise.reject(e);
      return proxy;
    },
    mockRejectedValueOnce(e: unknown) {
      once.push(() => Promise.reject(e));
      return proxy;
    },
    mockClear() {
      calls.length = 0;
      results.length = 0;
      contexts.length = 0;
      instances.length = 0;
      invocationCallOrder.length = 0;
      return proxy;
    },
    mockReset() {
      api.mockClear();
      current = undefined;
      once = [];
      returned = undefined;
      return proxy;
    },
    getMockImplementation() {
      return current;
    },
    getMockName() {
      return stubName;
    },
    mockName(n: string) {
      if (typeof n !== 'string') throw invalidArgument(`mockName() takes a string, got ${describe(n)}`);
      stubName = n;
      return proxy;
    },
  };
  Object.defineProperty(fn, 'name', { value: name, configurable: true });
  for (const [k, v] of Object.entries(api)) Object.defineProperty(fn, k, { value: v, writable: true, configurable: true });
  // Properties of a stub are stubs too (a property the type declares as an object: `mock.config.get('x')`).
  const props = new Map<string | symbol, unknown>();
  const proxy: AnyFn = new Proxy(fn, {
    get(t, prop, receiver) {
      if (props.has(prop)) return props.get(prop);
      if (typeof prop === 'symbol' || STUB_API.has(prop)) return Reflect.get(t, prop, receiver);
      if (NOT_MOCKED.has(prop)) return undefined;
      const child = deep(`${stubName}.${prop}`);
      props.set(prop, child);
      return child;
    },
    set(_t, prop, value) {
      props.set(prop, value);
      return true;
    },
  });
  mocks.add(proxy);
  return proxy;
}

function checkFn(f: unknown, what: string): AnyFn {
  if (typeof f !== 'function') throw invalidArgument(`${what}() takes a function, got ${describe(f)}`);
  return f as AnyFn;
}

/** A callable, deep stub (what unconfigured calls and property reads give). */
function deep(name: string): unknown {
  return stub(name);
}

/** The object that owns `prop` along `o`'s prototype chain. */
function owner(o: object, prop: string | symbol): object | undefined {
  for (let t: object | null = o; t; t = Object.getPrototypeOf(t) as object | null) {
    if (Object.prototype.hasOwnProperty.call(t, prop)) return t;
  }
  return undefined;
}

/**
 * A mock of `T`: every method (every property nobody gave a value) is a recording stub.
 *
 * ```ts
 * const repo = createMock<UserRepository>();
 * repo.findById.mockResolvedValue({ id: '1', name: 'Ada' });
 * await service.rename('1', 'Grace');
 * assert.deepEqual(repo.save.mock.calls[0], [{ id: '1', name: 'Grace' }]);
 * ```
 *
 * `partial` gives values for properties and implementations for methods (those stay recording
 * stubs, running the implementation). An unconfigured method returns a nested mock. `then`,
 * `toJSON`, `onInit` and `onDestroy` are `undefined` unless given, so a mock is not mistaken for a
 * promise and a container does not run hooks on it.
 */
export function createMock<T extends object = any>(partial: MockPartial<T> = {}, opts?: MockOptions): DeepMocked<T> {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    throw invalidArgument(`createMock() takes an object of values and implementations, got ${describe(partial)}`);
  }
  const o = options<MockOptions>(opts, 'createMock()', MOCK_KEYS);
  if (o.name !== undefined && typeof o.name !== 'string') throw invalidArgument(`createMock(): 'name' must be a string, got ${describe(o.name)}`);
  const name = o.name ?? 'mock';
  const given = partial as Record<string | symbol, unknown>;
  const props = new Map<string | symbol, unknown>();
  const target: Record<string | symbol, unknown> = {};
  const mock = new Proxy(target, {
    get(t, prop, receiver) {
      if (props.has(prop)) return props.get(prop);
      const from = owner(given, prop);
      let value: unknown;
      if (from !== undefined && from !== Object.prototype) {
        const v = given[prop];
        value = typeof v === 'function' ? stub(`${name}.${String(prop)}`, v as AnyFn) : v;
      } else if (typeof prop === 'symbol' || from === Object.prototype) {
        // Symbols (iterators, inspection) and what every object has stay what they are.
        return Reflect.get(t, prop, receiver);
      } else if (NOT_MOCKED.has(prop)) {
        return undefined;
      } else {
        value = stub(`${name}.${prop}`);
      }
      props.set(prop, value);
      return value;
    },
    set(t, prop, value) {
      props.set(prop, value);
      t[prop] = value;
      return true;
    },
    has(t, prop) {
      return props.has(prop) || prop in given || Reflect.has(t, prop);
    },
  });
  mocks.add(mock);
  return mock as DeepMocked<T>;
}
