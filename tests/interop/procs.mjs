// Child processes for the cross-language tests: started with their stdout kept as lines (and
// stderr kept as lines too, and passed on, prefixed), and a wait for a condition.
import { spawn } from 'node:child_process';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `f()` holds, polling; throws naming `what` after `ms`. */
export async function until(what, f, ms = 10_000) {
  for (let i = 0; i < ms / 10; i++) {
    if (f()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Starts `cmd args` with `env` added: `child.lines` fills with its output, `child.exited` settles. */
export function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.lines = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    child.lines.push(...parts);
  });
  // Standard error is kept as lines too (the structured logs), and passed on.
  child.errLines = [];
  let errBuf = '';
  child.stderr.on('data', (d) => {
    process.stderr.write(`[${cmd.split('/').pop()}] ${d}`);
    errBuf += d;
    const parts = errBuf.split('\n');
    errBuf = parts.pop();
    child.errLines.push(...parts);
  });
  child.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  return child;
}
