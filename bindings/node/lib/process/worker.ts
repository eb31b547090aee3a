// The Node child: connect back to the parent named in the environment (under this child's id),
// expose `@Service` instances, report ready, serve until SIGTERM or SIGINT, then let the process
// exit. `serveAsChild(new Worker())`, or from the command line:
// `omnitron-node-worker ./worker.js Worker` (see worker-main.ts). A child that is an application
// (controllers, workflows) uses `connectToParent()` and reports ready itself once it serves.

import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorFor, OmnitronError, invalidArgument } from '../errors.js';
import { describe } from '../di/tokens.js';
import { Peer } from '../rpc/peer.js';
import { OptionKeys, options } from '../util.js';
import { serviceId, WORKER_MAIN } from './program.js';

export const ENV_PARENT = 'OMNITRON_PARENT';
export const ENV_TOKEN = 'OMNITRON_TOKEN';
export const ENV_CHILD_ID = 'OMNITRON_CHILD_ID';
export const HOST_SERVICE = 'omnitron.host@1.0.0';

/**
 * The Node worker entry point's file (`dist/process/worker-main.js`, also reachable as
 * `require.resolve('@omnitron-dev/native/worker')`): `node WORKER_ENTRY ./worker.js Export`.
 */
export const WORKER_ENTRY: string = WORKER_MAIN;

/** Options of `workerCommand`. */
export interface WorkerCommandOptions {
  /** Node options for the child (`['--max-old-space-size=512']`), before the entry point. */
  execArgv?: readonly string[];
}
const WORKER_COMMAND_KEYS = new OptionKeys(['execArgv']);

/**
 * The command that runs `exportName` of `modulePath` (a `@Service` class or instance) as a Node
 * child: `[node, ...execArgv, WORKER_ENTRY, absolute modulePath, exportName]`. For
 * `Pool.start({ command })`, a supervisor's child, or any spawner:
 *
 * ```ts
 * const pool = await Pool.start({ command: workerCommand(require.resolve('./worker'), 'Worker'), size: 2 });
 * ```
 *
 * Without `exportName` the module's default export, or its only `@Service` export, is served.
 */
export function workerCommand(modulePath: string, exportName?: string, opts?: WorkerCommandOptions): string[] {
  const what = 'workerCommand()';
  if (typeof modulePath !== 'string' || modulePath === '') throw invalidArgument(`${what} takes the path of the module to serve, got ${describe(modulePath)}`);
  if (exportName !== undefined && (typeof exportName !== 'string' || exportName === '')) {
    throw invalidArgument(`${what}: the export name must be a non-empty string, got ${describe(exportName)}`);
  }
  const o = options<WorkerCommandOptions>(opts, what, WORKER_COMMAND_KEYS);
  const execArgv = o.execArgv ?? [];
  if (!Array.isArray(execArgv) || execArgv.some((a) => typeof a !== 'string')) {
    throw invalidArgument(`${what}: 'execArgv' must be an array of strings, got ${describe(o.execArgv)}`);
  }
  return [process.execPath, ...execArgv, WORKER_ENTRY, resolve(modulePath), ...(exportName === undefined ? [] : [exportName])];
}

/** A serving child. */
export interface ChildHandle {
  /** Its connection to the parent (it can call the parent's and its siblings' services too). */
  readonly peer: Peer;
  /** Resolves once it stopped (SIGTERM, SIGINT or `stop()`). */
  readonly stopped: Promise<void>;
  /** Stops serving and closes the connection; the process can then exit. */
  stop(): Promise<void>;
}

/** The signals by which a parent asks its child to stop. */
export type StopSignal = 'SIGTERM' | 'SIGINT';

/**
 * A child's link to the Omnitron parent that started it (a pool, a supervisor, `omnitron start`),
 * for a child that is more than a few `@Service` instances: an application with an HTTP side, say.
 * It connects first (its peer becomes `Peer.default`, which `@InjectProcess` proxies use), builds
 * what it serves, reports ready, then stops when asked:
 *
 * ```ts
 * const parent = await connectToParent();
 * const app = await Omnitron.create(AppModule, { peer: parent.peer });
 * await app.listen(8080);
 * await parent.ready();
 * await parent.stopRequested; // SIGTERM or SIGINT
 * await app.close();
 * await parent.close();
 * ```
 */
