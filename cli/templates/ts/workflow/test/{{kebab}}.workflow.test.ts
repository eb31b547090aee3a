import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowEngine } from '@omnitron-dev/native';
import { {{pascal}}Workflow } from '../src/{{kebab}}.workflow.js';

test('{{kebab}} runs its stages in order', async () => {
  const engine = WorkflowEngine.inMemory();
  const wf = new {{pascal}}Workflow();
  engine.register(wf);
  const out = await engine.run('{{kebab}}', { id: 'a', amount: 10 }, { runId: 'a' });
  assert.deepEqual(out.charge, { charged: 10 });
  assert.deepEqual(wf.log, ['reserve:a:reserve', 'charge:10']);
});

test('{{kebab}} compensates when a stage fails', async () => {
  const engine = WorkflowEngine.inMemory();
  const wf = new {{pascal}}Workflow();
  engine.register(wf);
  await assert.rejects(engine.run('{{kebab}}', { id: 'b', amount: 500 }, { runId: 'b' }), /over the limit/);
  assert.deepEqual(wf.log, ['reserve:b:reserve', 'release:r-b']);
  assert.equal((await engine.get('b')).state, 'compensated');
});
