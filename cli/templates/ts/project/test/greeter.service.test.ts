import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Test } from '@omnitron-dev/native';
import { AppModule } from '../src/app.module.js';
import { CONFIG } from '../src/config.js';
import { GreeterService } from '../src/greeter.service.js';

test('the module provides a greeter with the configured greeting', async () => {
  const module = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(CONFIG)
    .useValue({ greeting: 'Hi' })
    .compile();
  try {
    assert.equal(module.get(GreeterService).greet('Ada'), 'Hi, Ada!');
    assert.throws(() => module.get(GreeterService).greet(''), RangeError);
  } finally {
    await module.close();
  }
});

test('the greeter answers from two worker processes', { timeout: 60_000 }, async () => {
  const pool = await Pool.start<GreeterService>({ service: GreeterService, size: 2 });
  try {
    assert.equal(await pool.proxy.greet('Grace'), 'Hello, Grace!');
    const pids = new Set(await pool.map([1, 2, 3, 4], () => pool.exec('pid')));
    assert.ok(!pids.has(process.pid), 'the calls ran in the workers, not here');
    await assert.rejects(pool.proxy.greet(''), /name must not be empty/);
  } finally {
    await pool.stop();
  }
});