export interface ParentLink {
  /** The connection to the parent: calls to the parent's and its other children's services. */
  readonly peer: Peer;
  /** This child's id, as the parent knows it. */
  readonly id: string;
  /** Tells the parent this child is ready: call it once everything it serves is up. */
  ready(): Promise<void>;
  /**
   * Resolves with the signal's name when SIGTERM or SIGINT arrives (the parent asks the child to
   * stop). Until `close()`, those signals no longer end the process by themselves.
   */
  readonly stopRequested: Promise<StopSignal>;
  /** Closes the connection and stops keeping the process alive; the process can then exit. */
  close(): Promise<void>;
}

/** Where the parent is, from the environment it set; P009 when this process has no parent. */
function parentEnv(): { address: string; id: string } {
  const address = process.env[ENV_PARENT];
  const id = process.env[ENV_CHILD_ID];
  if (!address || !id) {
    throw errorFor(
      'P009',
      `this worker has no parent: ${ENV_PARENT} and ${ENV_CHILD_ID} are not set (start it from a pool, a supervisor or \`omnitron start\`)`,
    );
  }
  return { address, id };
}

async function link({ address, id }: { address: string; id: string }): Promise<ParentLink> {
  const peer = await Peer.connect(address, { name: id, token: process.env[ENV_TOKEN] || undefined });
  // Alive until closed: a connected peer alone does not keep the process alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  let requested!: (signal: StopSignal) => void;
  const stopRequested = new Promise<StopSignal>((r) => (requested = r));
  const onSignal = (signal: StopSignal) => requested(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let closing: Promise<void> | undefined;
  return {
    peer,
    id,
    stopRequested,
    ready: async () => {
      await peer.call(HOST_SERVICE, 'ready', [id], { deadline: 10_000 });
    },
    close: () =>
      (closing ??= (async () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        clearInterval(keepAlive);
        await peer.close();
      })()),
  };
}

/**
 * Connects to the Omnitron parent that started this process (named by the environment it set:
 * `OMNITRON_PARENT`, `OMNITRON_CHILD_ID`, `OMNITRON_TOKEN`); P009 when there is none. See
 * `ParentLink`; `serveAsChild` does all of it for a child that only serves `@Service` instances.
 */
export async function connectToParent(): Promise<ParentLink> {
  return link(parentEnv());
}

/**
 * Serves `services` (`@Service` instances) as a child of the Omnitron parent that started this
 * process (a pool, a supervisor, `omnitron start`). Resolves once the parent knows it is ready.
 */
export async function serveAsChild(...services: object[]): Promise<ChildHandle> {
  const env = parentEnv();
  for (const s of services) {
    if (!serviceId(s?.constructor)) throw invalidArgument(`serveAsChild() takes @Service instances, got ${describe(s)}`);
  }
  const parent = await link(env);
  let done!: () => void;
  const stopped = new Promise<void>((r) => (done = r));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= parent.close().then(done));
  void parent.stopRequested.then(stop);
  try {
    for (const s of services) await parent.peer.expose(s);
    await parent.ready();
  } catch (e) {
    await stop();
    throw e;
  }
  return { peer: parent.peer, stopped, stop };
}

/**
 * The service a module exports: `exportName`, else its default export or its only `@Service`
 * export. A `@Service` class is instantiated with no arguments; an instance is used as it is.
 */
export async function loadService(file: string, exportName?: string): Promise<object> {
  const path = resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = createRequire(__filename)(path) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw e;
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  let v: unknown;
  if (exportName !== undefined) {
    v = mod?.[exportName] ?? (mod?.default as Record<string, unknown> | undefined)?.[exportName];
    if (v === undefined) throw invalidArgument(`'${file}' exports no '${exportName}' (it exports: ${Object.keys(mod ?? {}).join(', ') || 'nothing'})`);
  } else if (serviceId(mod) || serviceId(mod?.constructor)) {
    v = mod;
  } else {
    const found = Object.entries(mod ?? {}).filter(([, x]) => serviceId(x) || serviceId((x as object | null)?.constructor));
    if (found.length !== 1) {
      throw invalidArgument(`'${file}' exports ${found.length === 0 ? 'no @Service' : 'several @Service classes'}: name the one to serve (worker-main.js ${file} ExportName)`);
    }
    v = found[0][1];
  }
  if (serviceId(v)) return new (v as new () => object)();
  if (v !== null && typeof v === 'object' && serviceId(v.constructor)) return v;
  throw invalidArgument(`'${exportName ?? 'the export'}' of '${file}' is not a @Service class or instance, got ${describe(v)}`);
}
