// BullMQ 5, the queue a Node user would otherwise pick, with its defaults (completed jobs kept,
// as Omnitron's are): `node dist/bullmq.js <case> --store redis://127.0.0.1:6379/9 [--n N] [--concurrency C]`.
// The lease case sets a 3 s lock renewed every second and a stalled check every 1.5 s, as Omnitron's
// 3 s lease is renewed and reaped.

import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { addOne, args, done, jobs, leaseCost, pickup, processAll, rate, reportPickup } from './common';

async function main(): Promise<void> {
  const a = args();
  const url = new URL(a.store);
  const connection: ConnectionOptions = {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: Number(url.pathname.slice(1) || 0),
    maxRetriesPerRequest: null,
  };
  const queue = new Queue('bench', { connection });
  await queue.waitUntilReady();
  const worker = (processor: (job: { data: { t0?: string } }) => Promise<unknown>, opts: object = {}) =>
    new Worker('bench', processor, { connection, ...opts });
  switch (a.case) {
    case 'add-bulk': {
      const all = jobs(a.n);
      const t0 = process.hrtime.bigint();
      await queue.addBulk(all);
      return done(rate(a.n, t0));
    }
    case 'add-one':
      return done(await addOne(a.n, (i) => queue.add('noop', { i })));
    case 'process':
      await queue.addBulk(jobs(a.n));
      return done(
        await processAll(
          a.n,
          (onRan) => worker(async () => void onRan(), { concurrency: a.concurrency }),
          async () => (await queue.getJobCounts('completed')).completed,
        ),
      );
    case 'pickup':
      return done(await pickup(a.n, (t0) => queue.add('stamp', { t0 })));
    case 'pickup-worker': {
      const w = worker(async (job) => reportPickup(job.data.t0!));
      await w.waitUntilReady();
      process.send!('ready');
      return;
    }
    case 'lease':
      return done(
        await leaseCost(
          a.concurrency,
          a.seconds,
          (onHeld) =>
            worker(() => { onHeld(); return new Promise(() => {}); }, {
              concurrency: a.concurrency,
              lockDuration: 3000,
              lockRenewTime: 1000,
              stalledInterval: 1500,
            }),
          () => queue.addBulk(jobs(a.concurrency)),
        ),
      );
    default:
      throw new Error(`unknown case ${a.case}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
