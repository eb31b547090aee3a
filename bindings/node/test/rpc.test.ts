import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  EmitEvent,
  InjectProcess,
  OmnitronError,
  OnEvent,
  Peer,
  Public,
  Service,
  callContext,
  packMessage,
  unpackMessage,
  type ServiceProxy,
} from '@omnitron-dev/native';

const TOKEN = 'node-secret';
const address = () => `unix:${mkdtempSync(join(tmpdir(), 'omni-'))}/private/rpc.sock`;
const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Service('payment@1.0.0')
class PaymentService {
  aborted = 0;
  events: unknown[] = [];

  @Public()
  async charge(amount: number, currency = 'EUR'): Promise<{ charged: number; currency: string }> {
    return { charged: amount, currency };
  }

  @Public()
  syncEcho(x: unknown): unknown {
    return x;
  }

  @Public()
  async decline(): Promise<never> {
    throw new RangeError('card declined');
  }

  @Public()
  async slow(): Promise<void> {
    const signal = callContext()!.signal;
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    this.aborted++;
  }

  @Public()
  @EmitEvent('payment.refunded')
  async refund(amount: number): Promise<{ refunded: number }> {
    return { refunded: amount };
  }

  @Public()
  unsendable(bad: boolean): unknown {
    return bad ? Symbol('not sendable') : 'ok';
  }

  notPublic(): string {
    return 'secret';
  }

  @OnEvent('order.*')
  onOrder(order: unknown, topic: string): void {
    this.events.push([order, topic]);
  }
}

@Service('payment@2.0.0')
class PaymentV2 {
  @Public()
  async charge(amount: number): Promise<string> {
    return `v2 charged ${amount}`;
  }
}

async function until(f: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (f()) return;
    await sleep(10);
  }
  throw new Error('condition not reached in 5 s');
}

