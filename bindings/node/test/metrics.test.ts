import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Metric, OmnitronError, Registry } from '@omnitron-dev/native';

const code = (c: string) => (e: unknown) => e instanceof OmnitronError && e.code === c;

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

/** A small parser of the text format, enough to read values back. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('counters, gauges and histograms are recorded and exposed', () => {
  const r = new Registry();
  const jobs = r.counter({ name: 'jobs_total', help: 'Jobs' });
  jobs.inc();
  jobs.inc(2.5);
  const orders = r.counter({ name: 'orders_total', help: 'Orders', labelNames: ['status', 'method'] });
  orders.inc({ status: 'paid', method: 'card' });
  orders.labels('paid', 'card').inc(2);
  const depth = r.gauge({ name: 'queue_depth', help: 'Depth' });
  depth.set(7);
  depth.dec();
  const lat = r.histogram({ name: 'latency_seconds', help: 'Latency', buckets: [0.1, 1] });
  for (const v of [0.05, 0.5, 0.5, 5]) lat.observe(v);
  const byRoute = r.histogram({ name: 'route_seconds', help: 'By route', labelNames: ['route'] });
  byRoute.observe({ route: '/a' }, 0.2);
  const end = byRoute.startTimer({ route: '/b' });
  end();

  const m = parse(r.metrics());
  assert.equal(m.get('jobs_total'), 3.5);
  assert.equal(m.get('orders_total{status="paid",method="card"}'), 3);
  assert.equal(m.get('queue_depth'), 6);
  assert.equal(m.get('latency_seconds_bucket{le="0.1"}'), 1);
  assert.equal(m.get('latency_seconds_bucket{le="1.0"}'), 3);
  assert.equal(m.get('latency_seconds_bucket{le="+Inf"}'), 4);
  assert.equal(m.get('latency_seconds_sum'), 6.05);
  assert.equal(m.get('latency_seconds_count'), 4);
  assert.equal(m.get('route_seconds_count{route="/a"}'), 1);
  assert.equal(m.get('route_seconds_count{route="/b"}'), 1);
  assert.equal(jobs.get(), 3.5);
  assert.match(r.openMetrics(), /# TYPE jobs counter[\s\S]*jobs_total 3.5[\s\S]*# EOF\n$/);
  const snap = r.snapshot();
  assert.deepEqual(snap.find((s) => s.name === 'queue_depth')!.series[0].value, 6);
});

test('bad names, labels, values and buckets are refused with clear errors', () => {
  const r = new Registry();
  assert.throws(() => r.counter({ name: 'users.findOne' }), (e: any) => e.code === 'M001' && /users_findOne/.test(e.message));
  assert.throws(() => r.counter({ name: '' }), code('M001'));
  assert.throws(() => r.counter({ name: 'x_total', labelNames: ['__x'] }), code('M001'));
  assert.throws(() => r.histogram({ name: 'h', buckets: [2, 1] }), code('M005'));
  assert.throws(() => r.histogram({ name: 'h2', buckets: [] }), code('M005'));
  assert.throws(() => r.histogram({ name: 'h3', buckets: [1, 1] }), code('M005'));
  assert.throws(() => r.histogram({ name: 'h4', buckets: [-1, 1] }), code('M005'));
  assert.throws(() => r.histogram({ name: 'h5', buckets: [0, 1] }), code('M005'));
  assert.throws(() => r.counter({ name: 'c_total', buckets: [1] }), code('M005'));
  const c = r.counter({ name: 'up_total' });
  assert.throws(() => c.inc(-1), code('M006'));
  assert.throws(() => c.inc(NaN), code('M006'));
  assert.equal(c.get(), 0);
  const l = r.counter({ name: 'l_total', labelNames: ['a', 'b'] });
  assert.throws(() => l.inc({ a: 'x' }), (e: any) => e.code === 'M002' && /\[a, b\]/.test(e.message));
  assert.throws(() => l.inc({ a: 'x', c: 'y' }), code('M002'));
  assert.throws(() => l.labels('only-one'), code('M002'));
  assert.throws(() => l.inc(), code('M002'));
  assert.throws(() => r.gauge({ name: 'up_total' }), code('M004'));
  assert.throws(() => r.counter({ name: 5 as any }), code('E001'));
  assert.throws(() => r.counter({ name: 'lab_total', labelNames: 'a' as any }), code('E001'));
  // A registry's method registers in that registry: a `registry` key would be ignored, so it is refused.
  assert.throws(() => r.counter({ name: 'other_total', registry: new Registry() } as any), code('E001'));
  const h = r.histogram({ name: 'obs' });
  assert.throws(() => h.observe('fast' as any), code('E001'));
  const capped = r.counter({ name: 'per_user_total', labelNames: ['user'], cardinalityLimit: 2 });
  capped.inc({ user: 'a' });
  capped.inc({ user: 'b' });
  assert.throws(() => capped.inc({ user: 'c' }), code('M003'));
});

test('the same declaration twice is the same metric', () => {
  const r = new Registry();
  r.counter({ name: 'twice_total', help: 'x' }).inc();
  r.counter({ name: 'twice_total', help: 'x' }).inc();
  assert.equal(r.counter({ name: 'twice_total', help: 'x' }).get(), 2);
});

test('@Metric(name) records calls, errors and duration; @Metric({...}) records arguments', async () => {
  const r = new Registry();
  class Users {
    @Metric('users.findOne', r)
    async findOne(id: string) {
      if (id === 'missing') throw new Error('nope');
      return { id };
    }
    @Metric({ type: 'counter', name: 'orders_total', help: 'Orders', labelNames: ['status', 'payment_method'], registry: r })
    incrementOrders(_status: string, _method: string) {}
    @Metric({ type: 'histogram', name: 'order_processing_duration', buckets: [0.1, 0.5, 1, 2, 5, 10], registry: r })
    recordProcessingTime(_d: number) {}
    @Metric({ type: 'gauge', name: 'active_connections', registry: r })
    setActiveConnections(_n: number) {}
  }
  const u = new Users();
  await u.findOne('1');
  await assert.rejects(u.findOne('missing'));
  u.incrementOrders('paid', 'card');
  u.incrementOrders('paid', 'card');
  u.recordProcessingTime(0.7);
  u.setActiveConnections(12);
  const m = parse(r.metrics());
  assert.equal(m.get('method_calls_total{method="users.findOne"}'), 2);
  assert.equal(m.get('method_errors_total{method="users.findOne"}'), 1);
  assert.equal(m.get('method_duration_seconds_count{method="users.findOne"}'), 2);
  assert.equal(m.get('orders_total{status="paid",payment_method="card"}'), 2);
  assert.equal(m.get('order_processing_duration_bucket{le="1.0"}'), 1);
  assert.equal(m.get('active_connections'), 12);
  assert.throws(() => Metric({ type: 'summary' as any, name: 'x' }), code('E001'));
});

test('/metrics is served over real HTTP and stops', async () => {
  const r = new Registry();
  r.counter({ name: 'scraped_total', help: 'Scrapes' }).inc(3);
  const server = r.serve({ port: 0 });
  assert.ok(server.port > 0);
  const res = await get(server.port, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.type, /text\/plain; version=0.0.4/);
  assert.equal(parse(res.body).get('scraped_total'), 3);
  assert.equal((await get(server.port, '/other')).status, 404);
  server.stop();
  server.stop();
  // Stopped: refused, unless another test's server has since been given the same free port (the
  // files run in parallel); it is not this registry's then.
  const after = await get(server.port, '/metrics').catch(() => undefined);
  assert.ok(after === undefined || parse(after.body).get('scraped_total') === undefined, 'the stopped server still answers');
  assert.throws(() => r.serve({ port: 70000 }), code('E001'));
});

test("the global registry also holds the engine's own metrics", () => {
  assert.ok(Registry.global.native.same(Registry.global.native));
});

const unknown = (key: string, hint: string | null, context: string) => (e: unknown) => {
  assert.ok(code('E001')(e), String(e));
  const m = (e as Error).message;
  assert.ok(m.includes(`unknown option '${key}' in ${context}`), m);
  if (hint) assert.ok(m.includes(`did you mean '${hint}'?`), m);
  return true;
};

test('metric configs and @Metric({...}) refuse an unknown key with E001 naming the nearest valid one', () => {
  const r = new Registry();
  assert.throws(() => r.counter({ name: 'a_total', labelnames: ['x'] } as any), unknown('labelnames', 'labelNames', 'Registry.counter()'));
  assert.throws(() => r.gauge({ name: 'g', hlep: 'x' } as any), unknown('hlep', 'help', 'Registry.gauge()'));
  assert.throws(() => r.histogram({ name: 'h', bucket: [1] } as any), unknown('bucket', 'buckets', 'Registry.histogram()'));
  assert.throws(() => r.serve({ prot: 0 } as any), unknown('prot', 'port', 'Registry.serve()'));
  assert.throws(() => Metric({ type: 'counter', name: 'c_total', labels: ['a'] } as any), unknown('labels', null, '@Metric()'));
  assert.throws(() => Metric({ type: 'histogram', name: 'h', bukets: [1] } as any), unknown('bukets', 'buckets', '@Metric()'));
  assert.throws(() => Metric(42 as any), code('E001'));
  assert.throws(() => Metric('x', {} as any), code('E001'));
  // Nothing was registered by the refused calls.
  assert.deepEqual(r.snapshot(), []);
  // Spec 7.3's keys pass.
  Metric({ type: 'counter', name: 'ok_total', help: 'h', labelNames: ['status'], registry: r });
  Metric({ type: 'histogram', name: 'ok_seconds', help: 'h', buckets: [0.1, 1], registry: r });
});

test('@Metric() with no argument (spec 14.2) times the method under Class.method', async () => {
  const r = new Registry();
  class Jobs {
    @Metric(undefined, r)
    async operation(fail: boolean) {
      if (fail) throw new Error('no');
      return 'done';
    }
  }
  const j = new Jobs();
  assert.equal(await j.operation(false), 'done');
  await assert.rejects(j.operation(true));
  const m = parse(r.metrics());
  assert.equal(m.get('method_calls_total{method="Jobs.operation"}'), 2);
  assert.equal(m.get('method_errors_total{method="Jobs.operation"}'), 1);
  assert.equal(m.get('method_duration_seconds_count{method="Jobs.operation"}'), 2);
});
