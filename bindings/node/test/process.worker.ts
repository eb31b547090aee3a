// A worker for test/process.test.ts: started by pools and supervisors through the Node worker entry
// point (dist/process/worker-main.js dist-test/process.worker.js Calc).
import { Public, Service } from '@omnitron-dev/native';

@Service('calc@1.0.0')
export class Calc {
  @Public()
  add(a: number, b: number): number {
    return a + b;
  }

  @Public()
  pid(): number {
    return process.pid;
  }

  @Public()
  echo<T>(x: T): T {
    return x;
  }

  @Public()
  async sleep(ms: number): Promise<number> {
    await new Promise((r) => setTimeout(r, ms));
    return process.pid;
  }

  @Public()
  fail(message: string): never {
    throw new RangeError(message);
  }
}
