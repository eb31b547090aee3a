// The server side of rpc.bench.ts, in its own process: an Omnitron echo service, a child_process IPC
// echo, or (with --python) nothing here: see rpc.bench.ts.
import * as omni from '@omnitron-dev/native';

const [mode, address, token] = process.argv.slice(2);

if (mode === 'ipc') {
  process.on('message', (m) => process.send!(m));
} else {
  @omni.Service('echo@1.0.0')
  class Echo {
    @omni.Public()
    echo(x: unknown): unknown {
      return x;
    }
  }
  const peer = await omni.Peer.listen(address, { name: 'bench-server', token });
  await peer.expose(new Echo());
  let n = 0;
  peer.subscribe('bench.#', () => {
    n++;
  });
  peer.subscribe('bench-done', () => {
    peer.publish('bench-count', n);
    n = 0;
  });
  console.log('ready');
}
