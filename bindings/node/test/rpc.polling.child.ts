// A child process for test/rpc.polling.test.ts: with the largest busy polling budget, how late a
// 20 ms timer and a plain socket's data are. In a process of its own so that nothing else (the test
// runner's reports) wakes its loop; prints one JSON line.
import { mkdtempSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Peer, Public, Service, busyPoll, _native } from '@omnitron-dev/native';

@Service('echo@1.0.0')
class Echo {
  @Public()
  echo(x: number): number {
    return x;
  }
}

void (async () => {
  const addr = `unix:${mkdtempSync(join(tmpdir(), 'omni-poll-'))}/private/rpc.sock`;
  const server = await Peer.listen(addr, { token: 't' });
  await server.expose(new Echo());
  const client = await Peer.connect(addr, { token: 't' });
  const tcp = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const sock = connect((tcp.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  busyPoll(1_000_000);
  // Waits shorter than the maximum grow the budget toward it (one second): 1 ms timers, calls.
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1));
    await client.call('echo@1.0.0', 'echo', [i]);
  }
  const grown = _native.busyPollBudget();
  let t0 = performance.now();
  await new Promise((r) => setTimeout(r, 20));
  const timer = performance.now() - t0;
  t0 = performance.now();
  const echoed = new Promise<Buffer>((r) => sock.once('data', r));
  setTimeout(() => sock.write('ping'), 10);
  const data = String(await echoed);
  const socket = performance.now() - t0;
  // Waits longer than the maximum shrink the budget to nothing.
  busyPoll(100);
  for (let i = 0; i < 8; i++) await new Promise((r) => setTimeout(r, 5));
  const idle = _native.busyPollBudget();
  sock.destroy();
  tcp.close();
  await client.close();
  await server.close();
  process.stdout.write(JSON.stringify({ timer, socket, data, grown, idle }) + '\n');
})();
