// A worker thread for test/rpc.test.ts: a peer of its own, whose connection this thread's event
// loop reads; once it is closed the thread must be free to exit.
import { parentPort, workerData } from 'node:worker_threads';
import { Peer } from '@omnitron-dev/native';

const { address, token, stay } = workerData as { address: string; token: string; stay?: boolean };

void (async () => {
  const peer = await Peer.connect(address, { token, name: 'thread' });
  if (stay) {
    // Left open, the thread kept busy: the test terminates it with the connection watched.
    parentPort!.postMessage('connected');
    setInterval(() => {}, 1000);
    return;
  }
  const r = await peer.call('payment@1.0.0', 'charge', [7]);
  const big = (await peer.call('payment@1.0.0', 'syncEcho', ['z'.repeat(300_000)])) as string;
  await peer.close();
  parentPort!.postMessage({ r, bigLength: big.length });
})().catch((e: unknown) => parentPort!.postMessage({ error: String(e) }));
