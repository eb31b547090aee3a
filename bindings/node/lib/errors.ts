// Errors: the base class (error-base.ts), the class of each code (error-classes.ts, generated
// from core's error table), and how the package turns the addon's errors into them.

import { OmnitronError, type OmnitronErrorOptions } from './error-base.js';
import { ErrorCodes as Codes, ERROR_CLASSES } from './error-classes.js';

export { OmnitronError, type OmnitronErrorOptions } from './error-base.js';
export * from './error-classes.js';

/** Stable codes, as constants (`ErrorCodes.MISSING_PROVIDER` is `'DI001'`). */
export const ErrorCodes = {
  ...Codes,
  /** @deprecated the engine's name is HANDLER_FAILED (RPC008, raised as RemoteError). */
  REMOTE_ERROR: Codes.HANDLER_FAILED,
} as const;

/** The error for `code`: its own class when the engine knows the code, else an OmnitronError. */
export function errorFor(code: string, message: string, options?: OmnitronErrorOptions): OmnitronError {
  const cls = Object.hasOwn(ERROR_CLASSES, code) ? ERROR_CLASSES[code] : undefined;
  return cls ? new cls(message, options) : new OmnitronError(code, message, options);
}

/** Whether `e` is an OmnitronError, optionally with a given code. */
export function isOmnitronError(e: unknown, code?: string): e is OmnitronError {
  return e instanceof OmnitronError && (code === undefined || e.code === code);
}

/** An engine error description turned into an exception. */
export function fromInfo(info: { code: string; message: string }, options?: OmnitronErrorOptions): OmnitronError {
  return errorFor(info.code, info.message, options);
}

/** Calls into the addon, rethrowing its errors (which carry `code`) as OmnitronError. */
export function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && !(e instanceof OmnitronError)) {
      throw errorFor((e as unknown as { code: string }).code, e.message);
    }
    throw e;
  }
}

export function invalidArgument(message: string): OmnitronError {
  return errorFor(ErrorCodes.INVALID_ARGUMENT, message);
}

export function invalidProvider(message: string): OmnitronError {
  return errorFor(ErrorCodes.INVALID_PROVIDER, message);
}
