// The spec's controller decorators (§2.5, §8.2): they only record metadata on the class; routes.ts
// turns it into one declaration per route, which core checks (RouteSpec) and serves.

import { invalidArgument } from '../errors.js';
import { installReflectMetadata } from '../reflect.js';
import { describe } from '../di/tokens.js';
import { OptionKeys, checkKeys } from '../util.js';
import { RateLimit as PolicyRateLimit } from '../resilience/decorators.js';
import type { RateLimiterOptions } from '../resilience/policies.js';

installReflectMetadata();

/** What the route's declaration gets from decorators, in core's keys (TypeScript spelling). */
export interface Declared {
  auth?: boolean;
  roles?: string[];
  permissions?: string[];
  tags?: string[];
  status?: number;
  rateLimit?: object;
  cacheTtl?: unknown;
  upload?: object;
  paginated?: boolean | object;
  audit?: unknown;
  summary?: unknown;
  description?: unknown;
  operationId?: unknown;
  deprecated?: unknown;
}

/** A DTO class, or a JSON Schema object. */
export type SchemaSource = Function | Record<string, unknown>;

export type ParamKind = 'param' | 'query' | 'body' | 'headers' | 'req' | 'user' | 'file' | 'files';

export interface ParamDecl {
  kind: ParamKind;
  name?: string;
}

export interface MethodMeta {
  verbs: { method: string; path: string }[];
  params: Map<number, ParamDecl>;
  spec: Declared;
  validate?: SchemaSource;
  validateQuery?: SchemaSource;
  validateParams?: SchemaSource;
}

export interface ClassMeta {
  controller?: { prefix: string };
  spec: Declared;
}

const CLASS = Symbol('omnitron:http:class');
const METHODS = Symbol('omnitron:http:methods');

function own<T>(cls: Function, key: symbol, make: () => T): T {
  if (!Object.prototype.hasOwnProperty.call(cls, key)) Object.defineProperty(cls, key, { value: make(), enumerable: false });
  return (cls as any)[key] as T;
}

function classMeta(cls: Function): ClassMeta {
  return own(cls, CLASS, () => ({ spec: {} }));
}

function methodMeta(proto: object, key: string | symbol): MethodMeta {
  const map = own((proto as { constructor: Function }).constructor, METHODS, () => new Map<string | symbol, MethodMeta>());
  let m = map.get(key);
  if (!m) {
    m = { verbs: [], params: new Map(), spec: {} };
    map.set(key, m);
  }
  return m;
}

/** The class's own controller metadata, if it is a controller. */
export function controllerOf(cls: unknown): ClassMeta | undefined {
  if (typeof cls !== 'function' || !Object.prototype.hasOwnProperty.call(cls, CLASS)) return undefined;
  const m = (cls as any)[CLASS] as ClassMeta;
  return m.controller ? m : undefined;
}

/** The methods' metadata of `cls` and its parents (a subclass's own declaration of a method wins). */
export function methodsOf(cls: Function): Map<string | symbol, MethodMeta> {
  const out = new Map<string | symbol, MethodMeta>();
  for (let c: any = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (!Object.prototype.hasOwnProperty.call(c, METHODS)) continue;
    for (const [k, m] of c[METHODS] as Map<string | symbol, MethodMeta>) if (!out.has(k)) out.set(k, m);
  }
  return out;
}

type ClassOrMethod = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => void;

/** A decorator for a class (every route of the controller) or a method (its route). */
function either(name: string, apply: (spec: Declared) => void): ClassOrMethod {
  return (target, key) => {
    if (key === undefined) {
      if (typeof target !== 'function') throw invalidArgument(`@${name}() decorates controller classes and their methods`);
      apply(classMeta(target).spec);
    } else {
      apply(methodMeta(target, key).spec);
    }
  };
}

/** A decorator for methods only. */
function methodOnly(name: string, apply: (m: MethodMeta) => void): MethodDecorator {
  return (target, key) => {
    if (key === undefined || typeof target === 'function') throw invalidArgument(`@${name}() decorates handler methods`);
    apply(methodMeta(target, key));
  };
}

function opts(v: unknown, name: string, keys: OptionKeys, required = false): Record<string, unknown> {
  if (v === undefined && !required) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidArgument(`@${name}() takes an options object, got ${describe(v)}`);
  checkKeys(v, keys, `@${name}()`);
  return v as Record<string, unknown>;
}

function strings(list: unknown[], name: string): string[] {
  for (const s of list) if (typeof s !== 'string' || s === '') throw invalidArgument(`@${name}() takes non-empty strings, got ${describe(s)}`);
  return list as string[];
}

