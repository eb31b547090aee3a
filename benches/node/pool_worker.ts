// The Omnitron pool's worker: `echo@1.0.0`, run by the Node worker entry point
// (dist/process/worker-main.js dist/pool_worker.js Echo).
import { Public, Service } from '@omnitron-dev/native';

@Service('echo@1.0.0')
export class Echo {
  @Public()
  echo(x: unknown): unknown {
    return x;
  }
}
