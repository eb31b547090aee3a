// Pools and supervisors with real processes: Node workers (through the worker entry point) and a
// Python worker, killed, stopped and restarted for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Child,
  Injectable,
  Module,
  Omnitron,
  OmnitronError,
  OnChildCrash,
  OnChildRestart,
  Pool,
  ProcessPool,
  Supervisor,
  serveAsChild,
  type ChildCrash,
  type ChildInfo,
  type ServiceProxy,
} from '@omnitron-dev/native';
import { Calc } from './process.worker.js';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function eventually(what: string, f: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await f()) return;
    await sleep(25);
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}
const T = { timeout: 60_000 };

test('a pool of two Node workers runs tasks on both, typed, in order, and stops them all', T, async () => {
  const pool = await Pool.start<Calc>({ service: Calc, size: 2 });
  try {
    const { workers, pids } = pool.status();
    assert.equal(workers, 2);
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(await pool.exec('pid'));
    assert.deepEqual([...seen].sort(), [...pids].sort(), 'round-robin reaches both workers');
    // The typed proxy: every method returns a Promise of its result.
    const calc: ServiceProxy<Calc> = pool.proxy;
    const sum: number = await calc.add(20, 22);
    assert.equal(sum, 42);
    assert.equal(await pool.exec('add', 1, 2), 3);
    // map keeps the items' order, by method name and with a function.
    const items = Array.from({ length: 100 }, (_, i) => `item-${i}`);
    assert.deepEqual(await pool.map(items, 'echo'), items);
    assert.deepEqual(await pool.map([1, 2, 3], (x) => pool.exec('add', x, 10)), [11, 12, 13]);
    // An application error comes back as a RemoteError and the pool goes on.
    await assert.rejects(pool.exec('fail', 'bad input'), (e: unknown) => code('RPC008')(e) && /bad input/.test((e as Error).message));
    await assert.rejects((pool as Pool).map([1, 2], 'nope'), code('RPC002'));
    assert.equal(await pool.exec('add', 2, 2), 4);
    await pool.stop();
    for (const pid of pids) await eventually(`worker ${pid} gone`, () => !alive(pid));
    await assert.rejects(pool.exec('pid'), code('P005'));
  } finally {
    await pool.stop();
  }
});

test('a full queue refuses at once with QueueFullError and a slow task times out', T, async () => {
  const pool = await Pool.start<Calc>({ service: Calc, size: 1, concurrency: 1, queueLimit: 1, taskTimeout: 1500 });
  try {
    const busy = pool.exec('sleep', 800);
    await eventually('one in flight', () => pool.status().inFlight === 1);
    const queued = pool.exec('add', 1, 1);
    await eventually('one queued', () => pool.status().queued === 1);
    await assert.rejects(pool.exec('add', 2, 2), (e: unknown) => code('P003')(e) && (e as Error).name === 'QueueFullError');
    assert.equal(typeof (await busy), 'number');
    assert.equal(await queued, 2);
    await assert.rejects(pool.exec('sleep', 5000), (e: unknown) => code('E006')(e) && (e as Error).name === 'TimeoutError');
  } finally {
    await pool.stop();
  }
});

test('a worker killed with SIGKILL under load: every task completes or fails with P004, none hangs', T, async () => {
  for (const taskRetries of [1, 0]) {
    const pool = await Pool.start<Calc>({ service: Calc, size: 2, taskRetries });
    try {
      const victim = pool.status().pids[0];
      const tasks = Array.from({ length: 200 }, (_, i) => pool.exec('sleep', 20 + (i % 5) * 10));
      await eventually('tasks in flight', () => pool.status().inFlight > 10);
      process.kill(victim, 'SIGKILL');
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 30_000)));
      const settled = await Promise.race([Promise.allSettled(tasks), hung]);
      clearTimeout(timer);
      assert.notEqual(settled, 'hung', 'every task settled');
      const results = settled as PromiseSettledResult<number>[];
      const lost = results.filter((r) => r.status === 'rejected');
      for (const r of lost) assert.ok(code('P004')((r as PromiseRejectedResult).reason), `only WorkerLostError: ${(r as PromiseRejectedResult).reason}`);
      if (taskRetries === 0) assert.ok(lost.length > 0, 'without retries the killed worker loses its tasks');
      else assert.equal(lost.length, 0, 'with a retry every task ran on the other worker');
      // The dead worker is replaced.
      await eventually('two workers again', () => pool.status().workers === 2 && !pool.status().pids.includes(victim));
      assert.equal(await pool.exec('add', 1, 1), 2);
    } finally {
      await pool.stop();
    }
  }
});

