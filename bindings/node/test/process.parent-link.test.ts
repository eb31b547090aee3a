// connectToParent(): a Node child that is an application (it reports ready itself) under a real
// supervisor, next to a sibling it calls through the parent; stopped with SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnitronError, Supervisor, connectToParent } from '@omnitron-dev/native';
import { Calc } from './process.worker.js';

const T = { timeout: 60_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('an application child connects, calls a sibling through the parent, reports ready, and stops cleanly at SIGTERM', T, async () => {
  const report = join(mkdtempSync(join(tmpdir(), 'omnitron-link-')), 'report.jsonl');
  const sup = await new Supervisor({ name: 'link', backoff: { initial: 10 } })
    .addChild('calc', { service: Calc })
    .addChild('app', { command: [process.execPath, join(__dirname, 'process.app-child.js')], env: { REPORT: report } })
    .start();
  try {
    const children = await sup.children();
    assert.deepEqual(
      children.map((c) => [c.name, c.state]),
      [
        ['calc', 'running'],
        ['app', 'running'],
      ],
    );
    const [before] = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(before.sum, 42, 'the sibling answered through the parent');
    assert.equal(before.connected, true);
    assert.equal(before.isDefault, true, 'the link is Peer.default, which @InjectProcess uses');
    assert.match(before.id, /^app:0:/);
    const pid = children[1].pid!;
    await sup.stop();
    for (let i = 0; i < 400 && alive(pid); i++) await sleep(25);
    assert.ok(!alive(pid), 'the child exited');
    const lines = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[1], { signal: 'SIGTERM', connected: false }, 'stopRequested resolved, then close() ran');
  } finally {
    await sup.stop();
  }
});

test('connectToParent() without a parent says how the process is meant to be started (P009)', async () => {
  const saved = process.env.OMNITRON_PARENT;
  delete process.env.OMNITRON_PARENT;
  try {
    await assert.rejects(connectToParent(), (e: unknown) => e instanceof OmnitronError && e.code === 'P009' && /no parent/.test(e.message));
  } finally {
    if (saved !== undefined) process.env.OMNITRON_PARENT = saved;
  }
});
