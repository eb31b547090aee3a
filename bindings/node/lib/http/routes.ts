// A controller's metadata turned into routes: each with its declaration for core (path, method,
// schemas, auth, ...; core checks it) and a function from the request's envelope to the handler's
// result, its arguments read by precomputed getters (no decorator lookup per request).

import { invalidArgument } from '../errors.js';
import { controllerOf, methodsOf, type Declared, type MethodMeta, type ParamDecl, type SchemaSource } from './decorators.js';
import { isDto, schemaOf } from './validation.js';

/** A file of a `multipart/form-data` body, as multer gives it. */
export interface UploadedFileInfo {
  fieldname: string;
  originalname: string;
  encoding: string;
  mimetype: string;
  size: number;
  buffer: Buffer;
}

/** What `@Req()` gives: the request as core read it (params, query and body coerced and checked). */
export interface HttpRequest {
  method: string;
  path: string;
  requestId: string;
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
  /** The verified token's claims on a route that requires auth, else null. */
  user: unknown;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Uploaded files (`@Upload` routes). */
  files?: UploadedFileInfo[];
  /** The page asked for (`@Paginated` routes). */
  page?: { page: number; limit: number; offset: number };
  /** The request's trace context (its server span's), when there is one. */
  traceparent?: string;
  tracestate?: string;
}

/** One route of a controller, ready to declare and serve. */
export interface CompiledRoute {
  /** `UsersController.findOne`. */
  name: string;
  /** The declaration core reads (`RouteSpec`), keys in TypeScript spelling. */
  spec: Record<string, unknown>;
  /** Calls the handler for a request's envelope. */
  run: (req: HttpRequest) => unknown;
}

type Getter = (req: HttpRequest) => unknown;

interface WireFile {
  field: string;
  filename?: string | null;
  contentType: string;
  size: number;
  data: string;
}

/** The request's files in multer's shape (converted once per request). */
function filesOf(req: HttpRequest): UploadedFileInfo[] {
  const files = req.files as unknown as (WireFile | UploadedFileInfo)[] | undefined;
  if (!files) return [];
  if (files.length > 0 && 'data' in files[0]) {
    req.files = (files as WireFile[]).map((f) => ({
      fieldname: f.field,
      originalname: f.filename ?? '',
      encoding: '7bit',
      mimetype: f.contentType,
      size: f.size,
      buffer: Buffer.from(f.data, 'base64'),
    }));
  }
  return req.files as UploadedFileInfo[];
}

function getter(d: ParamDecl): Getter {
  const name = d.name;
  switch (d.kind) {
    case 'param':
      return name === undefined ? (r) => r.params : (r) => r.params[name];
    case 'query':
      return name === undefined ? (r) => r.query : (r) => r.query[name];
    case 'body':
      return name === undefined ? (r) => r.body : (r) => (r.body !== null && typeof r.body === 'object' ? (r.body as Record<string, unknown>)[name] : undefined);
    case 'headers': {
      if (name === undefined) return (r) => r.headers;
      const lower = name.toLowerCase();
      return (r) => r.headers[lower];
    }
    case 'req':
      return (r) => {
        filesOf(r);
        return r;
      };
    case 'user':
      return (r) => r.user ?? undefined;
    case 'file':
      return (r) => filesOf(r).find((f) => name === undefined || f.fieldname === name);
    case 'files':
      return (r) => filesOf(r);
  }
}

/** `users` + `:id` → `/users/:id`. */
export function joinPath(prefix: string, path: string): string {
  const parts = [...prefix.split('/'), ...path.split('/')].filter((p) => p !== '');
  return '/' + parts.join('/');
}

function schemaText(s: SchemaSource, nullable: boolean): string {
  return JSON.stringify(typeof s === 'function' ? schemaOf(s, nullable) : s);
}

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

function union(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (!a?.length) return b?.length ? b : undefined;
  if (!b?.length) return a;
  return [...new Set([...a, ...b])];
}

