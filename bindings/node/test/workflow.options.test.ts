// Workflow naming (`@Workflow()` is named after its class) and options checking (an unknown key is
// E001 naming the nearest valid one) in every workflow entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Compensate, OmnitronError, Stage, Workflow, WorkflowEngine, defineWorkflow } from '@omnitron-dev/native';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;
/** E001 naming the unknown key, the key it suggests and the context the user wrote. */
const unknown = (key: string, hint: string | null, context: string) => (e: unknown) => {
  assert.ok(e instanceof OmnitronError, String(e));
  assert.equal(e.code, 'E001');
  assert.ok(e.message.includes(`unknown option '${key}' in ${context}`), e.message);
  if (hint) assert.ok(e.message.includes(`did you mean '${hint}'?`), e.message);
  return true;
};

// Spec 14.2: `@Workflow()` with no argument.
@Workflow()
class UserWorkflow {
  @Stage({ name: 'validate' })
  async validate(data: any) {
    return { valid: typeof data?.email === 'string' };
  }
}

@Workflow({ timeout: 300000 })
class TimedWorkflow {
  @Stage()
  first() {
    return 1;
  }

  @Stage('second')
  next(n: number) {
    return n + 1;
  }

  @Stage({ dependsOn: ['first', 'second'] })
  both(outputs: { first: number; second: number }) {
    return outputs.first + outputs.second;
  }
}

@Workflow('named-by-string')
class Named {
  @Stage({ name: 'only' })
  only() {
    return 'ok';
  }
}

test('@Workflow() and @Workflow({ timeout }) are named after their class; @Workflow(name) by the string', async () => {
  const engine = WorkflowEngine.inMemory();
  try {
    assert.equal(engine.register(UserWorkflow), 'UserWorkflow');
    assert.equal(engine.register(new TimedWorkflow()), 'TimedWorkflow');
    assert.equal(engine.register(Named), 'named-by-string');
    assert.deepEqual(engine.workflows, ['TimedWorkflow', 'UserWorkflow', 'named-by-string']);
    assert.deepEqual(await engine.run('UserWorkflow', { email: 'a@b.c' }), { validate: { valid: true } });
    // Stage names: the method's (`@Stage()`), the string (`@Stage('second')`).
    assert.deepEqual(await engine.run(TimedWorkflow, null, { runId: 't1' }), { first: 1, second: 1, both: 2 });
  } finally {
    engine.close();
  }
});

test('start, run and list take the @Workflow class as well as its name', async () => {
  const engine = WorkflowEngine.inMemory();
  try {
    engine.register(Named);
    assert.deepEqual(await engine.run(Named), { only: 'ok' });
    const run = await engine.start(Named, null, { runId: 'n2' });
    assert.deepEqual(await run.wait(), { only: 'ok' });
    assert.deepEqual((await engine.list({ workflow: Named })).map((r) => r.workflow), ['named-by-string', 'named-by-string']);
    // A class that is not registered is not found (the engine names what is registered).
    await assert.rejects(engine.run(UserWorkflow), (e: any) => e.code === 'WF005' && /named-by-string/.test(e.message));
    await assert.rejects(engine.run(class Plain {} as any), code('E001'));
  } finally {
    engine.close();
  }
});

test('a name that is given must not be empty; an anonymous class needs one', () => {
  assert.throws(() => Workflow({ name: '' }), code('WF004'));
  assert.throws(() => Workflow(''), code('WF004'));
  assert.throws(() => Stage(''), code('WF004'));
  assert.throws(() => Workflow()((() => class {})()), (e: any) => e.code === 'WF004' && /anonymous class/.test(e.message));
  assert.throws(() => Workflow(42 as any), code('E001'));
  // defineWorkflow has no class to take a name from.
  assert.throws(() => defineWorkflow({} as any), code('WF004'));
});

test('option values are checked by the engine where they are written, in TypeScript\'s words', () => {
  assert.throws(() => Stage({ name: 'pay', retryDelay: -1 }), (e: any) => e.code === 'WF004' && /@Stage\('pay'\): retryDelay must be a number of milliseconds above 0, got -1/.test(e.message));
  assert.throws(() => Stage({ retries: 1.5 }), (e: any) => e.code === 'WF004' && /retries must be a whole number of at least 0, got 1.5/.test(e.message));
  assert.throws(() => Stage({ timeout: 'soon' as any }), (e: any) => e.code === 'E001' && /timeout must be a number of milliseconds above 0, got 'soon'/.test(e.message));
  assert.throws(
    () => defineWorkflow({ name: 'x', recovery: 'sometimes' as any }),
    (e: any) => e.code === 'WF004' && /recovery must be one of 'resume', 'compensate', got 'sometimes'/.test(e.message),
  );
  assert.throws(() => Compensate('a', { retries: -1 }), (e: any) => e.code === 'WF004' && /@Compensate\('a'\): retries must be a whole number of at least 0, got -1/.test(e.message));
});

test('an unknown option is refused with E001 naming the nearest valid one, everywhere', async () => {
  // The spec's keys pass.
  Workflow({ name: 'w', timeout: 300000, retries: 3 });
  Stage({ name: 's', dependsOn: 'w', timeout: 30000, retries: 3 });
  Compensate('s', { retries: 1, retryDelay: 10 });

  assert.throws(() => Workflow({ nmae: 'x' } as any), unknown('nmae', 'name', '@Workflow()'));
  assert.throws(() => Workflow({ timeOut: 10 } as any), unknown('timeOut', 'timeout', '@Workflow()'));
  assert.throws(() => Stage({ depends: 'a' } as any), unknown('depends', 'dependsOn', '@Stage()'));
  assert.throws(() => Stage({ retrys: 2 } as any), unknown('retrys', 'retries', '@Stage()'));
  assert.throws(() => Compensate('a', { retires: 1 } as any), unknown('retires', 'retries', "@Compensate('a')"));
  assert.throws(() => defineWorkflow({ name: 'x', recover: 'resume' } as any), unknown('recover', 'recovery', 'defineWorkflow()'));
  assert.throws(() => defineWorkflow('x').stage('a', () => 1, { name: 'b' } as any), unknown('name', null, "defineWorkflow('x').stage('a')"));
  assert.throws(() => defineWorkflow('x').stage('a', () => 1, { dependOn: 'b' } as any), unknown('dependOn', 'dependsOn', "defineWorkflow('x').stage('a')"));
  assert.throws(() => defineWorkflow('x').compensate('a', () => 1, { delay: 1 } as any), unknown('delay', null, "defineWorkflow('x').compensate('a')"));

  const engine = WorkflowEngine.inMemory();
  try {
    engine.register(Named);
    await assert.rejects(engine.start(Named, null, { runID: 'r' } as any), unknown('runID', 'runId', 'WorkflowEngine.start()'));
    await assert.rejects(engine.run(Named, null, { id: 'r' } as any), unknown('id', null, 'WorkflowEngine.run()'));
    await assert.rejects(engine.list({ status: 'completed' } as any), unknown('status', 'state', 'WorkflowEngine.list()'));
    // Nothing was started by the refused calls.
    assert.deepEqual(await engine.list(), []);
  } finally {
    engine.close();
  }
});
