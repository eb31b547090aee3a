// The other process of test/rpc.spec.test.ts: connects to the hub at argv[2], builds the
// application (OrderService, whose @InjectProcess(PaymentService) reaches the hub's PaymentService)
// and exposes NotificationService, then says `ready`. On stdin: `order <total> <email>` runs
// OrderService.createOrder, `notify` runs NotificationService.sendNotification; each answers a line.
import { createInterface } from 'node:readline';
import { Module, Omnitron, Peer } from '@omnitron-dev/native';
import { NotificationService, OrderService, mailbox } from './rpc.spec.services.js';

@Module({ providers: [OrderService] })
class AppModule {}

void (async () => {
  const peer = await Peer.connect(process.argv[2], { name: 'orders', token: process.argv[3] });
  const app = await Omnitron.create(AppModule, { peer });
  const notifications = new NotificationService();
  mailbox.send = (to) => process.stdout.write(`email ${to}\n`);
  await peer.expose(notifications);
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [cmd, total, email] = line.trim().split(' ');
    const done = (what: string) => () => process.stdout.write(`${what}\n`);
    const fail = (e: unknown) => process.stdout.write(`error ${(e as Error).message}\n`);
    if (cmd === 'order') void app.get(OrderService).createOrder({ total: Number(total), customerEmail: email }).then(done('ordered'), fail);
    else if (cmd === 'notify') void notifications.sendNotification({ to: email }).then(done('notified'), fail);
  });
  lines.on('close', () => void peer.close().then(() => app.close()));
})();
