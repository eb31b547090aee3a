// What writing a log record costs from Node: Omnitron's Logger (records through the engine's
// logger, one JSON line per write on standard error) next to pino, the logger a Node user would
// otherwise pick, writing the same record to /dev/null: synchronously (one write per line, as
// Omnitron writes) and with pino's default buffered destination. Also a record below the level
// (what a disabled `debug` costs). Run in a child whose standard error is /dev/null, so both write
// to the same place. `node dist/log.bench.js`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { report, run, type Result } from './harness.js';

const self = join(import.meta.dirname, 'log.bench.js');

async function measure(): Promise<Result[]> {
  process.env.OMNITRON_LOG = 'info';
  process.env.OMNITRON_LOG_FORMAT = 'json';
  const { createLogger } = await import('@omnitron-dev/native');
  const { pino } = await import('pino');
  const omni = createLogger({ name: 'orders', base: { region: 'eu' } });
  const sync = pino({ base: { region: 'eu' } }, pino.destination({ dest: '/dev/null', sync: true }));
  const buffered = pino({ base: { region: 'eu' } }, pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 }));
  let i = 0;
  const fields = () => ({ orderId: ++i, user: 'ada', amount: 42.5 });
  return run(
    [
      { case: 'info, 3 fields', lib: 'omnitron', f: () => omni.info(fields(), 'order placed'), batch: 20_000 },
      { case: 'info, 3 fields', lib: 'pino (sync)', f: () => sync.info(fields(), 'order placed'), batch: 20_000 },
      { case: 'info, 3 fields', lib: 'pino (buffered)', f: () => buffered.info(fields(), 'order placed'), batch: 20_000 },
      { case: 'debug, disabled', lib: 'omnitron', f: () => omni.debug(fields(), 'not written') },
      { case: 'debug, disabled', lib: 'pino (sync)', f: () => sync.debug(fields(), 'not written') },
    ],
    11,
  );
}

if (process.argv[2] === 'child') {
  process.stdout.write(JSON.stringify(await measure()));
} else {
  const r = spawnSync(process.execPath, [self, 'child'], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`the measuring child failed (${r.status})`);
  report('Logging from Node: a record written to /dev/null (ns per record, median of 11 rounds)', JSON.parse(r.stdout) as Result[], 'omnitron');
}
