// The table of calls waiting for answers (lib/rpc/pending.ts): ids that share a slot, growth, a
// long-lived call among many short ones, and taking everything out when the peer closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';

interface Waiting {
  id: number;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}
interface Table {
  readonly size: number;
  set(w: Waiting): void;
  take(id: number): Waiting | undefined;
  drain(): Waiting[];
}
const { CallTable } = require(require.resolve('@omnitron-dev/native/package.json').replace(/package\.json$/, 'dist/rpc/pending.js')) as {
  CallTable: new () => Table;
};
const w = (id: number): Waiting => ({ id, resolve: () => {}, reject: () => {} });

test('the call table finds every id, whether its slot was free or not', () => {
  const t = new CallTable();
  // A call that stays while thousands of others come and go, landing on its slot again and again.
  const stays = w(5);
  t.set(stays);
  for (let id = 6; id < 20_000; id++) {
    t.set(w(id));
    if (id % 3 === 0) t.set(w(id + 1_000_000)); // a second one waiting at a time
    assert.equal(t.take(id)?.id, id);
    if (id % 3 === 0) assert.equal(t.take(id + 1_000_000)?.id, id + 1_000_000);
  }
  assert.equal(t.size, 1);
  assert.equal(t.take(5), stays);
  assert.equal(t.take(5), undefined, 'taken once');

  // Many at once (it grows), answered in any order; ids that collide in the low bits.
  const ids = Array.from({ length: 1000 }, (_, i) => (i % 2 ? i : i * 4096 + 1));
  for (const id of ids) t.set(w(id));
  assert.equal(t.size, 1000);
  assert.equal(t.take(123_456_789), undefined);
  for (const id of [...ids].reverse().filter((_, i) => i % 2)) assert.equal(t.take(id)?.id, id);
  assert.equal(t.size, 500);
  const rest = t.drain().map((x) => x.id).sort((a, b) => a - b);
  assert.deepEqual(rest, ids.filter((_, i) => (ids.length - 1 - i) % 2 === 0).sort((a, b) => a - b));
  assert.equal(t.size, 0);
  assert.equal(t.take(ids[0]), undefined);
});

test('the batch of answers the engine takes ignores what does not parse and refuses wrong types', () => {
  const native = require(require.resolve('@omnitron-dev/native/package.json').replace(/package\.json$/, 'native.js')) as {
    rpcAnswers(batch: Uint8Array, len: number): number;
  };
  // A length past the buffer, a tail cut short, an id nobody serves: nothing answered, no crash.
  assert.equal(native.rpcAnswers(new Uint8Array([1, 2, 3]), 100), 0);
  const rec = new Uint8Array(12);
  new DataView(rec.buffer).setUint32(0, 0xfffffff0, true);
  new DataView(rec.buffer).setUint32(4, 1_000_000, true); // claims more bytes than there are
  assert.equal(native.rpcAnswers(rec, rec.length), 0);
  new DataView(rec.buffer).setUint32(4, 1, true);
  assert.equal(native.rpcAnswers(rec, 9), 0);
  assert.throws(() => native.rpcAnswers('not bytes' as any, 1));
  assert.equal(native.rpcAnswers(rec, -1), 0); // read as a u32: capped at the buffer's length
});