test('a Python worker in a Node pool', T, async (t) => {
  const python = process.env.OMNITRON_PYTHON;
  if (!python) {
    t.skip('OMNITRON_PYTHON is not set (make node-test sets it to the venv python)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'omni-pyworker-'));
  writeFileSync(
    join(dir, 'doubler.py'),
    [
      'import os',
      'from omnitron import public, service',
      '',
      '@service("doubler@1.0.0")',
      'class Doubler:',
      '    @public',
      '    async def double(self, x: int) -> int:',
      '        return 2 * x',
      '',
      '    @public',
      '    def pid(self) -> int:',
      '        return os.getpid()',
      '',
    ].join('\n'),
  );
  const pool = await Pool.start<{ double(x: number): number; pid(): number }>({
    command: [python, '-m', 'omnitron.worker', 'doubler:Doubler'],
    cwd: dir,
    size: 2,
    strategy: 'least-loaded',
  });
  try {
    assert.equal(await pool.proxy.double(21), 42);
    assert.deepEqual(await pool.map([1, 2, 3], 'double'), [2, 4, 6]);
    const pids = pool.status().pids;
    assert.ok(pids.includes(await pool.exec('pid')));
    await pool.stop();
    for (const pid of pids) await eventually(`python worker ${pid} gone`, () => !alive(pid));
  } finally {
    await pool.stop();
  }
});

test('wrong options are clear errors, not crashes', T, async () => {
  await assert.rejects(Supervisor.start(undefined as any), (e: unknown) => code('E001')(e) && /import each other/.test((e as Error).message));
  await assert.rejects(Supervisor.start(null as any), code('E001'));
  const bad = async (opts: unknown, re: RegExp) =>
    assert.rejects(Pool.start(opts as any), (e: unknown) => code('E001')(e) && re.test((e as Error).message));
  await bad({ service: Calc, size: 'lots' }, /pool 'calc': size must be a number or 'auto', got 'lots'/);
  await bad({ service: Calc, strategy: 'fastest' }, /unknown pool strategy 'fastest' \(round-robin, least-loaded, power-of-two\)/);
  await bad({ service: Calc, taskTimeout: -1 }, /taskTimeout must be a number of milliseconds, 0 or more, got -1/);
  await bad({ service: Calc, concurrency: 0 }, /concurrency must be a whole number of at least 1, got 0/);
  await bad({ size: 2 }, /needs a 'command'/);
  await bad({ command: 'x', service: Calc }, /either 'command' or 'service'/);
  await bad({ service: class NotAService {} }, /must be a @Service class/);
  await bad({ command: ['x'], env: { A: 1 } }, /'env' must be an object of strings/);
  await bad('size 2', /takes an options object/);
  await bad({ service: Calc, min: 3, max: 2, size: 2 }, /min 3 <= size 2 <= max 2/);
  // A program that does not exist, and one that exits before it is ready.
  await assert.rejects(Pool.start({ command: '/nonexistent/program', size: 1 }), code('P001'));
  await assert.rejects(Pool.start({ command: ['/bin/sh', '-c', 'echo oops >&2; exit 3'], size: 1 }), (e: unknown) => code('P002')(e) && /exited with code 3 before it was ready/.test((e as Error).message));
  const sup = new Supervisor({ name: 'bad' });
  assert.throws(() => sup.onCrash('restart' as any), code('E001'));
  assert.throws(() => sup.onRestart(42 as any), code('E001'));
  assert.throws(() => sup.addChild('x', { command: ['x'], restart: 'sometimes' as any }), /unknown restart policy 'sometimes' \(always, on-failure, never\)/);
  assert.throws(() => sup.addChild('x', { command: ['x'], instances: 1.5 }), /instances must be a whole number of at least 0, got 1.5/);
  assert.throws(() => new Supervisor({ strategy: 'all-for-none' as any }), code('E001'));
  assert.throws(() => Supervisor({ maxRestarts: 'many' as any }), (e: any) => e.code === 'E001' && /maxRestarts must be a whole number of at least 0, got 'many'/.test(e.message));
  assert.throws(() => new Supervisor(class Plain {}), /not a @Supervisor class/);
  await assert.rejects(sup.restartChild('x'), code('P005'));
  await assert.rejects(serveAsChild(), code('P009'));
});

test('the worker entry point without a parent says how it is meant to be started', T, async () => {
  const main = require.resolve('@omnitron-dev/native/package.json').replace(/package\.json$/, 'dist/process/worker-main.js');
  const env = { ...process.env };
  delete env.OMNITRON_PARENT;
  delete env.OMNITRON_CHILD_ID;
  const r = await new Promise<{ code: number | null; stderr: string }>((res) => {
    const c = execFile(process.execPath, [main, join(__dirname, 'process.worker.js'), 'Calc'], { env }, (err, _o, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    );
    c.stdin?.end();
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /NoParentError \[P009\]: this worker has no parent/);
  const r2 = await new Promise<{ code: number | null; stderr: string }>((res) =>
    execFile(process.execPath, [main, join(__dirname, 'process.worker.js'), 'Nope'], { env }, (err, _o, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    ),
  );
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /exports no 'Nope' \(it exports: Calc\)/);
});

test('@ProcessPool: the property holds a started pool after Omnitron.create, stopped by app.close()', T, async () => {
  @Injectable()
  class DataProcessing {
    @ProcessPool({ service: Calc, size: 2, strategy: 'power-of-two' })
    pool!: Pool<Calc>;
    initialized = false;

    async onInit(): Promise<void> {
      // The pool is already running when the class's own onInit runs.
      this.initialized = (await this.pool.exec('add', 1, 1)) === 2;
    }

    processBatch(items: number[]): Promise<number[]> {
      return this.pool.map(items, (x) => this.pool.exec('add', x, x));
    }
  }
  @Module({ providers: [DataProcessing] })
  class AppModule {}
  const app = await Omnitron.create(AppModule);
  const svc = app.get(DataProcessing);
  assert.ok(svc.pool instanceof Pool);
  assert.ok(svc.initialized);
  assert.deepEqual(await svc.processBatch([1, 2, 3]), [2, 4, 6]);
  const pids = svc.pool.status().pids;
  assert.equal(pids.length, 2);
  await app.close();
  for (const pid of pids) await eventually(`pool worker ${pid} gone`, () => !alive(pid));
});

test('a supervisor restarts a killed child (one-for-one) and tells @OnChildRestart attempt 1', T, async () => {
  const restarts: [ChildInfo, number][] = [];
  const crashes: [ChildInfo, ChildCrash][] = [];
  @Supervisor({ strategy: 'one-for-one', maxRestarts: 3, window: 60_000, backoff: { initial: 10 } })
  class ApiSupervisor {
    @Child({ instances: 2 })
    calc = Calc;

    @Child()
    other = Calc;

    @OnChildCrash()
    async handleCrash(child: ChildInfo, error: ChildCrash) {
      crashes.push([child, error]);
      // Nothing returned: the restart policy decides.
    }

    @OnChildRestart()
    async handleRestart(child: ChildInfo, attempt: number) {
      restarts.push([child, attempt]);
    }
  }
  const sup = await Supervisor.start(ApiSupervisor);
  try {
    assert.equal(sup.state, 'running');
    const before = await sup.children();
    assert.deepEqual(
      before.map((c) => [c.name, c.index, c.state]),
      [
        ['calc', 0, 'running'],
        ['calc', 1, 'running'],
        ['other', 0, 'running'],
      ],
    );
    const victim = before[1];
    process.kill(victim.pid!, 'SIGKILL');
    await eventually('restarted', async () => {
      const c = (await sup.children())[1];
      return c.state === 'running' && c.pid !== victim.pid && c.restarts === 1;
    });
    const after = await sup.children();
    assert.equal(after[0].pid, before[0].pid, 'one-for-one leaves the others alone');
    assert.equal(after[2].pid, before[2].pid);
    assert.equal(crashes.length, 1);
    assert.equal(crashes[0][0].name, 'calc');
    assert.ok(crashes[0][1].failure);
    assert.match(crashes[0][1].message, /SIGKILL|signal 9/);
    assert.equal(restarts.length, 1);
    assert.equal(restarts[0][1], 1);
    assert.equal(restarts[0][0].index, 1);
    // The status page: each child, its services, and its own report (asked of the Node worker).
    const page = sup.serveStatusPage();
    try {
      assert.match(page.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const status = (await (await fetch(`${page.url}api/status`)).json()) as { processes: Record<string, any>[] };
      assert.deepEqual(status.processes.map((p) => [p.name, p.index, p.state]), [['calc', 0, 'running'], ['calc', 1, 'running'], ['other', 0, 'running']]);
      for (const p of status.processes) {
        assert.equal(p.report.pid, p.pid, 'each report comes from its own process');
        assert.ok(p.services.length > 0 && p.rss_bytes > 0, JSON.stringify(p.services));
      }
      const html = await (await fetch(page.url)).text();
      assert.match(html, /<script src="\/status\.js"><\/script>/);
      assert.throws(() => sup.serveStatusPage({ port: 80 } as any), /unknown option 'port'/);
      assert.throws(() => sup.serveStatusPage({ listen: 'nowhere' }), code('E001'));
      assert.throws(() => sup.serveStatusPage('x' as any), code('E001'));
    } finally {
      page.close();
      page.close();
    }
    // A manual restart counts against the budget.
    await sup.restartChild('other');
    assert.notEqual((await sup.children())[2].pid, before[2].pid);
    await assert.rejects(sup.restartChild('nobody'), code('P008'));
    const pids = (await sup.children()).map((c) => c.pid!);
    await sup.stop();
    assert.equal(sup.state, 'stopped');
    for (const pid of pids) assert.ok(!alive(pid), `child ${pid} stopped`);
    await sup.wait();
  } finally {
    await sup.stop();
  }
});

test("@OnChildCrash returning 'ignore' leaves the child down", T, async () => {
  @Supervisor({ backoff: { initial: 10 } })
  class Sup {
    crashed = 0;
    @Child({ command: [process.execPath, require.resolve('@omnitron-dev/native/package.json').replace(/package\.json$/, 'dist/process/worker-main.js'), join(__dirname, 'process.worker.js'), 'Calc'] })
    calc = undefined;

    @OnChildCrash()
    onCrash(): 'ignore' {
      this.crashed++;
      return 'ignore';
    }
  }
  const instance = new Sup();
  const sup = await Supervisor.start(instance);
  try {
    assert.equal(sup.instance, instance);
    const [c] = await sup.children();
    process.kill(c.pid!, 'SIGKILL');
    await eventually('hook called', () => instance.crashed === 1);
    await eventually('left down', async () => (await sup.children())[0].state === 'stopped');
    await sleep(300);
    const [after] = await sup.children();
    assert.equal(after.state, 'stopped');
    assert.equal(after.pid, null);
    assert.equal(after.restarts, 0);
    assert.equal(sup.state, 'running');
  } finally {
    await sup.stop();
  }
});

test('a SIGSTOPped child with a health check is killed and restarted', T, async () => {
  const sup = new Supervisor({ name: 'health', backoff: { initial: 10 } }).addChild('calc', {
    service: Calc,
    healthCheck: { interval: 150, timeout: 150, maxMissed: 2 },
  });
  let lost: ChildCrash | undefined;
  sup.onCrash((_c, e) => {
    lost = e;
  });
  await sup.start();
  try {
    const [c] = await sup.children();
    process.kill(c.pid!, 'SIGSTOP');
    await eventually('restarted', async () => {
      const [n] = await sup.children();
      return n.state === 'running' && n.pid !== c.pid && n.restarts === 1;
    });
    assert.match(lost!.message, /stopped answering/);
    assert.ok(!alive(c.pid!), 'the stopped process was killed');
  } finally {
    await sup.stop();
  }
});

test('supervisor options: an unknown key is refused with E001 naming the nearest valid one; the spec keys pass', T, async () => {
  const unknown = (key: string, hint: string | null, context: string) => (e: unknown) => {
    assert.ok(code('E001')(e), String(e));
    const m = (e as Error).message;
    assert.ok(m.includes(`unknown option '${key}' in ${context}`), m);
    if (hint) assert.ok(m.includes(`did you mean '${hint}'?`), m);
    return true;
  };
  // Spec 3.2's keys.
  Supervisor({ strategy: 'one-for-one', maxRestarts: 3, maxTime: 60000 });
  Child({ instances: 4 });
  // The example: silently ignored before.
  assert.throws(() => Supervisor({ shutdownTimeout: 5000 } as any), unknown('shutdownTimeout', null, '@Supervisor()'));
  assert.throws(() => Supervisor({ maxRestart: 3 } as any), unknown('maxRestart', 'maxRestarts', '@Supervisor()'));
  assert.throws(() => Supervisor({ backoff: { intial: 10 } } as any), unknown('intial', 'initial', '@Supervisor() backoff'));
  assert.throws(() => new Supervisor({ stratgy: 'one-for-all' } as any), unknown('stratgy', 'strategy', 'new Supervisor()'));
  assert.throws(() => new Supervisor({ name: 'x' }, { maxtime: 1 } as any), unknown('maxtime', 'maxTime', 'new Supervisor()'));
  assert.throws(() => Child({ instance: 2 } as any), unknown('instance', 'instances', '@Child()'));
  assert.throws(() => Child({ restartDelayMs: 2 } as any), unknown('restartDelayMs', 'restartDelay', '@Child()'));
  const sup = new Supervisor({ name: 'keys' });
  assert.throws(() => sup.addChild('x', { command: ['x'], critcal: true } as any), unknown('critcal', 'critical', "addChild('x')"));
  assert.throws(
    () => sup.addChild('x', { command: ['x'], healthCheck: { interval: 10, maxMised: 2 } } as any),
    unknown('maxMised', 'maxMissed', "child 'x' healthCheck"),
  );
  assert.deepEqual(await sup.children(), [], 'nothing was added by the refused calls');
  // A decorated class whose options were refused never became a supervisor.
  assert.throws(() => {
    @Supervisor({ strategy: 'one-for-one', timeout: 1 } as any)
    class Refused {}
    return Refused;
  }, unknown('timeout', null, '@Supervisor()'));
});

test('close() stops a supervisor, as Python and every other resource closes', T, async () => {
  const sup = await new Supervisor({ name: 'closing', backoff: { initial: 10 } }).addChild('calc', { service: Calc }).start();
  const [child] = await sup.children();
  assert.equal(child.state, 'running');
  await sup.close();
  assert.equal(sup.state, 'stopped');
  await eventually('child gone', () => !alive(child.pid!));
  await sup.close();
});