/** The declaration of one route: the class's decorators, then the method's. */
function declaration(cls: Function, key: string | symbol, m: MethodMeta, verb: { method: string; path: string }, own: Declared, klass: Declared): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    method: verb.method,
    path: joinPath(controllerOf(cls)!.controller!.prefix, verb.path),
    operationId: own.operationId ?? `${cls.name}.${String(key)}`,
  };
  // OpenAPI wants operationIds unique: a method serving several routes names the others by method.
  const at = m.verbs.indexOf(verb);
  if (at > 0) {
    const again = m.verbs.slice(0, at).some((v) => v.method === verb.method);
    spec.operationId = `${String(spec.operationId)}_${verb.method.toLowerCase()}${again ? `_${at}` : ''}`;
  }
  const auth = own.auth || klass.auth;
  if (auth) spec.auth = true;
  const lists = { roles: union(klass.roles, own.roles), permissions: union(klass.permissions, own.permissions), tags: union(klass.tags, own.tags) };
  for (const [k, v] of Object.entries(lists)) if (v) spec[k] = v;
  const rateLimit = own.rateLimit ?? klass.rateLimit;
  if (rateLimit) spec.rateLimit = rateLimit;
  for (const k of ['status', 'cacheTtl', 'upload', 'paginated', 'audit', 'summary', 'description', 'deprecated'] as const) {
    if (own[k] !== undefined) spec[k] = own[k];
  }
  // Schemas: explicit ones first, then the DTO types of @Body() / @Query() / @Param() parameters.
  let body = m.validate !== undefined && WITH_BODY.has(verb.method) ? m.validate : undefined;
  let params = m.validateParams ?? (m.validate !== undefined && !WITH_BODY.has(verb.method) ? m.validate : undefined);
  let query = m.validateQuery;
  const types: unknown[] = (Reflect as any).getMetadata?.('design:paramtypes', cls.prototype, key) ?? [];
  for (const [i, d] of m.params) {
    if (d.name !== undefined || !isDto(types[i])) continue;
    const dto = types[i] as Function;
    if (d.kind === 'body') body ??= dto;
    else if (d.kind === 'query') query ??= dto;
    else if (d.kind === 'param') params ??= dto;
  }
  if (body !== undefined) spec.body = schemaText(body, true);
  if (query !== undefined) spec.query = schemaText(query, false);
  if (params !== undefined) spec.params = schemaText(params, false);
  return spec;
}

/** Whether `cls` is a controller or has route decorators (`@Get()`, ...). */
export function hasRoutes(cls: Function): boolean {
  return controllerOf(cls) !== undefined || [...methodsOf(cls).values()].some((m) => m.verbs.length > 0);
}

/**
 * The routes of controller `cls`, served by `instance`. A class listed among a module's
 * controllers without `@Controller()` and without routes is only a provider (none).
 */
export function compileController(cls: Function, instance: object): CompiledRoute[] {
  const meta = controllerOf(cls);
  if (!meta) {
    if (hasRoutes(cls)) throw invalidArgument(`'${cls.name}' has routes but is not decorated with @Controller(): add @Controller() (or @Controller('prefix'))`);
    return [];
  }
  const out: CompiledRoute[] = [];
  for (const [key, m] of methodsOf(cls)) {
    if (m.verbs.length === 0) {
      if (m.params.size > 0) throw invalidArgument(`${cls.name}.${String(key)} has parameter decorators but no route: add @Get(), @Post(), ...`);
      continue;
    }
    const name = `${cls.name}.${String(key)}`;
    const fn = (instance as Record<string | symbol, unknown>)[key];
    if (typeof fn !== 'function') throw invalidArgument(`${name} is not a method`);
    const n = m.params.size === 0 ? 0 : Math.max(...m.params.keys()) + 1;
    const getters: (Getter | undefined)[] = new Array(n);
    for (const [i, d] of m.params) getters[i] = getter(d);
    const run =
      n === 0
        ? () => fn.call(instance)
        : (req: HttpRequest) => {
            const args = new Array(n);
            for (let i = 0; i < n; i++) {
              const g = getters[i];
              if (g !== undefined) args[i] = g(req);
            }
            return fn.apply(instance, args);
          };
    for (const verb of m.verbs) out.push({ name, spec: declaration(cls, key, m, verb, m.spec, meta.spec), run });
  }
  return out;
}
