// A Node process running a durable workflow is killed with SIGKILL in the middle of a stage; a new
// engine on the same SQLite journal (this process) recovers the run, which completes with no
// stage's side effect applied twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowEngine } from '@omnitron-dev/native';
import { crashyWorkflow, effects } from './workflow.crash-child.js';

test('a run killed with SIGKILL mid-stage is resumed by a new engine on the same journal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnitron-wf-crash-'));
  const journal = join(dir, 'journal.db');
  const file = join(dir, 'effects.txt');
  const child = spawn(process.execPath, [join(__dirname, 'workflow.crash-child.js'), 'run', journal, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('in-stage')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the child exited (${code}) before the stage`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.deepEqual(effects(file), { 'crash-run:s1': 1, 'crash-run:s2': 1 });

  const engine = await WorkflowEngine.open(journal);
  try {
    engine.register(crashyWorkflow(file, false));
    const recovery = await engine.recover();
    assert.deepEqual(recovery.resumed, ['crash-run']);
    const out = await engine.wait('crash-run');
    assert.deepEqual(out.s3, { s3: true });
    const info = await engine.get('crash-run');
    assert.equal(info.state, 'completed');
  } finally {
    engine.close();
  }
  // s1 not run again, s2 run again with the same key (applied once), s3 once.
  assert.deepEqual(effects(file), { 'crash-run:s1': 1, 'crash-run:s2': 1, 'crash-run:s3': 1 });
});
