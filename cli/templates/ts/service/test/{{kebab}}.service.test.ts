import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from '@omnitron-dev/native';
import { {{pascal}}Service } from '../src/{{kebab}}.service.js';

test('{{kebab}} keeps what it is given', () => {
  const s = new {{pascal}}Service();
  assert.equal(s.set('a', 1), 1);
  assert.equal(s.get('a'), 1);
  assert.equal(s.get('b'), null);
  assert.throws(() => s.set('', 1), RangeError);
});

test('{{kebab}} answers over RPC from a worker process', { timeout: 60_000 }, async () => {
  const pool = await Pool.start<{{pascal}}Service>({ service: {{pascal}}Service, size: 1 });
  try {
    assert.equal(await pool.proxy.set('a', 42), 1);
    assert.equal(await pool.proxy.get('a'), 42);
  } finally {
    await pool.stop();
  }
});
