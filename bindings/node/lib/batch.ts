// Reading what the engine queued for JavaScript: `drain(buffer)` writes every waiting item into a
// buffer this side owns and reuses (no typed array made per batch), and returns the bytes written,
// or minus the size a bigger buffer needs. Item layout (little-endian): kind u8, string count u8,
// id u32, aux u32, byte count u32, the bytes, then each string as a u32 length and UTF-8.

export type Each = (kind: number, id: number, aux: number, bytes: Uint8Array | null, s0: string | null, s1: string | null) => void;

/** `Each` with an item's bytes as `len` bytes from `start` of `BatchReader.buffer` (none: 0). */
export type EachAt = (kind: number, id: number, aux: number, start: number, len: number, s0: string | null, s1: string | null) => void;

export class BatchReader {
  #buf = Buffer.alloc(64 * 1024);
  #view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);

  /** The buffer `readAt`'s offsets point into, valid until its `each` returns. */
  get buffer(): Buffer {
    return this.#buf;
  }

  /** A view of `buffer`, for the fixed-width fields an item may start with. */
  get view(): DataView {
    return this.#view;
  }

  /**
   * Drains through `drain` and calls `each` per item. An item's bytes are a view of the shared
   * buffer, valid until `each` returns: decode them there. A throwing `each` does not lose the
   * other items: its error is thrown again as uncaught, as it would have been on its own.
   */
  read(drain: (buf: Uint8Array) => number, each: Each): void {
    this.readAt(drain, (kind, id, aux, start, len, s0, s1) => each(kind, id, aux, len > 0 ? this.#buf.subarray(start, start + len) : null, s0, s1));
  }

  /** `read` without a view made per item: the bytes are given as offsets into `buffer`. */
  readAt(drain: (buf: Uint8Array) => number, each: EachAt): void {
    let n = drain(this.#buf);
    while (n < 0) {
      this.#buf = Buffer.alloc(Math.max(-n, this.#buf.length * 2));
      this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
      n = drain(this.#buf);
    }
    const b = this.#buf;
    const v = this.#view;
    let at = 0;
    while (at < n) {
      const kind = b[at];
      const strings = b[at + 1];
      const id = v.getUint32(at + 2, true);
      const aux = v.getUint32(at + 6, true);
      const len = v.getUint32(at + 10, true);
      at += 14;
      const start = at;
      at += len;
      let s0: string | null = null;
      let s1: string | null = null;
      for (let i = 0; i < strings; i++) {
        const sl = v.getUint32(at, true);
        // `toString` over a range: no view made per string.
        const s = b.toString('utf8', at + 4, at + 4 + sl);
        at += 4 + sl;
        if (i === 0) s0 = s;
        else s1 = s;
      }
      try {
        each(kind, id, aux, start, len, s0, s1);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
