// Workers for test/process.pool.test.ts, started by pools through the Node worker entry point.
import { writeFileSync } from 'node:fs';
import { OmnitronError, Public, Service, callContext, currentTrace } from '@omnitron-dev/native';

// Each call being served has its own context object, shared by the items of a chunk (`$batch`):
// numbering them tells which items came in the same message.
const calls = new WeakMap<object, number>();
let nextCall = 1;
function callNumber(): number {
  const ctx = callContext() as object;
  let n = calls.get(ctx);
  if (n === undefined) calls.set(ctx, (n = nextCall++));
  return n;
}

@Service('chunks@1.0.0')
export class Chunks {
  /** `[x, pid, the call it came in, that call's method]`. */
  @Public()
  where(x: number): [number, number, number, string] {
    return [x, process.pid, callNumber(), callContext()!.method];
  }

  /** `where`, answered after a timer for every third item. */
  @Public()
  async whereLater(x: number): Promise<[number, number, number, string]> {
    const at: [number, number, number, string] = [x, process.pid, callNumber(), callContext()!.method];
    if (x % 3 === 0) await new Promise((r) => setTimeout(r, 1));
    return at;
  }

  /** The trace this item's call runs in (`traceparent`), or null. */
  @Public()
  trace(_x: number): string | null {
    return currentTrace()?.traceparent ?? null;
  }

  @Public()
  maybeFail(x: number): number {
    if (x % 7 === 3) throw new RangeError(`item ${x} is bad`);
    if (x % 7 === 5) throw new OmnitronError('E001', `item ${x} is refused`);
    return 2 * x;
  }

  @Public()
  async maybeFailLater(x: number): Promise<number> {
    await null;
    return this.maybeFail(x);
  }

  /** `[x, marker]`: exits this worker, as a crash would, the first time item 50 reaches any worker. */
  @Public()
  dieOnce([x, marker]: [number, string]): number {
    if (x === 50) {
      try {
        writeFileSync(marker, 'died', { flag: 'wx' });
      } catch {
        return x;
      }
      process.exit(9);
    }
    return x;
  }
}
