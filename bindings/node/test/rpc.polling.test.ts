// Busy polling before the event loop sleeps (src/busy_poll.rs, lib/rpc/polling.ts): the setting
// and its bad input, calls at every setting, and a loop that still runs its timers and its other
// I/O on time with the largest budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnitronError, Peer, Public, Service, busyPoll } from '@omnitron-dev/native';

const TOKEN = 'poll-secret';
const address = () => `unix:${mkdtempSync(join(tmpdir(), 'omni-poll-'))}/private/rpc.sock`;

@Service('echo@1.0.0')
class Echo {
  @Public()
  echo(x: number): number {
    return x;
  }
}

async function pair(): Promise<{ server: Peer; client: Peer }> {
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  await server.expose(new Echo());
  const client = await Peer.connect(addr, { token: TOKEN });
  return { server, client };
}

test('the busy polling setting and its bad input', () => {
  const first = busyPoll();
  assert.equal(first, 100, 'OMNITRON_BUSY_POLL_US is not set here: the default');
  try {
    assert.equal(busyPoll(250), 250);
    assert.equal(busyPoll(), 250);
    assert.equal(busyPoll(0), 0);
    for (const bad of [-1, 1.5, 1_000_001, NaN, Infinity, '10', null, {}]) {
      assert.throws(
        () => busyPoll(bad as any),
        (e: unknown) => e instanceof OmnitronError && e.code === 'E001' && /microseconds/.test(e.message),
      );
    }
    assert.equal(busyPoll(), 0, 'a refused value changes nothing');
  } finally {
    busyPoll(first);
  }
});

test('calls go through at every setting', async () => {
  const before = busyPoll();
  const { server, client } = await pair();
  try {
    for (const us of [0, 100, 1_000_000]) {
      busyPoll(us);
      const got = [];
      for (let i = 0; i < 50; i++) got.push(await client.call('echo@1.0.0', 'echo', [i]));
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
      // And many at once.
      const many = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call('echo@1.0.0', 'echo', [i])));
      assert.equal(many.length, 200);
    }
  } finally {
    busyPoll(before);
    await client.close();
    await server.close();
  }
});

test('the largest budget holds neither timers nor other sockets', async () => {
  const before = busyPoll();
  const { server, client } = await pair();
  const tcp = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  try {
    busyPoll(1_000_000);
    // Short waits grow the budget toward the maximum (one second).
    for (let i = 0; i < 200; i++) await client.call('echo@1.0.0', 'echo', [i]);
    // A timer due in 20 ms is not kept waiting behind a poll of up to a second: the poll is capped
    // by the loop's own timeout. (A bound 40 times the timer, not a speed figure.)
    let t0 = performance.now();
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(performance.now() - t0 < 800, `timer late by ${performance.now() - t0} ms`);
    // Nor is a socket that is not Omnitron's: the poll watches the loop's whole descriptor.
    const sock = connect((tcp.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    t0 = performance.now();
    const echoed = new Promise<Buffer>((r) => sock.once('data', r));
    setTimeout(() => sock.write('ping'), 10);
    assert.equal(String(await echoed), 'ping');
    assert.ok(performance.now() - t0 < 800, `socket late by ${performance.now() - t0} ms`);
    sock.destroy();
  } finally {
    busyPoll(before);
    tcp.close();
    await client.close();
    await server.close();
  }
});
