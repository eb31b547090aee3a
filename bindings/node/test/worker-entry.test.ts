// The Node worker entry point from code: WORKER_ENTRY (also `@omnitron-dev/native/worker`) and
// workerCommand(module, export, { execArgv }), used to start real children.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { OmnitronError, Pool, WORKER_ENTRY, workerCommand } from '@omnitron-dev/native';
import type { Calc } from './process.worker.js';

const T = { timeout: 60_000 };
const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof OmnitronError && e.code === c && (re === undefined || re.test(e.message));
const worker = join(__dirname, 'process.worker.js');

test('WORKER_ENTRY is the entry point file, also reachable as @omnitron-dev/native/worker', () => {
  assert.ok(existsSync(WORKER_ENTRY));
  assert.equal(WORKER_ENTRY, require.resolve('@omnitron-dev/native/worker'));
  assert.match(WORKER_ENTRY, /dist[\\/]process[\\/]worker-main\.js$/);
});

test('workerCommand builds [node, ...execArgv, entry, absolute module, export]', () => {
  assert.deepEqual(workerCommand(worker, 'Calc'), [process.execPath, WORKER_ENTRY, worker, 'Calc']);
  assert.deepEqual(workerCommand(relative(process.cwd(), worker), 'Calc', { execArgv: ['--no-warnings'] }), [
    process.execPath,
    '--no-warnings',
    WORKER_ENTRY,
    worker,
    'Calc',
  ]);
  assert.deepEqual(workerCommand(worker), [process.execPath, WORKER_ENTRY, worker]);
  assert.deepEqual(workerCommand(worker, undefined, {}), [process.execPath, WORKER_ENTRY, worker]);
});

test('a pool started with workerCommand runs the export in real children, with the Node options given', T, async () => {
  const pool = await Pool.start<Calc>({
    command: workerCommand(worker, 'Calc', { execArgv: ['--max-old-space-size=200'] }),
    size: 1,
    target: 'calc@1.0.0',
  });
  try {
    assert.equal(await pool.exec('add', 20, 22), 42);
    const pid = await pool.exec('pid');
    assert.notEqual(pid, process.pid);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(argv.slice(0, 5), [process.execPath, '--max-old-space-size=200', WORKER_ENTRY, worker, 'Calc']);
  } finally {
    await pool.stop();
  }
  // Without an export name the module's only @Service export is served.
  const pool2 = await Pool.start<Calc>({ command: workerCommand(worker), size: 1, target: 'calc@1.0.0' });
  try {
    assert.equal(await pool2.exec('add', 1, 2), 3);
  } finally {
    await pool2.stop();
  }
});

test('workerCommand refuses bad input with E001, an unknown option naming the nearest valid one', () => {
  assert.throws(() => workerCommand(''), code('E001'));
  assert.throws(() => workerCommand(42 as any), code('E001'));
  assert.throws(() => workerCommand(worker, ''), code('E001'));
  assert.throws(() => workerCommand(worker, 7 as any), code('E001'));
  assert.throws(() => workerCommand(worker, 'Calc', { execArg: [] } as any), code('E001', /'execArg'.*'execArgv'/s));
  assert.throws(() => workerCommand(worker, 'Calc', { execArgv: '--inspect' } as any), code('E001', /'execArgv' must be an array of strings/));
  assert.throws(() => workerCommand(worker, 'Calc', { execArgv: [1] } as any), code('E001'));
  assert.throws(() => workerCommand(worker, 'Calc', 'x' as any), code('E001'));
});
