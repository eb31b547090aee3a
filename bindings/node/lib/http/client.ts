// `app.request().post('/orders').send(body).expect(201)`: supertest's chain over the engine's
// in-process requests (the same pipeline a socket's request goes through, without a port).

import { isDeepStrictEqual } from 'node:util';

import { invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import type { InjectedResponse } from './host.js';

/** What an awaited request gives. */
export interface TestResponse {
  status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The body parsed when it is JSON (problem documents too), else `{}` as supertest gives. */
  body: any;
  /** The body as text. */
  text: string;
}

type Inject = (method: string, uri: string, headers: [string, string][], body: Uint8Array | undefined) => Promise<InjectedResponse>;
type Check = (r: TestResponse) => void;

function fail(message: string, r: TestResponse): never {
  const e = new Error(`${message} (the answer: ${r.status} ${r.text.length > 500 ? r.text.slice(0, 500) + '...' : r.text})`);
  e.name = 'AssertionError';
  throw e;
}

/** One request being written; awaiting it sends it and runs its expectations in order. */
export class TestRequest implements Promise<TestResponse> {
  readonly [Symbol.toStringTag] = 'TestRequest';
  readonly #headers: [string, string][] = [];
  readonly #checks: Check[] = [];
  #query = '';
  #body: Uint8Array | undefined;
  #sent: Promise<TestResponse> | undefined;

  /** @internal Use `app.request().get(...)`. */
  constructor(
    private readonly inject: Inject,
    private readonly method: string,
    private readonly path: string,
  ) {}

  /** Sets a header (or several: `.set({ authorization: 'Bearer ...' })`). */
  set(name: string | Record<string, string>, value?: string): this {
    if (typeof name === 'object') {
      for (const [k, v] of Object.entries(name)) this.#headers.push([k, String(v)]);
    } else {
      if (value === undefined) throw invalidArgument(`.set('${name}') needs a value`);
      this.#headers.push([name, String(value)]);
    }
    return this;
  }

  /** Adds query parameters (`.query({ page: 2 })`) or a query string. */
  query(q: Record<string, unknown> | string): this {
    const s =
      typeof q === 'string'
        ? q.replace(/^\?/, '')
        : new URLSearchParams(Object.entries(q).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, String(x)]) : [[k, String(v)]]))).toString();
    if (s) this.#query += (this.#query ? '&' : '') + s;
    return this;
  }

  /** The body: an object or array as JSON, a string as text, a Buffer as bytes. */
  send(body: unknown): this {
    const has = (n: string) => this.#headers.some(([k]) => k.toLowerCase() === n);
    if (body instanceof Uint8Array) this.#body = body;
    else if (typeof body === 'string') {
      this.#body = Buffer.from(body);
      if (!has('content-type')) this.#headers.push(['content-type', 'text/plain; charset=utf-8']);
    } else {
      this.#body = Buffer.from(JSON.stringify(body));
      if (!has('content-type')) this.#headers.push(['content-type', 'application/json']);
    }
    return this;
  }

  /**
   * Expects a status (`.expect(201)`), a status and a body (`.expect(200, { id: 1 })`), a header
   * (`.expect('content-type', /json/)`), a body (`.expect({ id: 1 })`), or runs a function on the
   * response (it throws to fail).
   */
  expect(status: number, body?: unknown): this;
  expect(header: string, value: string | RegExp): this;
  expect(body: Record<string, unknown> | unknown[]): this;
  expect(check: (r: TestResponse) => void): this;
  expect(a: unknown, b?: unknown): this {
    if (typeof a === 'number') {
      this.#checks.push((r) => {
        if (r.status !== a) fail(`expected status ${a}, got ${r.status}`, r);
      });
      if (b !== undefined) this.#checks.push((r) => checkBody(b, r));
    } else if (typeof a === 'string' && b !== undefined) {
      const name = a.toLowerCase();
      this.#checks.push((r) => {
        const v = r.headers[name];
        const ok = b instanceof RegExp ? v !== undefined && b.test(v) : v === b;
        if (!ok) fail(`expected header ${name} to be ${String(b)}, got ${v === undefined ? 'none' : JSON.stringify(v)}`, r);
      });
    } else if (typeof a === 'function') {
      this.#checks.push(a as Check);
    } else if (a !== null && typeof a === 'object') {
      this.#checks.push((r) => checkBody(a, r));
    } else {
      throw invalidArgument(`.expect() takes a status, a header and its value, a body or a function, got ${describe(a)}`);
    }
    return this;
  }

  #send(): Promise<TestResponse> {
    const uri = this.#query ? `${this.path}${this.path.includes('?') ? '&' : '?'}${this.#query}` : this.path;
    return this.inject(this.method, uri, this.#headers, this.#body).then((raw) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of raw.headers) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
      const text = raw.body.toString('utf8');
      let body: unknown = {};
      if (/json/.test(headers['content-type'] ?? '') && text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          body = {};
        }
      }
      const r: TestResponse = { status: raw.status, headers, body, text };
      for (const c of this.#checks) c(r);
      return r;
    });
  }

  then<A = TestResponse, B = never>(onFulfilled?: ((r: TestResponse) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    this.#sent ??= this.#send();
    return this.#sent.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<TestResponse | B> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<TestResponse> {
    return this.then().finally(onFinally);
  }
}

function checkBody(want: unknown, r: TestResponse): void {
  const got = typeof want === 'string' ? r.text : r.body;
  if (!isDeepStrictEqual(got, want)) fail(`expected body ${JSON.stringify(want)}, got ${JSON.stringify(got)}`, r);
}

/** What `app.request()` gives: one method per HTTP method, each starting a request. */
export class TestClient {
  /** @internal Use `app.request()`. */
  constructor(private readonly inject: Inject) {}

  get(path: string): TestRequest {
    return new TestRequest(this.inject, 'GET', path);
  }
  post(path: string): TestRequest {
    return new TestRequest(this.inject, 'POST', path);
  }
  put(path: string): TestRequest {
    return new TestRequest(this.inject, 'PUT', path);
  }
  patch(path: string): TestRequest {
    return new TestRequest(this.inject, 'PATCH', path);
  }
  delete(path: string): TestRequest {
    return new TestRequest(this.inject, 'DELETE', path);
  }
  head(path: string): TestRequest {
    return new TestRequest(this.inject, 'HEAD', path);
  }
  options(path: string): TestRequest {
    return new TestRequest(this.inject, 'OPTIONS', path);
  }
}
