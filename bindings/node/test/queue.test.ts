import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Cron,
  Interval,
  Injectable,
  Module,
  OmnitronError,
  Omnitron,
  OnQueueEvent,
  ProcessMessage,
  Queue,
  QueueProcessor,
  Worker,
  type Job,
  type QueueEventData,
} from '@omnitron-dev/native';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;
const dir = mkdtempSync(join(tmpdir(), 'omnitron-queue-'));
let n = 0;
const store = () => `sqlite:${join(dir, `q${n++}.db`)}`;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function next(queue: Queue<any>, event: 'completed' | 'failed' | 'stalled' | 'drained', when: (e: QueueEventData) => boolean = () => true): Promise<QueueEventData> {
  return new Promise((resolve) => queue.on(event, (e) => when(e) && resolve(e)));
}

interface Email {
  to: string;
}

test('a job added to a queue is run once by a worker; its result is kept; an id deduplicates', async () => {
  const q = await Queue.open<Email>('emails', { store: store() });
  const id = await q.add('welcome', { to: 'ada@example.com' }, { jobId: 'w-1' });
  assert.equal(id, 'w-1');
  assert.equal(await q.add('welcome', { to: 'other' }, { jobId: 'w-1' }), 'w-1');
  assert.equal((await q.getCounts()).waiting, 1);
  const seen: Job<Email>[] = [];
  const done = next(q, 'completed');
  const w = new Worker<Email>(q, async (job) => {
    seen.push(job);
    return { sent: job.data.to, attempt: job.attempt };
  });
  const e = await done;
  await w.close();
  assert.equal(e.id, 'w-1');
  assert.deepEqual(e.result, { sent: 'ada@example.com', attempt: 1 });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].name, 'welcome');
  const info = await q.getJob('w-1');
  assert.equal(info?.state, 'completed');
  assert.deepEqual(info?.result, { sent: 'ada@example.com', attempt: 1 });
  assert.equal(await q.getJob('nope'), null);
});

test('a job that keeps failing reaches the dead-letter queue with every error, and can be retried', async () => {
  const q = await Queue.open<number>('poison', { store: store(), retries: 1, backoff: 'fixed', backoffDelay: 10 });
  await q.add('bad', 7, { id: 'p' });
  let heal = false;
  const dead = next(q, 'failed', (e) => e.dead);
  const w = new Worker<number>(q, (job) => {
    if (heal) return 'ok';
    if (job.attempt === 2) throw 'a string thrown';
    throw new Error(`attempt ${job.attempt} failed`);
  });
  await dead;
  const [d] = await q.getDead();
  assert.equal(d.id, 'p');
  assert.deepEqual(d.errors.map((e) => e.message), ['attempt 1 failed', 'a string thrown']);
  assert.equal(d.errors[0].code, 'Q005');
  heal = true;
  const completed = next(q, 'completed');
  assert.equal(await q.retryDead(), 1);
  await completed;
  await w.close();
  assert.equal((await q.getJob('p'))?.state, 'completed');
});

test('an attempt past its timeout is aborted through job.signal and fails with Q006', async () => {
  const q = await Queue.open('slow', { store: store(), retries: 0 });
  await q.add('sleep', null, { id: 's', timeout: 100 });
  let aborted = false;
  const failed = next(q, 'failed');
  const w = new Worker(q, (job) => new Promise((resolve) => job.signal.addEventListener('abort', () => { aborted = true; resolve(null); })));
  await failed;
  await w.close();
  assert.ok(aborted);
  assert.equal((await q.getJob('s'))?.errors[0].code, 'Q006');
});

test('pause holds every job back until resume; delayed jobs wait for their time', async () => {
  const q = await Queue.open<number>('held', { store: store() });
  await q.pause();
  await q.add('a', 1);
  const runs: number[] = [];
  const w = new Worker<number>(q, (job) => void runs.push(job.data), { pollInterval: 20 });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(runs, []);
  assert.equal((await q.getCounts()).paused, true);
  const started = Date.now();
  await q.add('b', 2, { delay: 300 });
  await q.resume();
  await new Promise<void>((resolve) => {
    const t = setInterval(() => runs.length === 2 && (clearInterval(t), resolve()), 10);
  });
  await w.close();
  assert.deepEqual(runs, [1, 2]);
  assert.ok(Date.now() - started >= 300);
});

test('bad input is refused with the option and the rule', async () => {
  await assert.rejects(Queue.open('x', { store: store(), retrys: 1 } as never), (e: unknown) => code('E001')(e) && /retries/.test((e as Error).message));
  await assert.rejects(Queue.open('x', { store: store(), rateLimit: 'lots' }), (e: unknown) => code('Q001')(e) && /100\/minute/.test((e as Error).message));
  await assert.rejects(Queue.open('bad name', { store: store() }), code('Q001'));
  await assert.rejects(Queue.open('x', { store: 'postgres://nowhere' }), code('Q001'));
  const q = await Queue.open('ok', { store: store() });
  await assert.rejects(q.add('f', (() => 1) as never), code('Q008'));
  await assert.rejects(q.add('f', 1, { priority: -1 }), (e: unknown) => code('Q001')(e) && /priority/.test((e as Error).message));
  await assert.rejects(q.add('f', 1, { retries: 1, attempts: 2 }), /not both/);
  assert.throws(() => new Worker(q, 'nope' as never), code('E001'));
  assert.throws(() => new Worker(q, () => 1, { concurrency: 0 }), code('Q001'));
  assert.throws(() => q.on('finished' as never, () => {}), code('E001'));
  assert.equal((await q.getCounts()).waiting, 0);
});

