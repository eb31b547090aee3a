// Subscriptions and services as the spec declares them: `subscribe()` resolves once the
// subscription is active (checked against events another process publishes at once, many times),
// `expose()` once a service's @OnEvent methods are subscribed; @OnEvent methods get the topic;
// services without a version or without methods; proxies and every remote method's name; unknown
// option keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_SERVICE_VERSION,
  InjectProcess,
  Module,
  Omnitron,
  OmnitronError,
  OnEvent,
  Peer,
  Pool,
  Public,
  Service,
  proxyInfo,
  type ServiceProxy,
} from '@omnitron-dev/native';
import { Lines } from './rpc.support.js';
import { Greeter } from './rpc.greeter.worker.js';

const TOKEN = 'events-secret';
const address = () => `unix:${mkdtempSync(join(tmpdir(), 'omni-ev-'))}/private/rpc.sock`;
const code = (c: string, text?: RegExp) => (e: unknown) => e instanceof OmnitronError && e.code === c && (!text || text.test(e.message));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (f()) return;
    await sleep(10);
  }
  throw new Error(`${what}: not within 5 s`);
}

/** A hub in another process that publishes each topic written to it (test/rpc.events.child.ts). */
async function startHub(): Promise<{ addr: string; child: ChildProcess; publish(topic: string): void }> {
  const addr = address();
  const child = spawn(process.execPath, [join(__dirname, 'rpc.events.child.js'), addr, TOKEN], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Lines(child.stdout!).take((l) => l === 'ready');
  return { addr, child, publish: (topic) => void child.stdin!.write(`${topic}\n`) };
}

test('subscribe() resolves once the subscription is active: an event another process publishes right after arrives, every time', async () => {
  const hub = await startHub();
  const peer = await Peer.connect(hub.addr, { token: TOKEN });
  try {
    const got: string[] = [];
    for (let i = 0; i < 200; i++) {
      const topic = `race.${i}`;
      const sub = peer.subscribe('race.*', (_n, t) => got.push(t));
      assert.ok(sub instanceof Promise);
      const id = await sub;
      hub.publish(topic);
      await until(() => got.includes(topic), `round ${i}: the event published right after subscribe resolved`);
      assert.equal(peer.unsubscribe(id), true);
    }
  } finally {
    await peer.close();
    hub.child.stdin!.end();
    hub.child.kill();
  }
});

@Service('alerts')
class Alerts {
  seen: [unknown, string][] = [];

  @OnEvent('alert.#')
  onAlert(payload: unknown, topic: string): void {
    this.seen.push([payload, topic]);
  }
}

test('expose() resolves once the @OnEvent methods are subscribed; they get (payload, topic); a service needs no @Public method', async () => {
  const hub = await startHub();
  const peer = await Peer.connect(hub.addr, { token: TOKEN });
  try {
    const old: Alerts[] = [];
    for (let i = 0; i < 20; i++) {
      const alerts = new Alerts();
      await peer.expose(alerts);
      hub.publish(`alert.disk.${i}`);
      await until(() => alerts.seen.length === 1, `round ${i}: the event published right after expose resolved`);
      assert.equal(alerts.seen[0][1], `alert.disk.${i}`);
      assert.equal(typeof alerts.seen[0][0], 'number');
      assert.equal(await peer.unexpose('alerts', '1.0.0'), true);
      old.push(alerts);
    }
    // Unexposed: their @OnEvent methods were unsubscribed with them.
    assert.ok(old.every((a) => a.seen.length === 1), 'an unexposed service gets no more events');
  } finally {
    await peer.close();
    hub.child.stdin!.end();
    hub.child.kill();
  }
});

test('app.close() stops hosting what Omnitron.create({ peer }) exposed, @OnEvent subscriptions included', async () => {
  @Module({ providers: [Alerts] })
  class AlertsModule {}
  const server = await Peer.listen(address(), { token: TOKEN });
  try {
    const app = await Omnitron.create(AlertsModule, { peer: server });
    assert.deepEqual(server.services().map((s) => s.name), ['alerts']);
    const alerts = app.get(Alerts);
    server.publish('alert.before', 1);
    await until(() => alerts.seen.length === 1, 'the event before close');
    await app.close();
    assert.deepEqual(server.services(), [], 'unexposed by close()');
    server.publish('alert.after', 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(alerts.seen.length, 1, 'no event reaches a closed application');
  } finally {
    await server.close();
  }
});

@Service('notifications')
class Notifications {
  @Public()
  ping(): string {
    return 'pong';
  }
}

@Service()
class Inventory {
  @Public()
  count(): number {
    return 3;
  }
}

@Service({ name: 'ledger', version: '2.1.0' })
class Ledger {
  @Public()
  balance(): number {
    return 100;
  }
}

@Service({ name: 'audit' })
class Audit {}

test('a service declared without a version gets 1.0.0: reachable by its name, its version and a matching range', async () => {
  assert.equal(DEFAULT_SERVICE_VERSION, '1.0.0');
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  const client = await Peer.connect(addr, { token: TOKEN });
  try {
    for (const s of [new Notifications(), new Inventory(), new Ledger(), new Audit()]) await server.expose(s);
    for (const t of ['notifications', 'notifications@1.0.0', 'notifications@^1', 'notifications@*']) {
      assert.equal(await client.call(t, 'ping'), 'pong', t);
    }
    await assert.rejects(client.call('notifications@^2', 'ping'), code('RPC001', /1\.0\.0/));
    assert.equal(await client.call('Inventory@^1', 'count'), 3);
    assert.equal(await client.call('ledger@~2.1', 'balance'), 100);
    await assert.rejects(client.call('audit', 'anything'), code('RPC002', /it has none/));
    assert.deepEqual(
      server.services().map((s) => `${s.name}@${s.version}`).sort(),
      ['Inventory@1.0.0', 'audit@1.0.0', 'ledger@2.1.0', 'notifications@1.0.0'],
    );

    // @InjectProcess of such a class reaches it by that version.
    class Orders {
      @InjectProcess(Notifications, () => client)
      notifications!: ServiceProxy<Notifications>;
      @InjectProcess(Inventory, () => client)
      inventory!: ServiceProxy<Inventory>;
    }
    const o = new Orders();
    assert.equal(await o.notifications.ping(), 'pong');
    assert.equal(await o.inventory.count(), 3);
  } finally {
    await client.close();
    await server.close();
  }
});

test('a pool targets a @Service() class by its default name and version', { timeout: 60_000 }, async () => {
  const pool = await Pool.start<Greeter>({ service: Greeter, size: 1 });
  try {
    assert.match(await pool.exec('greet', 'ann'), /^hello ann from \d+$/);
    assert.match(await pool.proxy.greet('bob'), /^hello bob/);
  } finally {
    await pool.stop();
  }
});

test('@Service() refuses what is not a name, a version or its options', () => {
  assert.throws(() => Service({ nmae: 'x' } as any), code('E001', /unknown option 'nmae' in @Service\(\): did you mean 'name'\?/));
  assert.throws(() => Service({ name: 'x', versoin: '1.0.0' } as any), code('E001', /did you mean 'version'/));
  assert.throws(() => Service(42 as any), code('E001'));
  assert.throws(() => Service(null as any), code('E001'));
  assert.throws(() => Service({ name: 7 } as any), code('E001'));
  assert.throws(() => Service('bad name'), code('RPC010'));
  assert.throws(() => Service('x@1'), code('RPC010'));
  assert.throws(() => Service('x@'), code('RPC010'));
  assert.throws(() => Service(''), code('RPC010'));
  assert.throws(() => Service({ name: 'x', version: 'one' }), code('RPC010'));
  assert.throws(() => Service({ version: 'one' })(class Named {}), code('RPC010'));
});

@Service('odd@1.0.0')
class Odd {
  @Public()
  name(): string {
    return 'n';
  }
  @Public()
  version(): string {
    return 'v';
  }
  @Public()
  methods(): string {
    return 'm';
  }
  @Public()
  streams(): string {
    return 's';
  }
}

@Service('dollar@1.0.0')
class Dollar {
  @Public()
  $info(): string {
    return 'i';
  }
}

test('proxies expose every remote method whatever its name; proxyInfo tells which service; then is left out so await works', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  await server.expose(new Odd());
  await server.expose(new Ledger());
  const client = await Peer.connect(addr, { token: TOKEN });
  try {
    const odd = await client.queryInterface<Odd>('odd');
    assert.deepEqual([await odd.name(), await odd.version(), await odd.methods(), await odd.streams()], ['n', 'v', 'm', 's']);
    assert.deepEqual(proxyInfo(odd), { name: 'odd', version: '1.0.0', methods: ['methods', 'name', 'streams', 'version'], streams: [] });
    assert.deepEqual(odd.$info, proxyInfo(odd));
    // Names starting with '$' are the protocol's ($registry, $batch): a method cannot take one.
    await assert.rejects(server.expose(new Dollar()), (e: unknown) => e instanceof OmnitronError && e.code === 'E001' && /reserved/.test(e.message));
    const ledger = await client.queryInterface<Ledger>('ledger@^2');
    assert.equal(ledger.$info.version, '2.1.0');
    assert.equal(proxyInfo(ledger)?.name, 'ledger');
    assert.equal(proxyInfo(client.proxy('ledger')), undefined);
    assert.equal(proxyInfo({}), undefined);
    // Neither proxy is a thenable: both can be awaited and returned from async functions.
    assert.equal(await (async () => client.proxy<Ledger>('ledger'))().then((p) => typeof (p as any).then), 'undefined');
    const again = await Promise.resolve(ledger);
    assert.equal(await again.balance(), 100);
  } finally {
    await client.close();
    await server.close();
  }
});

test('unknown option keys are refused with E001 naming the nearest key', async () => {
  await assert.rejects(Peer.listen(address(), { token: TOKEN, maxframe: 10 } as any), code('E001', /unknown option 'maxframe' in Peer\.listen\(\): did you mean 'maxFrame'\?/));
  await assert.rejects(Peer.connect(address(), { tokne: TOKEN } as any), code('E001', /in Peer\.connect\(\): did you mean 'token'/));
  await assert.rejects(Peer.listen(address(), null as any), code('E001'));
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  await server.expose(new Ledger());
  const client = await Peer.connect(addr, { token: TOKEN });
  try {
    await assert.rejects(client.call('ledger', 'balance', [], { deadlne: 5 } as any), code('E001', /in peer\.call\(\): did you mean 'deadline'/));
    await assert.rejects(client.stream('ledger', 'balance', [], { timeout: 5 } as any).next(), code('E001', /peer\.stream\(\)/));
    assert.throws(() => client.proxy('ledger', { deadLine: 5 } as any), code('E001', /peer\.proxy\(\): did you mean 'deadline'/));
    await assert.rejects(client.queryInterface('ledger', { x: 1 } as any), code('E001', /peer\.queryInterface\(\)/));
    // Known keys pass, and the call goes through.
    assert.equal(await client.call('ledger', 'balance', [], { deadline: 1000 }), 100);
    assert.equal(await client.proxy<Ledger>('ledger', { deadline: 1000 }).balance(), 100);
  } finally {
    await client.close();
    await server.close();
  }
});

test('subscribe() refuses bad input without keeping anything, and a closed peer subscribes nothing', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  const client = await Peer.connect(addr, { token: TOKEN });
  await assert.rejects(client.subscribe('a..b', () => {}), code('E001'));
  await assert.rejects(client.subscribe(42 as any, () => {}), code('E001'));
  await assert.rejects(client.subscribe('a.*', 'nope' as any), code('E001'));
  for (const topic of [undefined, null, 5]) assert.throws(() => client.publish(topic as any, 1), code('E001'));
  const got: unknown[] = [];
  await client.subscribe('ok.*', (p) => got.push(p));
  server.publish('ok.1', 1);
  await until(() => got.length === 1, 'the event');
  await client.close();
  await assert.rejects(client.subscribe('ok.*', () => {}), code('RPC009'));
  await server.close();
});
