// Pools of Node workers beyond the basics of process.test.ts: map in chunks (sizes, order, per-item
// errors, a chunk retried when its worker dies) and options checked. The spec's section 3.3 is in
// spec-examples.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnitronError, Pool, ProcessPool, currentTrace, withSpan } from '@omnitron-dev/native';
import { Chunks } from './process.pool.worker.js';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;
const T = { timeout: 60_000 };
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function eventually(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}

type Where = [number, number, number, string];

/** How many items came in each message, in the order the items were given. */
function chunkSizes(out: Where[]): number[] {
  const sizes = new Map<string, number>();
  for (const [, pid, call] of out) sizes.set(`${pid}/${call}`, (sizes.get(`${pid}/${call}`) ?? 0) + 1);
  return [...sizes.values()];
}

test('map sends chunks sized as multiprocessing does, keeps order, and chunksize overrides it', T, async () => {
  const pool = await Pool.start<Chunks>({ service: Chunks, size: 2 });
  try {
    const items = Array.from({ length: 100 }, (_, i) => i);
    for (const method of ['where', 'whereLater'] as const) {
      // divmod(100, 2 workers * 4) = (12, 4): 13 items a chunk, the last one 9.
      let out = (await pool.map(items, method)) as Where[];
      assert.deepEqual(
        out.map((o) => o[0]),
        items,
      );
      assert.ok(out.every((o) => o[3] === '$batch'), method);
      assert.deepEqual(chunkSizes(out), [13, 13, 13, 13, 13, 13, 13, 9]);
      assert.equal(new Set(out.map((o) => o[1])).size, 2, 'chunks went to both workers');
      out = (await pool.map(items, method, { chunksize: 40 })) as Where[];
      assert.deepEqual(chunkSizes(out), [40, 40, 20]);
      // 1: one call per item, as before.
      out = (await pool.map(items, method, { chunksize: 1 })) as Where[];
      assert.ok(out.every((o) => o[3] === method));
    }
    // Any iterable, many items, each back in its place.
    const many = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `item ${i}` }));
    assert.deepEqual(
      (await pool.map(many as any[], 'where')).map((o) => o[0]),
      many,
    );
    assert.deepEqual((await pool.map(new Set([3, 1, 2]), 'where')).map((o) => o[0]), [3, 1, 2]);
    assert.deepEqual(await pool.map([], 'where'), []);
  } finally {
    await pool.close(); // the same as stop()
  }
  await assert.rejects(pool.exec('where', 1), code('P005'));
});

test("a pool's tasks and map chunks run in the caller's trace", T, async () => {
  const pool = await Pool.start<Chunks>({ service: Chunks, size: 2 });
  try {
    const [mine, one, many] = await withSpan('resize-all', async () => [
      currentTrace()!.traceparent,
      await pool.exec('trace', 1),
      await pool.map(Array.from({ length: 20 }, (_, i) => i), 'trace'),
    ]);
    const id = (tp: unknown) => String(tp).split('-')[1];
    assert.equal(id(one), id(mine));
    assert.ok((many as unknown[]).every((tp) => id(tp) === id(mine)), JSON.stringify(many));
    assert.equal(await pool.exec('trace', 2), null, 'outside any trace, none');
  } finally {
    await pool.stop();
  }
});

