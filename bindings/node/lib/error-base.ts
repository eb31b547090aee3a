/** What an error keeps besides its code and message. */
export interface OmnitronErrorOptions {
  /** The error that caused it (a factory's own error, say). */
  cause?: unknown;
  /** For aggregate errors (a dispose where several hooks failed): each original error. */
  errors?: unknown[];
}

/**
 * The error every Omnitron API throws. `code` is the engine's stable id (`DI001` for a missing
 * provider, ...), the same one C, Rust and Python see. Each code has its own subclass
 * (`MissingProviderError`), under one per family (`DIError`), so `instanceof` works at every level.
 */
export class OmnitronError extends Error {
  /** The engine's stable error id, e.g. `DI001`. */
  readonly code: string;
  /** For aggregate errors (a dispose where several hooks failed): each original error. */
  readonly errors: unknown[];

  constructor(code: string, message: string, options?: OmnitronErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errors = options?.errors ?? [];
    this.name = new.target.name;
  }
}
