// The worker's side of a pool's `map`: the reserved method `$batch` (docs/PROTOCOL.md, "Batches"),
// which `Peer.expose` adds to every service it exposes. A pool sends a chunk of items as one call,
// `$batch(method, [args, ...])` (or `$batch(method, [arg, ...], 1)` when each item has one
// argument), and gets one answer, `[values, errors]`: a value per item (null where it failed), and
// null when every item succeeded, else `[[index, {code, message, data}], ...]`, each error as a call
// of that item alone would have answered it. The loop over the items runs here, in JavaScript;
// items whose method returns a promise are awaited together.

import { OmnitronError } from '../errors.js';

type AnyFn = (...args: any[]) => any;

/** The reserved method a chunk of map items arrives through. */
export const BATCH = '$batch';

interface WireError {
  code: string;
  message: string;
  data?: unknown;
}

/** An item's error as its own call would have answered it (`Peer`'s `#fail`). */
function wireError(e: unknown): WireError {
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
    for (let i = 0; i < n; i++) {
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
    }
    const answer = () => [values, errors === null ? null : errors.sort((a, b) => a[0] - b[0])];
    return waiting === null ? answer() : Promise.all(waiting).then(answer);
  });
  unary.push(BATCH);
}