test('MessagePack values round-trip and bad values are refused', () => {
  const v = { a: [1, -2, 3.5, 'x', Buffer.from([0, 255]), null, true], big: 2n ** 60n, nested: { k: [1, 2] }, skipped: undefined };
  assert.deepEqual(unpackMessage(packMessage(v)), { a: [1, -2, 3.5, 'x', Buffer.from([0, 255]), null, true], big: 2n ** 60n, nested: { k: [1, 2] } });
  assert.deepEqual(unpackMessage(packMessage(new Map([[1, 'one']]))), new Map([[1, 'one']]));
  assert.throws(() => packMessage(() => 1), code('E001'));
  assert.throws(() => packMessage(2n ** 70n), code('E001'));
  assert.throws(() => unpackMessage(Buffer.from([0xc1])), code('E001'));
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.throws(() => packMessage(deep), code('E001'));
  // Integers at every width's edges, each in its smallest encoding.
  const edges = [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53) + 1];
  assert.deepEqual(unpackMessage(packMessage(edges)), edges);
  assert.deepEqual([...packMessage(-33)], [0xd2, 0xff, 0xff, 0xff, 0xdf]);
  assert.deepEqual([...packMessage(65536)], [0xce, 0, 1, 0, 0]);
  assert.deepEqual([...packMessage(2 ** 32)], [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.equal(unpackMessage(packMessage(-0)), 0);
});

test('calls pick versions, interfaces are typed, errors keep their codes', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { name: 'server', token: TOKEN });
  const p = new PaymentService();
  await server.expose(p);
  await server.expose(new PaymentV2());
  const client = await Peer.connect(addr, { name: 'client', token: TOKEN });
  try {
    assert.deepEqual(await client.call('payment@1.0.0', 'charge', [10.5]), { charged: 10.5, currency: 'EUR' });
    assert.deepEqual(await client.call('payment@^1', 'charge', [3, 'USD']), { charged: 3, currency: 'USD' });
    assert.equal(await client.call('payment', 'charge', [1]), 'v2 charged 1');
    assert.deepEqual(await client.call('payment@1', 'syncEcho', [{ a: [1, 2] }]), { a: [1, 2] });

    const pay = await client.queryInterface<PaymentService>('payment@^1');
    assert.equal(pay.$info.version, '1.0.0');
    assert.deepEqual(await pay.charge(7), { charged: 7, currency: 'EUR' });
    await assert.rejects(pay.notPublic(), code('RPC002'));

    await assert.rejects(client.call('payment@^3', 'charge', [1]), (e: any) => e.code === 'RPC001' && /1\.0\.0, 2\.0\.0/.test(e.message));
    await assert.rejects(client.call('payment@1', 'notPublic'), code('RPC002'));
    await assert.rejects(client.call('payment@1', 'decline'), (e: any) => e.code === 'RPC008' && e.name === 'RemoteError' && /RangeError: card declined/.test(e.message) && e.data.type === 'RangeError');
    await assert.rejects(client.call('payment@???', 'charge', [1]), code('RPC010'));
    await assert.rejects(client.call('payment@1', 'charge', [() => 1]), code('E001'));
    await assert.rejects(client.call(42 as any, 'charge'), code('E001'));
    await assert.rejects(client.call('payment@1', 'charge', [1], { deadline: '100' as any }), code('E001'));
    assert.deepEqual(await client.call('payment@1', 'charge', [1], { deadline: null as any }), { charged: 1, currency: 'EUR' });
    // Past what a clock can add: as long as there is.
    assert.deepEqual(await client.call('payment@1', 'charge', [1], { deadline: Number.MAX_VALUE }), { charged: 1, currency: 'EUR' });
    // An argument's getter that makes a call while this call's arguments are encoded into the
    // batch: both go through, each with its own id and arguments, among other calls of the turn.
    let inner: Promise<unknown> | undefined;
    const tricky = {
      get x() {
        inner = client.call('payment@1', 'syncEcho', ['inner']);
        return 1;
      },
    };
    const around = Array.from({ length: 20 }, (_, i) => client.call('payment@1', 'syncEcho', [i]));
    assert.deepEqual(await client.call('payment@1', 'syncEcho', [tricky]), { x: 1 });
    assert.equal(await inner, 'inner');
    assert.deepEqual(await Promise.all(around), Array.from({ length: 20 }, (_, i) => i));
    // Calls of one turn cross to the engine together, and so do the answers of one read: a value
    // that cannot be sent fails its own call only, both ways.
    const mixed = await Promise.allSettled([
      client.call('payment@1', 'syncEcho', [1]),
      client.call('payment@1', 'syncEcho', [() => 1]),
      client.call('payment@1', 'syncEcho', [3]),
      client.call('payment@1', 'unsendable', [false]),
      client.call('payment@1', 'unsendable', [true]),
      client.call('payment@1', 'syncEcho', [-70000]),
    ]);
    assert.deepEqual(
      mixed.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as OmnitronError).code)),
      [1, 'E001', 3, 'ok', 'E001', -70000],
    );

    // Calls go out by a number per target and method; past 256 methods of one target they go by
    // name, and both ways behave alike.
    const missing = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => client.call('payment@1', `m${i}`)));
    assert.ok(missing.every((r) => r.status === 'rejected' && (r.reason as any).code === 'RPC002'));
    assert.deepEqual(await client.call('payment@1', 'charge', [2]), { charged: 2, currency: 'EUR' });

    // The deadline reaches the handler as an aborted signal.
    await assert.rejects(client.call('payment@1', 'slow', [], { deadline: 150 }), code('E006'));
    await until(() => p.aborted === 1);
    await client.close();
    await assert.rejects(client.call('payment@1', 'charge', [1]), code('RPC009'));
  } finally {
    await client.close();
    await server.close();
  }
});

