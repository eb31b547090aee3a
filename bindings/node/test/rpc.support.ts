// Helpers shared by the RPC tests that run child processes.
import { createInterface } from 'node:readline';

/** The lines a child prints, awaited one pattern at a time. */
export class Lines {
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(stream: NodeJS.ReadableStream) {
    const rl = createInterface({ input: stream });
    rl.on('line', (l) => {
      this.#lines.push(l);
      this.#waiters.splice(0).forEach((w) => w());
    });
    rl.on('close', () => {
      this.#closed = true;
      this.#waiters.splice(0).forEach((w) => w());
    });
  }

  /** The first line not yet taken that `match` accepts (waits up to 10 s). */
  async take(match: (line: string) => boolean): Promise<string> {
    const until = Date.now() + 10_000;
    for (;;) {
      const i = this.#lines.findIndex(match);
      if (i >= 0) return this.#lines.splice(i, 1)[0];
      if (this.#closed) throw new Error(`the child ended without the line (had: ${this.#lines.join(' | ')})`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no such line within 10 s (had: ${this.#lines.join(' | ')})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