test('every item runs and map rejects with the first failure in order, as exec would', T, async () => {
  const pool = await Pool.start<Chunks>({ service: Chunks, size: 2 });
  try {
    const items = Array.from({ length: 40 }, (_, i) => i);
    for (const method of ['maybeFail', 'maybeFailLater'] as const) {
      for (const chunksize of [undefined, 1, 7]) {
        const e = await pool.map(items, method, { chunksize }).then(
          () => assert.fail('map resolved'),
          (e: unknown) => e,
        );
        // Items 3, 10, ... throw a RangeError; 5, 12, ... an OmnitronError: 3 comes first.
        assert.ok(code('RPC008')(e), `${method} ${chunksize}: ${e}`);
        const one = await pool.exec(method, 3).then(
          () => assert.fail('exec resolved'),
          (x: unknown) => x,
        );
        assert.equal((e as Error).message, (one as Error).message);
        assert.deepEqual((e as { data?: unknown }).data, { type: 'RangeError' });
      }
      await assert.rejects(pool.map([0, 1, 2, 5], method), (e: unknown) => code('E001')(e) && /item 5 is refused/.test((e as Error).message));
      assert.deepEqual(await pool.map([0, 1, 2, 4], method), [0, 2, 4, 8]);
    }
    await assert.rejects(pool.map(items, 'nope' as any), code('RPC002'));
  } finally {
    await pool.stop();
  }
});

test('a chunk whose worker dies is run again on another', T, async () => {
  const marker = join(mkdtempSync(join(tmpdir(), 'omni-pool-')), 'died');
  const pool = await Pool.start<Chunks>({ service: Chunks, size: 2, taskRetries: 1 });
  try {
    const pids = pool.status().pids;
    const items = Array.from({ length: 100 }, (_, i): [number, string] => [i, marker]);
    assert.deepEqual(
      await pool.map(items, 'dieOnce', { chunksize: 10 }),
      items.map(([i]) => i),
    );
    assert.ok(existsSync(marker), 'a worker died on item 50');
    await eventually('a worker gone', () => pids.some((p) => !alive(p)));
  } finally {
    await pool.stop();
  }
});

test('bad input to map, Pool.start and @ProcessPool is refused with E001', T, async () => {
  const pool = await Pool.start<Chunks>({ service: Chunks, size: 1 });
  try {
    for (const chunksize of [0, -1, 1.5, true, '2', Number.NaN]) {
      await assert.rejects(pool.map([1], 'where', { chunksize } as any), (e: unknown) => code('E001')(e) && /chunksize/.test((e as Error).message));
    }
    await assert.rejects(pool.map([1], 'where', { chunkSize: 2 } as any), (e: unknown) => code('E001')(e) && /did you mean 'chunksize'/.test((e as Error).message));
    for (const items of [42, null, undefined, 'abc', { length: 2 }]) {
      await assert.rejects(pool.map(items as any, 'where'), (e: unknown) => code('E001')(e) && /iterable/.test((e as Error).message));
    }
    await assert.rejects(pool.map([() => 1] as any[], 'where'), code('E001'));
    assert.deepEqual((await pool.map([1], 'where')).map((o) => o[0]), [1], 'the pool goes on');
  } finally {
    await pool.stop();
  }
  await assert.rejects(
    Pool.start({ service: Chunks, sise: 2 } as any),
    (e: unknown) => code('E001')(e) && /unknown option 'sise' in Pool.start\(\): did you mean 'size'\?/.test((e as Error).message),
  );
  await assert.rejects(
    Pool.start({ service: Chunks, healthCheck: { intervall: 5 } } as any),
    (e: unknown) => code('E001')(e) && /did you mean 'interval'/.test((e as Error).message),
  );
  // The engine checks the values, in TypeScript's words (milliseconds).
  await assert.rejects(
    Pool.start({ service: Chunks, taskTimeout: -5 }),
    (e: unknown) => code('E001')(e) && /pool '.*': taskTimeout must be a number of milliseconds, 0 or more, got -5/.test((e as Error).message),
  );
  await assert.rejects(
    Pool.start({ service: Chunks, healthCheck: { interval: -1 } }),
    (e: unknown) => code('E001')(e) && /health: interval must be a number of milliseconds, 0 or more, got -1/.test((e as Error).message),
  );
  assert.throws(
    () => ProcessPool({ service: Chunks, shutdownTimeOut: 5 } as any),
    (e: unknown) => code('E001')(e) && /in @ProcessPool\(\): did you mean 'shutdownTimeout'/.test((e as Error).message),
  );
});
