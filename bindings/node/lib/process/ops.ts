// Operations on a native pool or supervisor: each gets an id, the engine reports it finished through
// one wake-up per batch, and `drain(buffer)` hands over every finished one at once (see
// `../batch.ts`). While operations are pending the process stays alive, like a pending socket.

import { OmnitronError, fromInfo } from '../errors.js';
import { decode } from '../rpc/codec.js';
import { BatchReader } from '../batch.js';
import { KeepAlive } from '../keepalive.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  json: boolean;
}

const text = new TextDecoder();

export class Ops {
  source: { drain(buf: Uint8Array): number } | undefined;
  readonly #batch = new BatchReader();
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  readonly #keepAlive = new KeepAlive();

  /** Given to the native object: called (through a thread-safe function) when operations finished. */
  readonly wake = (): void => this.#drain();

  /** Starts operation `start(id)`; its result is MessagePack, or JSON when `json`. */
  run<R>(start: (id: number) => void, json = false): Promise<R> {
    const id = this.#next++;
    if (this.#next > 0xfffffff0) this.#next = 1;
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, json });
      this.#keepAlive.set(true);
      start(id);
    });
  }

  get pending(): number {
    return this.#pending.size;
  }

  #drain(): void {
    const source = this.source;
    if (!source) return;
    this.#batch.read(
      (buf) => source.drain(buf),
      (kind, id, _aux, bytes, code, message) => {
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        if (kind === 0) {
          try {
            p.resolve(bytes === null ? undefined : p.json ? JSON.parse(text.decode(bytes)) : decode(bytes));
          } catch (e) {
            p.reject(e);
          }
          return;
        }
        const err = fromInfo({ code: code ?? 'E000', message: message ?? '' }) as OmnitronError & { data?: unknown };
        if (bytes) {
          try {
            err.data = decode(bytes);
          } catch {
            /* data that does not decode is dropped */
          }
        }
        p.reject(err);
      },
    );
    if (this.#pending.size === 0) this.#keepAlive.set(false);
  }
}
