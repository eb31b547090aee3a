// The Node side of "omnitron.yaml's queues: and cronJobs: ..." in queue.test.mjs: an application,
// started by `omnitron start`, whose processors set no options in code. `cron` runs the firings of
// the `cronJobs:` entry that a Python process schedules; `yaml-slow` answers with the most jobs it
// saw running at once, which the process's `concurrency` and the queue's entry bound.
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const { QueueProcessor, ProcessMessage, Module, Omnitron, connectToParent } = require(join(root, 'bindings/node'));

const method = (cls, name, decorator) => decorator(cls.prototype, name, Object.getOwnPropertyDescriptor(cls.prototype, name));

class Ticks {
  tick(job) {
    return { by: 'node', name: job.name };
  }
}
method(Ticks, 'tick', ProcessMessage('jobs/tick'));
QueueProcessor('cron')(Ticks);

class Slow {
  running = 0;
  most = 0;
  async run() {
    this.running++;
    this.most = Math.max(this.most, this.running);
    // Waits for four at once, which only a concurrency of 4 or more lets happen; gives up after 1.5 s.
    const until = Date.now() + 1500;
    while (this.running < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const most = this.most;
    this.running--;
    return most;
  }
}
method(Slow, 'run', ProcessMessage());
QueueProcessor('yaml-slow')(Slow);

class AppModule {}
Module({ providers: [Ticks, Slow] })(AppModule);

const link = await connectToParent();
const app = await Omnitron.create(AppModule);
await link.ready();
await link.stopRequested;
await app.close();
await link.close();
