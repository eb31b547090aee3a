// The spec's section 1.3 examples (rpc.spec.services.ts, as written) across two real processes:
// this one hosts PaymentService on a hub; the child builds OrderService, whose
// @InjectProcess(PaymentService) proxy calls it here, and exposes NotificationService, whose
// @OnEvent('order.created') method receives what this process publishes and whose
// @EmitEvent('notification.sent') method's result reaches this process's subscriber.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Peer } from '@omnitron-dev/native';
import { PaymentService, charged } from './rpc.spec.services.js';
import { Lines } from './rpc.support.js';

const TOKEN = 'spec-secret';

test('spec 1.3: PaymentService, OrderService with @InjectProcess, NotificationService with @OnEvent and @EmitEvent, in two processes', async () => {
  const addr = `unix:${mkdtempSync(join(tmpdir(), 'omni-spec-'))}/private/rpc.sock`;
  const hub = await Peer.listen(addr, { name: 'payments', token: TOKEN });
  await hub.expose(new PaymentService());
  const sent: unknown[] = [];
  await hub.subscribe('notification.sent', (payload, topic) => sent.push([topic, payload]));
  const child = spawn(process.execPath, [join(__dirname, 'rpc.spec.child.js'), addr, TOKEN], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = new Lines(child.stdout!);
  try {
    await out.take((l) => l === 'ready');
    // NotificationService is subscribed once exposed: an order published at once reaches it.
    hub.publish('order.created', { total: 30, customerEmail: 'ann@example.com' });
    assert.equal(await out.take((l) => l.startsWith('email')), 'email ann@example.com');

    // OrderService.createOrder calls PaymentService.processPayment here, through its proxy.
    child.stdin!.write('order 42 bob@example.com\n');
    assert.equal(await out.take((l) => l === 'ordered' || l.startsWith('error')), 'ordered');
    assert.deepEqual(charged, [42]);

    // sendNotification's result is published as 'notification.sent' to every process.
    child.stdin!.write('notify\n');
    assert.equal(await out.take((l) => l === 'notified' || l.startsWith('error')), 'notified');
    for (let i = 0; i < 500 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sent.length, 1);
    const [topic, payload] = sent[0] as [string, { sentAt: string }];
    assert.equal(topic, 'notification.sent');
    assert.ok(!Number.isNaN(Date.parse(payload.sentAt)), `sentAt is a date: ${payload.sentAt}`);

    // The child's services are listed by the hub: notifications got the default version.
    const listed = hub.services().map((s) => `${s.name}@${s.version}:${s.methods.length}`).sort();
    assert.deepEqual(listed, ['notifications@1.0.0:0', 'payment@1.0.0:1']);
  } finally {
    child.stdin!.end();
    child.kill();
    await hub.close();
  }
});
