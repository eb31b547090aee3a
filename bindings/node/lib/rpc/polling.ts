// How long this thread's event loop polls for Omnitron's messages before it sleeps (see
// docs/decisions/0020-busy-polling.md): a per-thread setting of the native side.
import { native } from '../native.js';
import { invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';

/** The most polling allowed before one wait, in microseconds. */
export const MAX_BUSY_POLL_MICROS = 1_000_000;

/**
 * Sets, when given, the most this thread's event loop polls before each wait while it reads
 * Omnitron connections, in microseconds (0 turns polling off); returns the setting. The budget
 * adapts below it: a loop whose messages come further apart than this does not poll. The first
 * value comes from the `OMNITRON_BUSY_POLL_US` environment variable (default 100).
 */
export function busyPoll(maxMicros?: number): number {
  if (maxMicros !== undefined && (typeof maxMicros !== 'number' || !Number.isInteger(maxMicros) || maxMicros < 0 || maxMicros > MAX_BUSY_POLL_MICROS)) {
    throw invalidArgument(`busyPoll takes a whole number of microseconds from 0 to ${MAX_BUSY_POLL_MICROS}, got ${describe(maxMicros)}`);
  }
  return native.busyPoll(maxMicros);
}
