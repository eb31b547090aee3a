// The package and reflect-metadata coexist: loaded before the package, after it, or not at all
// (0.2 and 0.1), in real child processes and in pool and supervisor workers. This process itself
// never loads reflect-metadata: it checks the package's own polyfill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Injectable, Pool, Supervisor, workerCommand } from '@omnitron-dev/native';

const T = { timeout: 60_000 };
const R = Reflect as any;

function runChild(mode: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) =>
    execFile(process.execPath, [join(__dirname, 'reflect.child.js'), mode], (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    ),
  );
}

test('without reflect-metadata the package installs the whole metadata API, which behaves like it', () => {
  for (const name of ['defineMetadata', 'hasMetadata', 'hasOwnMetadata', 'getMetadata', 'getOwnMetadata', 'getMetadataKeys', 'getOwnMetadataKeys', 'deleteMetadata', 'metadata']) {
    assert.equal(typeof R[name], 'function', name);
  }
  assert.equal(Object.keys(Reflect).includes('getOwnMetadataKeys'), false, 'installed as non-enumerable, as reflect-metadata does');
  @Injectable()
  class Dep {}
  @Injectable()
  class Parent {
    constructor(readonly dep: Dep) {}
  }
  class Child extends Parent {}
  assert.deepEqual(R.getOwnMetadata('design:paramtypes', Parent), [Dep]);
  assert.deepEqual(R.getOwnMetadataKeys(Parent), ['design:paramtypes']);
  assert.deepEqual(R.getOwnMetadataKeys(Child), []);
  assert.deepEqual(R.getMetadataKeys(Child), ['design:paramtypes']);
  assert.equal(R.hasOwnMetadata('design:paramtypes', Child), false);
  assert.equal(R.hasMetadata('design:paramtypes', Child), true);
  R.defineMetadata('k', undefined, Parent, 'prop');
  assert.equal(R.hasOwnMetadata('k', Parent, 'prop'), true, 'a key defined as undefined is still defined');
  assert.equal(R.hasMetadata('k', Parent), false, 'per property key');
  R.defineMetadata('k', 'parent', Parent);
  R.defineMetadata('k', 'child', Child);
  assert.equal(R.getMetadata('k', Child), 'child');
  assert.equal(R.deleteMetadata('k', Child), true);
  assert.equal(R.deleteMetadata('k', Child), false);
  assert.equal(R.getMetadata('k', Child), 'parent');
  assert.throws(() => R.defineMetadata('k', 1, 42), TypeError);
  assert.throws(() => R.getOwnMetadataKeys(undefined), TypeError);
});

const ORDERS: Record<string, string> = {
  none: 'does not load reflect-metadata',
  before: 'loads reflect-metadata 0.2 before the package',
  after: 'loads reflect-metadata 0.2 after the package (and after some decorated classes)',
  'before-0.1': 'loads reflect-metadata 0.1 before the package',
  'after-0.1': 'loads reflect-metadata 0.1 after the package',
};
for (const [mode, order] of Object.entries(ORDERS)) {
  test(`a child that ${order}: injection by type and the design metadata survive`, T, async () => {
    const r = await runChild(mode);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { mode: string; registry: boolean; decorate: boolean };
    assert.equal(out.mode, mode);
    // Which Reflect API ended up installed: 0.2's registry only when 0.2 was loaded.
    assert.equal(out.registry, mode === 'before' || mode === 'after');
    assert.equal(out.decorate, mode !== 'none');
  });
}

test('a pool worker whose service module loads reflect-metadata after the package serves (workerCommand)', T, async () => {
  const pool = await Pool.start({ command: workerCommand(join(__dirname, 'reflect.worker-after.js'), 'ReflectCheck'), size: 1, target: 'reflect-check@1.0.0' });
  try {
    const r = await pool.exec('check', 'ada');
    assert.deepEqual(r, { greeting: 'hello ada at 1', paramtypes: ['Clock'], registry: true, pid: pool.status().pids[0] });
  } finally {
    await pool.stop();
  }
});

test('a supervised Node worker whose service module starts with reflect-metadata runs and stays up', T, async () => {
  const sup = new Supervisor({ name: 'reflect', backoff: { initial: 10 } }).addChild('check', {
    command: workerCommand(join(__dirname, 'reflect.worker-before.js'), 'ReflectCheck'),
    restart: 'never',
  });
  await sup.start();
  try {
    const [c] = await sup.children();
    assert.equal(c.state, 'running');
    assert.equal(c.restarts, 0);
    assert.ok(c.pid! > 0);
  } finally {
    await sup.stop();
  }
});