test('auth is enforced and bad input is refused', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  try {
    await assert.rejects(Peer.connect(addr, { token: 'wrong' }), code('RPC003'));
    await assert.rejects(Peer.connect(addr), code('RPC003'));
    await assert.rejects(Peer.listen('tcp://127.0.0.1:0'), code('RPC003'));
    await assert.rejects(Peer.listen(address(), { token: TOKEN, engineWakeups: true } as any), code('E001'));
    await assert.rejects(Peer.listen('ftp://x'), code('RPC010'));
    await assert.rejects(server.expose({}), code('E001'));
    await assert.rejects(server.expose(42 as any), code('E001'));
    assert.throws(() => Service('bad version@1'), code('RPC010'));
    assert.throws(() => server.publish('order.*', 1), code('E001'));
    await assert.rejects(server.subscribe('a..b', () => {}), code('E001'));
    await assert.rejects(server.subscribe('a.*', 'nope' as any), code('E001'));
  } finally {
    await server.close();
  }
});

test('events reach every process; @OnEvent and @EmitEvent', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  const p = new PaymentService();
  await server.expose(p);
  const a = await Peer.connect(addr, { token: TOKEN });
  try {
    const got: unknown[] = [];
    await a.subscribe('order.#', (payload) => got.push(payload));
    const refunds: unknown[] = [];
    await a.subscribe('payment.refunded', (payload) => refunds.push(payload));
    a.publish('order.created', { id: 1 });
    server.publish('order.item.added', { id: 2 });
    await a.call('payment@1', 'refund', [5]);
    await until(() => got.length === 2 && p.events.length === 1 && refunds.length === 1);
    assert.deepEqual(got.map((x: any) => x.id).sort(), [1, 2]);
    assert.deepEqual(p.events, [[{ id: 1 }, 'order.created']]);
    assert.deepEqual(refunds, [{ refunded: 5 }]);
  } finally {
    await a.close();
    await server.close();
  }
});

test('@InjectProcess gives a typed ServiceProxy', async () => {
  assert.throws(() => InjectProcess(undefined as any), (e: unknown) => code('E001')(e) && /import each other/.test((e as Error).message));
  assert.throws(() => InjectProcess(42 as any), code('E001'));
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  await server.expose(new PaymentService());
  const client = await Peer.connect(addr, { token: TOKEN });
  class OrderService {
    @InjectProcess(PaymentService)
    payment!: ServiceProxy<PaymentService>;
  }
  try {
    const o = new OrderService();
    assert.deepEqual(await o.payment.charge(2, 'GBP'), { charged: 2, currency: 'GBP' });
  } finally {
    await client.close();
    await server.close();
  }
});

test('a Node child process hosts a service; its death fails calls at once', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { name: 'parent', token: TOKEN });
  // Next to this test, so that it resolves the package like the tests do.
  const script = join(__dirname, `child-${process.pid}.mjs`);
  writeFileSync(
    script,
    `import { Peer } from '@omnitron-dev/native';
     const peer = await Peer.connect(process.argv[2], { name: 'child', token: process.argv[3] });
     class Inventory { async reserve(sku, qty) { return { sku, qty, by: 'node-child' }; } }
     Object.defineProperty(Inventory, Symbol.for('omnitron.rpc.service'), { value: { name: 'inventory', version: '1.0.0' } });
     Object.defineProperty(Inventory, Symbol.for('omnitron.rpc.public'), { value: new Set(['reserve']) });
     await peer.expose(new Inventory());
     console.log('ready');
     setInterval(() => {}, 1000);`,
  );
  const child = spawn(process.execPath, [script, addr, TOKEN], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
      child.on('exit', (c) => reject(new Error(`child exited ${c}`)));
    });
    await until(() => server.services().length === 1);
    assert.deepEqual(await server.call('inventory@^1', 'reserve', ['sku-1', 2]), { sku: 'sku-1', qty: 2, by: 'node-child' });
    const started = Date.now();
    const inFlight = server.call('inventory', 'reserve', ['x', 1]).catch((e) => e);
    child.kill('SIGKILL');
    let e = await inFlight;
    if (!(e instanceof OmnitronError)) {
      // It answered before the kill: the next call fails instead.
      await until(() => server.services().length === 0);
      e = await server.call('inventory', 'reserve', ['x', 1]).catch((err) => err);
    }
    assert.ok(e instanceof OmnitronError && ['RPC004', 'RPC001'].includes(e.code), String(e));
    assert.ok(Date.now() - started < 4000);
  } finally {
    child.kill('SIGKILL');
    rmSync(script, { force: true });
    await server.close();
  }
});

