// Errors a handler throws to answer with a status (NestJS's names, so that its code ports), and a
// response object for a handler that sets its own status, headers or content type.
//
// A thrown HttpException (or any error carrying a numeric `status` or `statusCode` from 400 to
// 599) becomes a problem document with that status and its message as `detail`; an OmnitronError
// gets the status core gives its code (R002 rate limited: 429, ...); anything else is a 500 (H005)
// whose document says only which handler failed.

import { invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';

/** What `new HttpException(...)` takes besides the status and message. */
export interface HttpExceptionOptions {
  cause?: unknown;
  /** NestJS's description (the problem's `title`). */
  description?: string;
}

function messageOf(response: string | Record<string, unknown>, fallback: string): string {
  if (typeof response === 'string') return response;
  const m = response.message;
  if (typeof m === 'string') return m;
  if (Array.isArray(m)) return m.map(String).join('; ');
  return fallback;
}

/**
 * An error answered with `status`: `new HttpException(404, 'no such user')`, or in NestJS's order
 * `new HttpException('no such user', 404)` (the response may be an object: its `message` is the
 * detail, its other fields extension members of the problem document).
 */
export class HttpException extends Error {
  readonly status: number;
  readonly response: string | Record<string, unknown>;
  readonly description?: string;

  constructor(status: number, message?: string, options?: HttpExceptionOptions);
  constructor(response: string | Record<string, unknown>, status: number, options?: HttpExceptionOptions);
  constructor(a: number | string | Record<string, unknown>, b?: number | string, options?: HttpExceptionOptions) {
    const [status, response] = typeof a === 'number' ? [a, b ?? ''] : [b, a];
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      throw invalidArgument(`HttpException needs an HTTP status from 100 to 599, got ${describe(status)}`);
    }
    if (response === null || (typeof response !== 'string' && typeof response !== 'object')) {
      throw invalidArgument(`HttpException's message must be a string or an object, got ${describe(response)}`);
    }
    super(messageOf(response as string | Record<string, unknown>, ''), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.response = response as string | Record<string, unknown>;
    this.description = options?.description;
  }

  /** NestJS's accessor. */
  getStatus(): number {
    return this.status;
  }

  /** NestJS's accessor. */
  getResponse(): string | Record<string, unknown> {
    return this.response;
  }
}

function named(status: number, title: string) {
  return class extends HttpException {
    constructor(message?: string | Record<string, unknown>, options?: string | HttpExceptionOptions) {
      const o = typeof options === 'string' ? { description: options } : options;
      super(message ?? title, status, o);
    }
  };
}

/** 400. */
export class BadRequestException extends named(400, 'Bad Request') {}
/** 401. */
export class UnauthorizedException extends named(401, 'Unauthorized') {}
/** 403. */
export class ForbiddenException extends named(403, 'Forbidden') {}
/** 404. */
export class NotFoundException extends named(404, 'Not Found') {}
/** 409. */
export class ConflictException extends named(409, 'Conflict') {}

/** What a `HttpResponse` carries besides its body. */
export interface HttpResponseInit {
  /** The status (default: the route's, 201 for a POST, 200 otherwise; 204 without a body). */
  status?: number;
  headers?: Record<string, string | number | readonly string[]>;
  /** The body's media type (default: JSON for values, text for strings, bytes for buffers). */
  contentType?: string;
}

/**
 * A handler's answer with its own status, headers or content type:
 * `return new HttpResponse(user, { status: 201, headers: { location: `/users/${user.id}` } })`.
 */
export class HttpResponse {
  readonly status?: number;
  readonly headers?: Record<string, string | number | readonly string[]>;
  readonly contentType?: string;

  constructor(
    readonly body: unknown,
    init: HttpResponseInit = {},
  ) {
    if (init.status !== undefined && (!Number.isInteger(init.status) || init.status < 100 || init.status > 599)) {
      throw invalidArgument(`HttpResponse needs an HTTP status from 100 to 599, got ${describe(init.status)}`);
    }
    this.status = init.status;
    this.headers = init.headers;
    this.contentType = init.contentType;
  }
}

/** An error's status when it carries one (HttpException, or `status` / `statusCode` from 400 to 599). */
export function statusOf(e: unknown): number | undefined {
  if (e === null || typeof e !== 'object') return undefined;
  const o = e as { status?: unknown; statusCode?: unknown };
  const s = typeof o.status === 'number' ? o.status : o.statusCode;
  return typeof s === 'number' && Number.isInteger(s) && s >= 400 && s <= 599 ? s : undefined;
}