function path(p: unknown, name: string): string {
  if (p === undefined) return '';
  if (typeof p !== 'string') throw invalidArgument(`@${name}() takes a path such as ':id', got ${describe(p)}`);
  return p;
}

// ---- classes and routes --------------------------------------------------------------------

/** `@Controller('users')`: the class's routes are under `/users` (no prefix: at the root). */
export function Controller(prefix?: string | { path?: string }): ClassDecorator {
  const p = typeof prefix === 'object' && prefix !== null ? path(opts(prefix, 'Controller', new OptionKeys(['path'])).path, 'Controller') : path(prefix, 'Controller');
  return (target) => {
    classMeta(target).controller = { prefix: p };
  };
}

function verb(method: string, name: string) {
  return (p?: string): MethodDecorator => {
    const at = path(p, name);
    return methodOnly(name, (m) => {
      m.verbs.push({ method, path: at });
    });
  };
}

export const Get = verb('GET', 'Get');
export const Post = verb('POST', 'Post');
export const Put = verb('PUT', 'Put');
export const Patch = verb('PATCH', 'Patch');
export const Delete = verb('DELETE', 'Delete');
export const Head = verb('HEAD', 'Head');
export const Options = verb('OPTIONS', 'Options');

// ---- parameters ----------------------------------------------------------------------------

function param(kind: ParamKind, name: string, field?: unknown): ParameterDecorator {
  if (field !== undefined && (typeof field !== 'string' || field === '')) throw invalidArgument(`@${name}() takes a name, got ${describe(field)}`);
  return (target, key, index) => {
    if (key === undefined) throw invalidArgument(`@${name}() decorates handler parameters, not constructor parameters`);
    methodMeta(target, key).params.set(index, { kind, name: field as string | undefined });
  };
}

/** A path parameter (`@Param('id')`), or all of them (`@Param()`). */
export const Param = (name?: string) => param('param', 'Param', name);
/** A query parameter (`@Query('q')`), or the whole query (`@Query()`). */
export const Query = (name?: string) => param('query', 'Query', name);
/** The body (`@Body()`), or one of its fields (`@Body('email')`). */
export const Body = (field?: string) => param('body', 'Body', field);
/** A header (`@Headers('x-tenant')`, any case), or all of them, lower-cased (`@Headers()`). */
export const Headers = (name?: string) => param('headers', 'Headers', name);
/** The request: method, path, params, query, body, headers, user, requestId (and files, page). */
export const Req = () => param('req', 'Req');
/** The verified token's claims on a route that requires auth. */
export const CurrentUser = () => param('user', 'CurrentUser');
/** The uploaded file (multer's shape), of `field` or the first. */
export const UploadedFile = (field?: string) => param('file', 'UploadedFile', field);
/** Every uploaded file (multer's shape). */
export const UploadedFiles = () => param('files', 'UploadedFiles');

// ---- validation ----------------------------------------------------------------------------

function schemaSource(s: unknown, name: string): SchemaSource {
  if (typeof s === 'function' || (s !== null && typeof s === 'object' && !Array.isArray(s))) return s as SchemaSource;
  throw invalidArgument(`@${name}() takes a DTO class or a JSON Schema object, got ${describe(s)}`);
}

/** Validates the body on a route that has one (POST, PUT, PATCH), the path parameters otherwise. */
export function Validate(dto: SchemaSource): MethodDecorator {
  const s = schemaSource(dto, 'Validate');
  return methodOnly('Validate', (m) => {
    m.validate = s;
  });
}

/** Validates (and coerces) the query. */
export function ValidateQuery(dto: SchemaSource): MethodDecorator {
  const s = schemaSource(dto, 'ValidateQuery');
  return methodOnly('ValidateQuery', (m) => {
    m.validateQuery = s;
  });
}

/** Validates (and coerces) the path parameters. */
export function ValidateParams(dto: SchemaSource): MethodDecorator {
  const s = schemaSource(dto, 'ValidateParams');
  return methodOnly('ValidateParams', (m) => {
    m.validateParams = s;
  });
}

// ---- security and behaviour ----------------------------------------------------------------

/** A valid bearer token is required (401 without). */
export const RequireAuth = (): ClassOrMethod =>
  either('RequireAuth', (s) => {
    s.auth = true;
  });

/** Every one of these roles is required (403 without); implies `@RequireAuth()`. */
export function RequireRoles(...roles: string[]): ClassOrMethod {
  const r = strings(roles, 'RequireRoles');
  return either('RequireRoles', (s) => {
    s.roles = [...(s.roles ?? []), ...r];
  });
}