@Service('ticker@1.0.0')
class Ticker {
  produced = 0;
  stopped = false;

  @Public()
  async *count(n: number): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        this.produced++;
        yield i;
      }
    } finally {
      this.stopped = true;
    }
  }

  @Public()
  *countSync(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }

  @Public()
  async *broken(): AsyncGenerator<number> {
    yield 1;
    throw new TypeError('ran dry');
  }
}

test('streams from generators, with backpressure and early stop', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  const t = new Ticker();
  await server.expose(t);
  const client = await Peer.connect(addr, { token: TOKEN });
  try {
    const got: number[] = [];
    for await (const x of client.stream<number>('ticker', 'count', [5])) got.push(x);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    const sync: number[] = [];
    for await (const x of client.stream<number>('ticker', 'countSync', [3])) sync.push(x);
    assert.deepEqual(sync, [0, 1, 2]);

    const ticker = await client.queryInterface<Ticker>('ticker');
    assert.deepEqual(ticker.$info.streams.sort(), ['broken', 'count', 'countSync']);
    const viaProxy: number[] = [];
    for await (const x of ticker.count(3)) viaProxy.push(x);
    assert.deepEqual(viaProxy, [0, 1, 2]);

    const items: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const x of client.stream<number>('ticker', 'broken')) items.push(x);
      })(),
      (e: any) => e.code === 'RPC008' && /TypeError: ran dry/.test(e.message),
    );
    assert.deepEqual(items, [1]);
    await assert.rejects(client.stream('ticker', 'nope').next(), code('RPC002'));
    // Bad input to stream() is refused before anything is sent, and the peer goes on.
    await assert.rejects(client.stream('ticker', 'count', [1], { deadline: 'soon' as any }).next(), code('E001'));
    await assert.rejects(client.stream(42 as any, 'count').next(), code('E001'));
    await assert.rejects(client.stream('ticker', 'count', 3 as any).next(), code('E001'));
    await assert.rejects(client.stream('ticker', 'count', [1], null as any).next(), code('E001'));
    await assert.rejects(client.call('ticker', 'count', [1], null as any), code('E001'));
    await assert.rejects(client.call('ticker', 'count', [1], 5 as any), code('E001'));
    const few = [];
    for await (const x of client.stream<number>('ticker', 'count', [2], { deadline: null as any })) few.push(x);
    assert.equal(few.length, 2);

    t.produced = 0;
    for await (const x of client.stream<number>('ticker', 'count', [100_000])) {
      if (x === 0) {
        await sleep(300);
        assert.ok(t.produced < 100, `producer ran ${t.produced} items ahead`);
      }
      if (x === 5) break;
    }
    await until(() => t.stopped);
  } finally {
    await client.close();
    await server.close();
  }
});

test('Omnitron.create exposes the application\'s @Service providers on a peer', async () => {
  const { Injectable, Module, Omnitron } = await import('@omnitron-dev/native');
  @Injectable()
  class Rates {
    rate = 2;
  }
  @Injectable()
  @Service('pricing@1.0.0')
  class Pricing {
    constructor(readonly rates: Rates) {}
    @Public()
    async price(x: number): Promise<number> {
      return x * this.rates.rate;
    }
  }
  @Module({ providers: [Rates, Pricing] })
  class AppModule {}
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  const app = await Omnitron.create(AppModule, { peer: server });
  const client = await Peer.connect(addr, { token: TOKEN });
  try {
    assert.equal(await client.call('pricing@^1', 'price', [21]), 42);
  } finally {
    await client.close();
    await server.close();
    await app.close();
  }
});

