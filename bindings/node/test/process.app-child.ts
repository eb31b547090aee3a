// A child that is an application rather than a set of @Service instances, for
// test/process.parent-link.test.ts: it connects with connectToParent(), calls a sibling through the
// parent, reports ready itself, and at SIGTERM closes; what it saw goes to REPORT, one JSON line
// before ready and one after closing.
import { appendFileSync } from 'node:fs';
import { connectToParent, Peer } from '@omnitron-dev/native';

async function main(): Promise<void> {
  const report = process.env.REPORT!;
  const parent = await connectToParent();
  const sum = await parent.peer.call<number>('calc@^1', 'add', [20, 22]);
  appendFileSync(report, JSON.stringify({ id: parent.id, connected: parent.peer.connected, isDefault: Peer.default === parent.peer, sum }) + '\n');
  await parent.ready();
  const signal = await parent.stopRequested;
  await parent.close();
  appendFileSync(report, JSON.stringify({ signal, connected: parent.peer.connected }) + '\n');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
