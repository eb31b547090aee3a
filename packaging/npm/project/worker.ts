// The service the pool's workers serve: each worker is a Node child started through the installed
// package's worker entry (node_modules/@omnitron-dev/native/dist/process/worker-main.js).
import { Public, Service } from '@omnitron-dev/native';

@Service('squarer@1.0.0')
export class Squarer {
  @Public()
  square(x: number): { x: number; square: number; pid: number } {
    return { x, square: x * x, pid: process.pid };
  }
}
