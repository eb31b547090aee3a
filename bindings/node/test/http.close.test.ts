// app.close(): requests in flight finish before the server stops; a handler that never answers
// gets its request a 503 near the end of the shutdown timeout instead of holding it forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, Get, Module, Omnitron } from '@omnitron-dev/native';

/** A gate a handler waits at, and a signal that it got there. */
class Gate {
  open!: () => void;
  reached!: () => void;
  readonly opened = new Promise<void>((r) => (this.open = r));
  readonly arrived = new Promise<void>((r) => (this.reached = r));
}
let gate = new Gate();

@Controller()
class SlowController {
  @Get('slow')
  async slow() {
    gate.reached();
    await gate.opened;
    return { done: true };
  }

  @Get('never')
  never() {
    gate.reached();
    return new Promise(() => {});
  }
}

@Module({ controllers: [SlowController] })
class AppModule {}

test('close lets a request in flight finish, then refuses connections', async () => {
  gate = new Gate();
  const app = await Omnitron.create(AppModule);
  const base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
  const inFlight = fetch(`${base}/slow`);
  await gate.arrived;
  let closed = false;
  const closing = app.close().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closed, false, 'close waits for the request in flight');
  gate.open();
  const r = await inFlight;
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { done: true });
  await closing;
  await assert.rejects(fetch(`${base}/slow`));
});

test('a handler that never answers gets its request a 503 when the app closes', async () => {
  gate = new Gate();
  const app = await Omnitron.create(AppModule, { http: { shutdownTimeout: 300 } });
  const base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
  const inFlight = fetch(`${base}/never`);
  await gate.arrived;
  await app.close();
  const r = await inFlight;
  assert.equal(r.status, 503);
  assert.equal(((await r.json()) as { code: string }).code, 'H014');
});

test('in-process: a request waiting on a handler at close gets a 503 too', async () => {
  gate = new Gate();
  const app = await Omnitron.create(AppModule, { http: { shutdownTimeout: 200 } });
  const waiting = app.request().get('/never');
  const answered = waiting.then((res) => res.status);
  await gate.arrived;
  await app.close();
  assert.equal(await answered, 503);
  // After close, requests are refused the same way.
  await app.request().get('/slow').expect(503);
});

@Controller()
class PingController {
  @Get('ping')
  ping() {
    return { pong: true };
  }
}

@Module({ controllers: [PingController] })
class PingModule {}

test('listen() without a host serves every interface, IPv4 and IPv6 loopback alike', async () => {
  const app = await Omnitron.create(PingModule);
  try {
    const port = await app.listen(0);
    for (const base of [`http://127.0.0.1:${port}`, `http://[::1]:${port}`]) {
      const r = await fetch(`${base}/ping`);
      assert.equal(r.status, 200, base);
      assert.deepEqual(await r.json(), { pong: true });
    }
  } finally {
    await app.close();
  }
});