test('connections read on the loop: batches over the drain buffer, and a peer in a worker thread', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { token: TOKEN });
  await server.expose(new PaymentService());
  const client = await Peer.connect(addr, { token: TOKEN });
  // Items bigger than the 64 KiB buffer JavaScript drains into (it grows), and batches of many
  // smaller ones that fill it (the rest follow in the next drain).
  const big = 'x'.repeat(200_000);
  const bigs = await Promise.all(Array.from({ length: 8 }, (_, i) => client.call('payment@1.0.0', 'syncEcho', [big + i])));
  bigs.forEach((b, i) => assert.equal(b, big + i));
  const mid = 'y'.repeat(10_000);
  const many = await Promise.all(Array.from({ length: 300 }, (_, i) => client.call('payment@1.0.0', 'syncEcho', [`${i}:${mid}`])));
  many.forEach((m, i) => assert.equal(m, `${i}:${mid}`));
  await assert.rejects(client.call('payment@1.0.0', 'decline'), code('RPC008'));

  // A peer made in a worker thread is read by that thread's loop, and lets the thread exit.
  const w = new Worker(join(__dirname, 'rpc.thread.js'), { workerData: { address: addr, token: TOKEN } });
  const exited = new Promise<number>((res) => w.once('exit', res));
  const msg = await new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  assert.deepEqual(msg, { r: { charged: 7, currency: 'EUR' }, bigLength: 300_000 });
  assert.equal(await exited, 0);

  // A thread terminated with its peer's connection still watched: its loop is closed cleanly (Node
  // aborts the process if a loop closes with a handle open), and the server sees it go.
  const w2 = new Worker(join(__dirname, 'rpc.thread.js'), { workerData: { address: addr, token: TOKEN, stay: true } });
  assert.equal(await new Promise((res) => w2.once('message', res)), 'connected');
  await w2.terminate();
  assert.equal(await client.call('payment@1.0.0', 'syncEcho', ['after']), 'after');
  await client.close();
  await server.close();
});

@Service('big@1.0.0')
class BigService {
  @Public()
  async get(_pad: Buffer) {
    return Buffer.alloc(1 << 20, 7);
  }
}

test('a caller that does not read its answers is not read either, and loses none', async () => {
  const addr = address();
  const server = await Peer.listen(addr, { name: 'server', token: TOKEN });
  await server.expose(new BigService());
  await server.expose(new PaymentService());
  const frame = (m: unknown) => {
    const body = packMessage(m);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    return Buffer.concat([head, body]);
  };
  const sock = createConnection(addr.slice('unix:'.length));
  await new Promise((res, rej) => sock.once('connect', res).once('error', rej));
  sock.pause(); // Reads nothing: the answers pile up on the server's side.
  sock.write(frame([0, 1, { name: 'raw', lang: 'node', pid: process.pid }, TOKEN]));
  const n = 64;
  const pad = Buffer.alloc(65536, 112);
  for (let i = 1; i <= n; i++) sock.write(frame([2, i, 'big@1.0.0', 'get', [pad], 30000, null, false]));
  await sleep(1000);
  // 1 MiB answers against a 4 MiB outbox: without backpressure the server would read all 64 requests.
  assert.ok(sock.writableLength > 0, 'the server kept reading a caller that reads nothing');
  const client = await Peer.connect(addr, { name: 'good', token: TOKEN });
  assert.deepEqual(await client.call('payment@1.0.0', 'charge', [3]), { charged: 3, currency: 'EUR' });

  // Then it reads: the server goes on where it stopped, and every answer arrives whole.
  const ids: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      for (;;) {
        if (have < 4) return;
        if (chunks[0].length < 4) chunks.splice(0, chunks.length, Buffer.concat(chunks));
        const len = chunks[0].readUInt32BE(0);
        if (have < 4 + len) return;
        const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        chunks.length = 0;
        chunks.push(head);
        const m = unpackMessage(head.subarray(4, 4 + len)) as any[];
        chunks[0] = head.subarray(4 + len);
        have -= 4 + len;
        if (m[0] === 1) continue; // WELCOME
        if (m[0] !== 3 || m[2].length !== 1 << 20) return reject(new Error(`unexpected ${m[0]}`));
        ids.push(m[1]);
        if (ids.length === n) return resolve();
      }
    });
    sock.on('error', reject);
    sock.resume();
  });
  assert.deepEqual(ids.sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1));
  sock.destroy();
  await client.close();
  await server.close();
});
