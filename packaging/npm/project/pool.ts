// A process pool from the installed packages (make dist-test-npm): the spec's @ProcessPool on an
// @Injectable, started by Omnitron.create; every path involved must lie inside this project.
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable, Module, Omnitron, Pool, ProcessPool } from '@omnitron-dev/native';
import { Squarer } from './worker.js';

@Injectable()
class Calculator {
  @ProcessPool({ service: Squarer, size: 2 })
  pool!: Pool<Squarer>;
}

@Module({ providers: [Calculator] })
class AppModule {}

const project = realpathSync(join(__dirname, '..'));
const modules = join(project, 'node_modules');
const inside = (what: string, file: string) => assert.ok(realpathSync(file).startsWith(modules + '/'), `${what} ${file} is not under ${modules}`);

async function main() {
  // The addon napi's loader picked: the per-platform package's, not a file next to native.js.
  const addon = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((l) => l.slice(l.indexOf('/')))
    .find((f) => /\/omnitron\.[^/]+\.node$/.test(f));
  assert.ok(addon, 'no omnitron addon mapped into this process');
  assert.match(addon, /\/node_modules\/@omnitron-dev\/native-[^/]+\/omnitron\.[^/]+\.node$/);
  inside('the addon', addon);

  const app = await Omnitron.create(AppModule);
  const { pool } = app.get(Calculator);
  const out = await pool.map([1, 2, 3, 4, 5, 6], 'square');
  assert.deepEqual(
    out.map((o) => o.square),
    [1, 4, 9, 16, 25, 36],
  );
  assert.equal((await pool.exec('square', 12)).square, 144);
  const pids = pool.status().pids;
  assert.equal(pids.length, 2);
  assert.ok(out.every((o) => pids.includes(o.pid) && o.pid !== process.pid), 'answered by the workers');
  const entry = require.resolve('@omnitron-dev/native/worker');
  inside('the worker entry', entry);
  for (const pid of pids) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.equal(argv[1], entry, `worker ${pid} runs ${argv.join(' ')}`);
    assert.equal(argv[2], join(project, 'out', 'worker.js'));
  }
  await app.close();
  console.log(`pool ok: ${out.length} items and one exec on ${pids.length} Node workers (${entry.slice(project.length + 1)})`);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