@Injectable()
class Mailer {
  sent: string[] = [];
  send(to: string) {
    this.sent.push(to);
  }
}

const completions: QueueEventData[] = [];

@QueueProcessor('emails', { concurrency: 2, retries: 0 })
class EmailProcessor {
  constructor(private readonly mailer: Mailer) {}

  @ProcessMessage()
  async processEmail(job: Job<Email>) {
    this.mailer.send(job.data.to);
    return { to: job.data.to };
  }

  @OnQueueEvent('completed')
  async onCompleted(event: QueueEventData) {
    completions.push(event);
  }
}

@Module({ providers: [Mailer, EmailProcessor] })
class AppModule {}

test('spec 1.3: a @QueueProcessor class runs its queue with injected dependencies and hears @OnQueueEvent', async () => {
  const s = store();
  const app = await Omnitron.create(AppModule, { queues: { store: s } });
  const q = await Queue.open<Email>('emails', { store: s });
  await q.addBulk([
    { name: 'welcome', data: { to: 'a@example.com' } },
    { name: 'welcome', data: { to: 'b@example.com' } },
  ]);
  await new Promise<void>((resolve) => {
    const t = setInterval(() => completions.length === 2 && (clearInterval(t), resolve()), 10);
  });
  const mailer = app.get(Mailer);
  await app.close();
  assert.deepEqual([...mailer.sent].sort(), ['a@example.com', 'b@example.com']);
  assert.deepEqual(completions.map((e) => (e.result as Email).to).sort(), ['a@example.com', 'b@example.com']);
});

const ticks: string[] = [];

@Injectable()
class Reports {
  @Interval(1000)
  tick() {
    ticks.push('tick');
  }

  @Cron('*/1 * * * * *', { name: 'every-second', timezone: 'Europe/Paris' })
  async everySecond() {
    ticks.push('cron');
  }
}

@Module({ providers: [Reports] })
class ScheduledModule {}

test('@Interval and @Cron methods run on their schedule, as jobs of a queue per schedule', async () => {
  const s = store();
  const app = await Omnitron.create(ScheduledModule, { queues: { store: s } });
  await new Promise<void>((resolve) => {
    const t = setInterval(() => ticks.includes('tick') && ticks.includes('cron') && (clearInterval(t), resolve()), 20);
  });
  await app.close();
  for (const name of ['cron:Reports.tick', 'cron:every-second']) {
    const counts = await (await Queue.open(name, { store: s })).getCounts();
    assert.ok(counts.completed >= 1 && counts.dead === 0, `${name}: ${JSON.stringify(counts)}`);
  }
});

@Injectable()
class BadSchedule {
  @Cron('61 * * * *')
  never() {}
}

@Module({ providers: [BadSchedule] })
class BadScheduleModule {}

test('a bad cron pattern fails the application at create, naming the method and the rule', async () => {
  await assert.rejects(Omnitron.create(BadScheduleModule, { queues: { store: store() } }), (e: unknown) => code('Q011')(e) && /BadSchedule\.never/.test((e as Error).message) && /minute/.test((e as Error).message));
  assert.throws(() => Cron(5 as never), code('E001'));
  assert.throws(() => Interval(-1), code('E001'));
});

test('addBulk: names, data and options per job, duplicates by id, and bad input refused before anything is added', async () => {
  const q = await Queue.open<unknown>('bulk', { store: store() });
  const ids = await q.addBulk([
    { name: 'a', data: { n: 1 } },
    { name: 'b', data: 'two', opts: { jobId: 'second', priority: 3 } },
    { name: 'a', data: undefined },
    { name: 'c', data: [3], opts: { jobId: 'second' } },
    { name: 'b', data: 4, opts: { delay: 60_000 } },
  ]);
  assert.equal(ids.length, 5);
  assert.equal(ids[1], 'second');
  assert.equal(ids[3], 'second');
  const got = await Promise.all(ids.map((id) => q.getJob(id)));
  assert.deepEqual(got.map((j) => [j!.name, j!.data]), [['a', { n: 1 }], ['b', 'two'], ['a', null], ['b', 'two'], ['b', 4]]);
  assert.equal(got[4]!.state, 'delayed');
  assert.deepEqual(await q.getCounts().then((c) => c.waiting + c.delayed), 4);
  await assert.rejects(q.addBulk('no' as never), code('E001'));
  await assert.rejects(q.addBulk([{ name: 'ok', data: 1 }, { data: 2 } as never]), code('E001'));
  await assert.rejects(q.addBulk([{ name: 'ok', data: 1 }, { name: 'bad', data: () => 1 }]), code('Q008'));
  await assert.rejects(q.addBulk([{ name: 'ok', data: 1 }, { name: 'bad', data: 2, opts: { colour: 'red' } as never }]), /colour/);
  await assert.rejects(q.addBulk([{ name: 'ok', data: 1 }, { name: 'bad', data: 2, opts: { priority: -1 } }]), /addBulk\('bad'\)/);
  assert.deepEqual(await q.getCounts().then((c) => c.waiting + c.delayed), 4);
  assert.deepEqual(await q.addBulk([]), []);
  // The ids cross as one string split on NUL, or as an array when an id holds one.
  assert.deepEqual(await q.addBulk([{ name: 'n', data: 1, opts: { jobId: 'a\0b' } }, { name: 'n', data: 2, opts: { jobId: 'c' } }]), ['a\0b', 'c']);
  assert.deepEqual(await q.addBulk([{ name: 'n', data: 3, opts: { jobId: 'd' } }]), ['d']);
});
