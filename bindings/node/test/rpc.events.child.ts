// A child process for test/rpc.events.test.ts: a hub in a process of its own that listens at
// argv[2] and publishes each topic it reads on stdin (payload: its line number), saying `ready`
// first. It is told through a pipe, never through the subscriber's connection, so only the
// subscription itself can be in place before the event.
import { createInterface } from 'node:readline';
import { Peer } from '@omnitron-dev/native';

void (async () => {
  const hub = await Peer.listen(process.argv[2], { name: 'hub', token: process.argv[3] });
  process.stdout.write('ready\n');
  let n = 0;
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (topic) => hub.publish(topic.trim(), ++n));
  lines.on('close', () => void hub.close());
})();
