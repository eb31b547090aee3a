// Omnitron's queues from Node (@omnitron-dev/native's Queue and Worker), as a user writes them:
// `node dist/omnitron.js <case> --store <redis://...?prefix=...|sqlite:<file>> [--n N] [--concurrency C]`.
// Defaults as shipped: 3 attempts, completed jobs kept an hour, a 30 s lease.

import { Queue, Worker } from '@omnitron-dev/native';
import { addOne, args, done, jobs, leaseCost, pickup, processAll, rate, reportPickup } from './common';

async function main(): Promise<void> {
  const a = args();
  const queue = await Queue.open<{ i?: number; t0?: string }>('bench', { store: a.store });
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
          (onRan) => new Worker(queue, async () => void onRan(), { concurrency: a.concurrency }),
          async () => (await queue.getCounts()).completed,
        ),
      );
    case 'pickup':
      return done(await pickup(a.n, (t0) => queue.add('stamp', { t0 })));
    case 'pickup-worker':
      new Worker(queue, async (job) => reportPickup(job.data.t0!));
      process.send!('ready');
      return;
    case 'lease':
      return done(
        await leaseCost(
          a.concurrency,
          a.seconds,
          (onHeld) => new Worker(queue, () => { onHeld(); return new Promise(() => {}); }, { concurrency: a.concurrency, lease: 3000 }),
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
