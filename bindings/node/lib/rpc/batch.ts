// The worker's side of a pool's `map`: the reserved method `$batch` (docs/PROTOCOL.md, "Batches"),
// which `Peer.expose` adds to every service it exposes. A pool sends a chunk of items as one call,
// `$batch(method, [args, ...])` (or `$batch(method, [arg, ...], 1)` when each item has one
// argument), and gets one answer, `[values, errors]`: a value per item (null where it failed), and
// null when every item succeeded, else `[[index, {code, message, data}], ...]`, each error as a call
// of that item alone would have answered it. The loop over the items runs here, in JavaScript, in
// slices of the event loop's turns (`SLICE_MS`); items whose method returns a promise are awaited
// together.

import { OmnitronError } from '../errors.js';

type AnyFn = (...args: any[]) => any;

/** The reserved method a chunk of map items arrives through. */
export const BATCH = '$batch';

/** How long a chunk runs in one turn of the event loop before it lets the loop go on (ms). */
const SLICE_MS = 2;

/** What a handler's failure is on the wire: its code, message and data (docs/PROTOCOL.md). */
export interface WireError {
  code: string;
  message: string;
  data?: unknown;
}

/**
 * A handler's failure as the caller gets it: an OmnitronError keeps its code, message and data;
 * anything else is RPC008 with its class's name (every handler's, a chunk item's too).
 */
export function wireError(e: unknown): WireError {
  if (e instanceof OmnitronError) {
    const data = (e as { data?: unknown }).data;
    return data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data };
  }
  const name = e instanceof Error ? e.constructor.name : typeof e;
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'RPC008', message: `${name}: ${message}`, data: { type: name } };
}

/**
 * Adds `$batch` over a service's unary methods (`methods` by name, `unary` the names registered)
 * to both. A service without unary methods gets none.
 */
export function addBatch(methods: Map<string, AnyFn>, unary: string[]): void {
  if (unary.length === 0 || methods.has(BATCH)) return;
  const table = new Map(unary.map((n) => [n, methods.get(n)!] as const));
  methods.set(BATCH, (method: string, items: unknown[], single?: number) => {
    const n = items.length;
    const fn = table.get(method);
    if (fn === undefined) {
      const e = { code: 'RPC002', message: `no public method '${method}' (methods: ${[...table.keys()].sort().join(', ')})` };
      return [new Array(n).fill(null), items.map((_, i) => [i, e])];
    }
    const values = new Array<unknown>(n);
    let errors: [number, WireError][] | null = null;
    let waiting: Promise<void>[] | null = null;
    const fail = (i: number, e: unknown) => {
      values[i] = null;
      (errors ??= []).push([i, wireError(e)]);
    };
    const answer = () => [values, errors === null ? null : errors.sort((a, b) => a[0] - b[0])];
    // Items run in turn; should the chunk hold the event loop past SLICE_MS, the rest goes on in
    // the next turns, so the worker still answers pings, cancels and other calls meanwhile.
    const run = (from: number): unknown => {
      const until = performance.now() + SLICE_MS;
      for (let i = from; i < n; i++) {
        try {
          const r = single ? fn(items[i]) : fn(...(items[i] as unknown[]));
          if (r instanceof Promise) {
            (waiting ??= []).push(
              r.then(
                (v) => void (values[i] = v),
                (e) => fail(i, e),
              ),
            );
          } else {
            values[i] = r;
          }
        } catch (e) {
          fail(i, e);
        }
        if (i + 1 < n && (i & 63) === 63 && performance.now() > until) {
          return new Promise((resolve) => setImmediate(resolve)).then(() => run(i + 1));
        }
      }
      return waiting === null ? answer() : Promise.all(waiting).then(answer);
    };
    return run(0);
  });
  unary.push(BATCH);
}
