#!/usr/bin/env node
// The Node child in one line:
//   node node_modules/@omnitron-dev/native/dist/process/worker-main.js ./worker.js WorkerService [./other.js Other ...]
//   omnitron-node-worker ./worker.js WorkerService
// From code, its path is `WORKER_ENTRY` (or `require.resolve('@omnitron-dev/native/worker')`), and
// `workerCommand('./worker.js', 'WorkerService')` builds the whole command.
// Each `module Export` pair names a `@Service` class (instantiated with no arguments) or instance.

import { OmnitronError } from '../errors.js';
import { loadService, serveAsChild } from './worker.js';

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write('usage: omnitron-node-worker ./module.js ExportName [./other.js Other ...]\n');
    return argv.length === 0 ? 2 : 0;
  }
  const services: object[] = [];
  for (let i = 0; i < argv.length; i += 2) services.push(await loadService(argv[i], argv[i + 1]));
  const child = await serveAsChild(...services);
  await child.stopped;
  return 0;
}

// Run as a program only: `require('@omnitron-dev/native/worker')` (to find the path) does nothing.
if (require.main === module) {
  void main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const msg = e instanceof OmnitronError ? `${e.name} [${e.code}]: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e);
      process.stderr.write(`omnitron-node-worker: ${msg}\n`);
      process.exitCode = e instanceof OmnitronError && e.code === 'P009' ? 2 : 1;
    },
  );
}
