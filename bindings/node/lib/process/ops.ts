// Operations on a native pool or supervisor: each gets an id, the engine reports it finished through
// one wake-up per batch, and `drain()` hands over every finished one at once (successes packed in one
// buffer). While operations are pending the process stays alive, like a pending socket.

import { OmnitronError, fromInfo } from '../errors.js';
import { decode } from '../rpc/msgpack.js';

interface Drained {
  ids: Uint32Array;
  ends: Uint32Array;
  data: Uint8Array;
  errors: { id: number; code: string; message: string; data?: Uint8Array | null }[];
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  json: boolean;
}

const text = new TextDecoder();

export class Ops {
  source: { drain(): Drained } | undefined;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #keepAlive: ReturnType<typeof setInterval> | undefined;

  /** Given to the native object: called (through a thread-safe function) when operations finished. */
  readonly wake = (): void => this.#drain();

  /** Starts operation `start(id)`; its result is MessagePack, or JSON when `json`. */
  run<R>(start: (id: number) => void, json = false): Promise<R> {
    const id = this.#next++;
    if (this.#next > 0xfffffff0) this.#next = 1;
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, json });
      if (!this.#keepAlive) this.#keepAlive = setInterval(() => {}, 1 << 30);
      start(id);
    });
  }

  get pending(): number {
    return this.#pending.size;
  }

  #drain(): void {
    const d = this.source?.drain();
    if (!d) return;
    const { ids, ends, data } = d;
    let from = 0;
    for (let i = 0; i < ids.length; i++) {
      const to = ends[i];
      const p = this.#pending.get(ids[i]);
      if (p) {
        this.#pending.delete(ids[i]);
        const bytes = data.subarray(from, to);
        try {
          p.resolve(p.json ? JSON.parse(text.decode(bytes)) : decode(bytes));
        } catch (e) {
          p.reject(e);
        }
      }
      from = to;
    }
    for (const e of d.errors) {
      const p = this.#pending.get(e.id);
      if (!p) continue;
      this.#pending.delete(e.id);
      const err = fromInfo({ code: e.code, message: e.message }) as OmnitronError & { data?: unknown };
      if (e.data) {
        try {
          err.data = decode(e.data);
        } catch {
          /* data that does not decode is dropped */
        }
      }
      p.reject(err);
    }
    if (this.#pending.size === 0 && this.#keepAlive) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}
