// The structured logger from TypeScript: pino's interface over the engine's logger. A child process
// writes records of every shape; each stderr line must be a pino-shaped JSON record with the
// process's name, the module, the call being served and the trace it was made in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, OmnitronError, createLogger, logFilter, setLogFilter, setLogLevel } from '@omnitron-dev/native';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;

test('records from a process are pino-shaped JSON lines, correlated with the call and its trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnitron-log-'));
  const r = spawnSync(process.execPath, [join(__dirname, 'log.child.js'), join(dir, 'private')], {
    env: {
      ...process.env,
      OMNITRON_LOG: 'info',
      OMNITRON_LOG_FORMAT: 'json',
      OMNITRON_CHILD_NAME: 'shop',
      OMNITRON_LOG_CONTROL: '',
      OMNITRON_CALL_EVENTS: '1',
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const [traceparent, eventsJson] = r.stdout.trim().split('\n');
  const [, traceId] = traceparent!.split('-');
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
  const by = (msg: string) => lines.find((l) => l.msg === msg);

  const reserving = by('reserving a-1');
  assert.ok(reserving, r.stderr);
  assert.equal(reserving.level, 30);
  assert.equal(reserving.name, 'shop');
  assert.equal(reserving.pid, r.pid);
  assert.equal(typeof reserving.hostname, 'string');
  assert.equal(typeof reserving.time, 'number');
  assert.equal(reserving.module, 'inventory');
  assert.equal(reserving.service, 'inventory');
  assert.equal(reserving.method, 'reserve');
  assert.equal(reserving.sku, 'a-1');
  assert.equal(reserving.qty, 2);
  assert.equal(reserving.trace_id, traceId, 'the handler runs in the caller’s trace');
  assert.equal(by('not written: the module is at info'), undefined);

  const declined = by('card declined');
  assert.equal(declined?.level, 40);
  assert.equal(declined?.module, 'orders.payment');
  assert.equal(declined?.region, 'eu');
  assert.equal(declined?.err.type, 'Error');
  assert.match(declined?.err.stack, /card declined/);
  assert.equal(declined?.trace_id, undefined, 'outside any trace');

  const failed = by('charge failed');
  assert.equal(failed?.level, 50);
  assert.equal(failed?.orderId, 42);
  assert.equal(failed?.err.message, 'gateway down');
  assert.equal(failed?.err.code, 'E503');

  assert.equal(by('cyclic')?.self.self, '[Circular]');
  assert.equal(by('cyclic')?.big, '10');
  assert.equal(by('not yet'), undefined);
  assert.equal(by('now at debug')?.level, 20, "logger.level = 'debug' takes effect at once");
  assert.equal(by('root 1 of {"a":1}')?.level, 30);
  assert.equal(by('Finding user')?.module, 'UsersService', "a bare @InjectLogger() logs as its class");
  assert.equal(by('Finding user')?.id, 'u-7');

  // The served calls' events, in order, with the caller's trace and the failure's code.
  const events = JSON.parse(eventsJson!) as [string, Record<string, any>][];
  assert.deepEqual(
    events.map(([t]) => t),
    ['inventory.reserve.started', 'inventory.reserve.completed', 'inventory.reserve.started', 'inventory.reserve.failed'],
  );
  assert.equal(events[0]![1].traceId, traceId);
  assert.equal(events[1]![1].service, 'inventory');
  assert.equal(typeof events[1]![1].durationMs, 'number');
  assert.match(events[3]![1].error.message, /sku must be a string/);
});

test("a running process's level changes when its control file does (omnitron log-level)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnitron-log-'));
  const control = join(dir, 'ticker.level');
  writeFileSync(control, 'info\n');
  const child = spawn(process.execPath, [join(__dirname, 'log.control.child.js')], {
    env: { ...process.env, OMNITRON_LOG: 'info', OMNITRON_LOG_FORMAT: 'json', OMNITRON_LOG_CONTROL: control },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(err.includes('"msg":"tick"'), false, 'debug is off at first');
  // As `omnitron log-level` writes it: a new file renamed into place.
  writeFileSync(`${control}.tmp`, 'debug\n');
  (await import('node:fs')).renameSync(`${control}.tmp`, control);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, err);
  const ticks = err.split('\n').filter((l) => l.includes('"msg":"tick"')).map((l) => JSON.parse(l) as { level: number; module: string });
  assert.ok(ticks.length > 10, `debug records once the file said so: ${err}`);
  assert.ok(ticks.every((t) => t.level === 20 && t.module === 'ticker'));
});

test('bad input is refused with E001 and changes nothing', () => {
  const before = logFilter();
  assert.throws(() => setLogFilter('info,orders=loud'), code('E001'));
  assert.throws(() => setLogFilter(7 as unknown as string), code('E001'));
  assert.equal(logFilter(), before);
  assert.throws(() => new Logger(5 as unknown as string), code('E001'));
  const l = createLogger({ name: 'bad.input' });
  assert.throws(() => {
    l.level = 'loud' as 'info';
  }, code('E001'));
  assert.throws(() => createLogger({ nmae: 'x' } as never), code('E001'));
  assert.throws(() => l.child(null as never), code('E001'));
  assert.throws(() => l.child({}, { lvl: 'x' } as never), code('E001'));
  assert.throws(() => l.isLevelEnabled('verbose' as 'info'), code('E001'));
  assert.throws(() => l.isLevelEnabled('constructor' as 'info'), code('E001'));
  assert.equal(l.isLevelEnabled('silent'), false);
  l.level = 'silent';
  assert.equal(l.level, 'silent');
  assert.equal(l.isLevelEnabled('fatal'), false);
  l.level = 'warn';
  assert.equal(l.level, 'warn');
  assert.equal(l.levelVal, 40);
  assert.equal(logFilter().includes('bad.input=warn'), true);
  setLogLevel('bad.input', 'error');
  assert.equal(l.level, 'error', 'a logger of the module sees it at once');
  assert.throws(() => setLogLevel('a,b', 'info'), code('E001'));
  assert.throws(() => setLogLevel('bad.input', 'loud' as 'info'), code('E001'));
  assert.throws(() => setLogLevel(3 as unknown as string, 'info'), code('E001'));
});
