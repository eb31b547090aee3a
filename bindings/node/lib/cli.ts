#!/usr/bin/env node
// `omnitron` for npm users (`npx omnitron init`, `"dev": "omnitron dev"` in package.json scripts):
// runs the command's native binary, shipped in this platform's package next to the addon
// (@omnitron-dev/native-linux-x64-gnu/omnitron), with the same arguments, signals and exit code.
// OMNITRON_BIN names another binary (a build of the repository's cli/ crate).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** napi's name for this platform: linux-x64-gnu, darwin-arm64, ... */
function platform(): string {
  const parts: string[] = [process.platform, process.arch];
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    parts.push(header?.glibcVersionRuntime ? 'gnu' : 'musl');
  }
  return parts.join('-');
}

function binary(): string {
  if (process.env.OMNITRON_BIN) return process.env.OMNITRON_BIN;
  const pkg = `@omnitron-dev/native-${platform()}`;
  try {
    const bin = join(dirname(require.resolve(`${pkg}/package.json`)), 'omnitron');
    if (existsSync(bin)) return bin;
  } catch {
    // not installed: said below
  }
  process.stderr.write(
    `omnitron: the omnitron command is not in this installation (${pkg} is missing or has no binary); ` +
      'reinstall @omnitron-dev/native, or set OMNITRON_BIN to an omnitron binary\n',
  );
  process.exit(1);
}

const bin = binary();
const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  // The child stops gracefully on these; this process waits for it and exits as it does.
  process.on(signal, () => child.kill(signal));
}
child.on('error', (e) => {
  process.stderr.write(`omnitron: cannot run ${bin}: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  process.exit(code ?? 1);
});