/** Every one of these permissions is required (403 without); implies `@RequireAuth()`. */
export function RequirePermissions(...permissions: string[]): ClassOrMethod {
  const p = strings(permissions, 'RequirePermissions');
  return either('RequirePermissions', (s) => {
    s.permissions = [...(s.permissions ?? []), ...p];
  });
}

/** `@AuditLog({ action })`: an audit record (who, what, when, outcome) for every call. */
export function AuditLog(options: { action: string }): MethodDecorator {
  const o = opts(options, 'AuditLog', new OptionKeys(['action']), true);
  return methodOnly('AuditLog', (m) => {
    m.spec.audit = o.action;
  });
}

/** `@Cached({ ttl })`: GET answers kept `ttl` seconds in memory, with an ETag (304). */
export function Cached(options: { ttl: number }): MethodDecorator {
  const o = opts(options, 'Cached', new OptionKeys(['ttl']), true);
  return methodOnly('Cached', (m) => {
    m.spec.cacheTtl = o.ttl;
  });
}

/** The status of a successful answer (default 201 for POST, 200 otherwise, 204 without a body). */
export function ResponseStatus(code: number): MethodDecorator {
  if (typeof code !== 'number' || !Number.isInteger(code)) throw invalidArgument(`@ResponseStatus() takes an HTTP status, got ${describe(code)}`);
  return methodOnly('ResponseStatus', (m) => {
    m.spec.status = code;
  });
}

/** NestJS's name for `@ResponseStatus`. */
export const HttpCode = ResponseStatus;

/** `@Upload({ maxSize, mimeTypes, field })`: the route takes `multipart/form-data` uploads (413, 415). */
export function Upload(options: { maxSize?: number | string; mimeTypes?: string[]; field?: string } = {}): MethodDecorator {
  const o = opts(options, 'Upload', new OptionKeys(['maxSize', 'mimeTypes', 'field']));
  return methodOnly('Upload', (m) => {
    m.spec.upload = { ...o };
  });
}

/** `@Paginated()`: the route takes `page` and `limit` query parameters (see docs/HTTP.md). */
export function Paginated(options?: { defaultLimit?: number; maxLimit?: number }): MethodDecorator {
  const o = options === undefined ? undefined : opts(options, 'Paginated', new OptionKeys(['defaultLimit', 'maxLimit']));
  return methodOnly('Paginated', (m) => {
    m.spec.paginated = o ?? true;
  });
}

/** What `@RateLimit` takes on a route: `max` requests per `window` ms, per client (default) or for the route. */
export interface RouteRateLimit {
  max: number;
  /** Milliseconds (default a minute). */
  window?: number;
  per?: 'client' | 'route';
}
const ROUTE_RATE_KEYS = new OptionKeys(['max', 'window', 'per']);

/**
 * `@RateLimit({ max, window })` on a controller or a route: core answers 429 with `Retry-After`
 * past `max` requests per `window` ms. With a policy's options (`{ points, duration }`, spec 2.4)
 * it is the resilience decorator that wraps a method instead.
 */
export function RateLimit(options: RouteRateLimit): ClassOrMethod;
export function RateLimit(options: RateLimiterOptions): MethodDecorator;
export function RateLimit(options: RouteRateLimit | RateLimiterOptions): ClassOrMethod {
  const isRoute = options !== null && typeof options === 'object' && ('max' in options || 'window' in options);
  if (!isRoute) {
    const policy = PolicyRateLimit(options as RateLimiterOptions);
    return (target, key, descriptor) => {
      if (key === undefined || descriptor === undefined) throw invalidArgument("@RateLimit({ points, duration }) decorates methods; a controller's limit is @RateLimit({ max, window })");
      policy(target, key, descriptor);
    };
  }
  const o = opts(options, 'RateLimit', ROUTE_RATE_KEYS);
  return either('RateLimit', (s) => {
    s.rateLimit = { ...o };
  });
}

/** OpenAPI tags of a controller's routes or of one route. */
export function ApiTag(...tags: string[]): ClassOrMethod {
  const t = strings(tags, 'ApiTag');
  return either('ApiTag', (s) => {
    s.tags = [...(s.tags ?? []), ...t];
  });
}

/** The route's OpenAPI operation: `summary`, `description`, `operationId`, `deprecated`. */
export function ApiOperation(options: { summary?: string; description?: string; operationId?: string; deprecated?: boolean }): MethodDecorator {
  const o = opts(options, 'ApiOperation', new OptionKeys(['summary', 'description', 'operationId', 'deprecated']), true);
  return methodOnly('ApiOperation', (m) => {
    for (const k of ['summary', 'description', 'operationId', 'deprecated'] as const) if (o[k] !== undefined) m.spec[k] = o[k];
  });
}
