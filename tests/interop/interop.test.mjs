// Cross-language RPC, with real processes over one local socket: a Node hub hosts payment@1.0.0;
// a Python process hosts inventory@1.0.0 and calls Node; a Rust process hosts calc@1.0.0; a C
// program calls Rust (and Python). Node calls Python. One event from Node reaches Python, Rust and C,
// which each answer with their own. Run by `make interop-test` (part of `make test`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { start, until } from './procs.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const { Peer, Service, Public, OmnitronError } = require(join(root, 'bindings/node'));

const PYTHON = process.env.OMNITRON_PYTHON ?? join(root, '.venv/bin/python');
const RUST_SERVICE = process.env.OMNITRON_RUST_SERVICE;
const C_CLIENT = process.env.OMNITRON_C_CLIENT;
const TOKEN = 'interop-token';


class PaymentService {
  async charge(amount, currency) {
    return { charged: amount, currency, by: 'node' };
  }
}
Service('payment@1.0.0')(PaymentService);
Public()(PaymentService.prototype, 'charge', Object.getOwnPropertyDescriptor(PaymentService.prototype, 'charge'));

test('Node, Python, Rust and C call each other and share events', { timeout: 60_000 }, async () => {
  assert.ok(RUST_SERVICE && C_CLIENT, 'OMNITRON_RUST_SERVICE and OMNITRON_C_CLIENT are set by `make interop-test`');
  const address = `unix:${mkdtempSync(join(tmpdir(), 'omni-interop-'))}/private/hub.sock`;
  const hub = await Peer.listen(address, { name: 'node-hub', token: TOKEN });
  await hub.expose(new PaymentService());
  const events = [];
  await hub.subscribe('interop.#', (payload, topic) => events.push([topic, payload]));

  const py = start(PYTHON, [join(root, 'tests/interop/py_service.py'), address, TOKEN]);
  const rust = start(RUST_SERVICE, [address, TOKEN]);
  const children = [py, rust];
  try {
    await until('the Python and Rust services to register', () => {
      const names = hub.services().map((s) => s.name);
      return names.includes('inventory') && names.includes('calc');
    });

    // Node calls Python, and Rust.
    assert.deepEqual(await hub.call('inventory@^1', 'reserve', ['sku-1', 3]), { sku: 'sku-1', qty: 3, by: 'python' });
    assert.equal(await hub.call('calc', 'add', [20, 22]), 42);
    const calc = await hub.queryInterface('calc@1.0.0');
    assert.equal(await calc.whoami(), 'rust');

    // Python called Node (and told us the result).
    await until('Python to call Node', () => events.some(([t]) => t === 'interop.python.called'));
    assert.deepEqual(events.find(([t]) => t === 'interop.python.called')[1], { charged: 12.5, currency: 'EUR', by: 'node' });

    // C calls Rust (and Python) through the hub.
    const c = start(C_CLIENT, [address, TOKEN]);
    children.push(c);
    await until('the C client to call and subscribe', () => c.lines.includes('ready'));
    assert.ok(c.lines.includes('c: calc.add=42'), c.lines.join('\n'));
    assert.ok(c.lines.some((l) => l.startsWith('c: inventory.reserve=') && l.includes('"by":"python"')), c.lines.join('\n'));

    // One event from Node reaches Python, Rust and C; each answers. Published once: each says
    // `ready` after its subscription returned, and a subscription is active once that returns.
    await until('Python and Rust to be ready', () => py.lines.includes('ready') && rust.lines.includes('ready'));
    hub.publish('interop.hello', 'from node');
    const acked = () => ['interop.ack.python', 'interop.ack.rust', 'interop.ack.c'].every((t) => events.some(([topic]) => topic === t));
    await until('acks from Python, Rust and C', acked);
    assert.equal(await c.exited, 0);
    assert.ok(c.lines.includes('c: event interop.hello'));

    // A service process killed mid-way: its calls fail at once, the others keep working.
    rust.kill('SIGKILL');
    await rust.exited;
    await until('the Rust service to be gone', () => !hub.services().some((s) => s.name === 'calc'));
    await assert.rejects(hub.call('calc', 'add', [1, 1]), (e) => e instanceof OmnitronError && e.code === 'RPC001');
    assert.equal((await hub.call('inventory', 'reserve', ['sku-2', 1])).by, 'python');
  } finally {
    for (const ch of children) ch.kill('SIGKILL');
    await hub.close();
  }
});
