// The calls a peer makes in one event-loop turn cross to the engine together: each is encoded
// straight into the peer's batch (id, route, deadline, arguments' length, MessagePack arguments),
// and the batch crosses once per SLICE calls and at the end of the turn (`flushCalls`). With the
// engine's turn (`beginTurn`) the frames then go out in slices too, as they did one call at a time.

import { Writer, appendRecord } from './codec.js';

/** Calls per crossing: the engine writes frames in slices of as many (FLUSH_FRAMES in core). */
const SLICE = 16;

/** Batches with calls waiting for the end of the turn. */
const waiting: CallBatch[] = [];

export class CallBatch {
  readonly #w = new Writer();
  #count = 0;
  #busy = false;

  constructor(readonly send: (buf: Uint8Array, len: number) => void) {}

  /** Whether a call is being encoded into it (a call made meanwhile must not be added). */
  get busy(): boolean {
    return this.#busy;
  }

  /** Queues a call; throws, queuing nothing, if `args` cannot be encoded. */
  add(id: number, route: number, args: unknown[], deadline: number | undefined): void {
    const w = this.#w;
    this.#busy = true;
    let at: number;
    try {
      at = appendRecord(w, 20, args);
    } finally {
      this.#busy = false;
    }
    w.buf.writeUInt32LE(id, at);
    w.buf.writeUInt32LE(route, at + 4);
    w.buf.writeDoubleLE(deadline ?? 0, at + 8);
    w.buf.writeUInt32LE(w.len - at - 20, at + 16);
    if (this.#count++ === 0) waiting.push(this);
  }

  /** Sends the calls queued if a slice is full. */
  sliceFull(): void {
    if (this.#count >= SLICE) this.flush();
  }

  /** Drops the calls queued (the peer closed: their promises were rejected). */
  discard(): void {
    this.#count = 0;
    this.#w.len = 0;
  }

  /** Sends the calls queued. */
  flush(): void {
    if (this.#count === 0) return;
    const len = this.#w.len;
    this.#count = 0;
    this.#w.len = 0;
    this.send(this.#w.buf, len);
    if (this.#w.buf.length > 1 << 20) this.#w.buf = Buffer.allocUnsafe(4096);
  }
}

/** Sends every batch's waiting calls (the end of the turn). */
export function flushCalls(): void {
  // A batch flushed at a full slice may be listed again: flush() of an empty one does nothing.
  for (let i = 0; i < waiting.length; i++) waiting[i].flush();
  waiting.length = 0;
}
