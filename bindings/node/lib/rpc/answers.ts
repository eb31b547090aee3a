// The answers of JavaScript handlers go to the engine together: each is encoded straight into one
// shared buffer (id, length, MessagePack value), and the buffer crosses to the engine once, in a
// microtask queued by the first answer. The answers of one read, served synchronously, thus cross
// in one call, just after the read's items were handed out and before the loop goes on. Errors
// still cross one at a time (`rpcAnswer`): they are rare and carry strings.

import { native } from '../native.js';
import { Writer, appendRecord } from './codec.js';

const w = new Writer();
let queued = false;

function flush(): void {
  queued = false;
  if (w.len === 0) return;
  const len = w.len;
  w.len = 0;
  native.rpcAnswers(w.buf, len);
  // One huge answer does not keep a huge buffer alive.
  if (w.buf.length > 1 << 20) w.buf = Buffer.allocUnsafe(64 * 1024);
}

/** Queues `v` as call `id`'s result; throws, queuing nothing, if `v` cannot be encoded. */
export function answer(id: number, v: unknown): void {
  const at = appendRecord(w, 8, v);
  w.buf.writeUInt32LE(id, at);
  w.buf.writeUInt32LE(w.len - at - 8, at + 4);
  if (!queued) {
    queued = true;
    queueMicrotask(flush);
  }
}
