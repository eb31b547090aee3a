// Busy polling before the event loop sleeps (src/busy_poll.rs, lib/rpc/polling.ts): the setting
// and its bad input, calls at every setting, and a loop that still runs its timers and its other
// I/O on time with the largest budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { spawn } from 'node:child_process';
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
  assert.equal(first, Number(process.env.OMNITRON_BUSY_POLL_US ?? 100), 'the environment variable, else the default');
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
  // In a child process: this one's loop is woken by the test runner's own reports.
  const child = spawn(process.execPath, [join(__dirname, 'rpc.polling.child.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0);
  const { timer, socket, data, grown, idle } = JSON.parse(out) as { timer: number; socket: number; data: string; grown: number; idle: number };
  // The loop polled: short waits grew its budget, and long ones took it back to nothing.
  assert.ok(grown >= 1000, `budget after 1 ms waits: ${grown} us`); // past the waits it saw
  assert.equal(idle, 0, 'budget after waits longer than the maximum');
  // A timer due in 20 ms is not kept waiting behind a poll of up to a second: the poll is capped
  // by the loop's own timeout. Nor is a socket that is not Omnitron's: the poll watches the loop's
  // whole descriptor. (Bounds 40 and 80 times the waits, not speed figures.)
  assert.ok(timer < 800, `timer late: ${timer} ms`);
  assert.equal(data, 'ping');
  assert.ok(socket < 800, `socket late: ${socket} ms`);
});
