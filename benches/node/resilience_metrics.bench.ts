// Resilience and metrics through @omnitron-dev/native, side by side with opossum and prom-client, in
// one run. The breaker figures are the cost a breaker adds to a trivial async method (the same
// method's plain cost subtracted), with and without a per-call timeout, as issue 3 asks.
import CircuitBreakerOpossum from 'opossum';
import * as prom from 'prom-client';
import * as omni from '@omnitron-dev/native';
import { report, run, runAsync, type Result } from './harness.js';

// ---- circuit breakers around a trivial async method ---------------------------------------------
class Plain {
  async get(): Promise<number> {
    return 1;
  }
}
class Guarded {
  @omni.CircuitBreaker({ threshold: 5, timeout: 30_000 })
  async get(): Promise<number> {
    return 1;
  }
}
class GuardedWithTimeout {
  @omni.CircuitBreaker({ threshold: 5, timeout: 30_000, callTimeout: 10_000 })
  async get(): Promise<number> {
    return 1;
  }
}
const plain = new Plain();
const guarded = new Guarded();
const guardedT = new GuardedWithTimeout();
const trivial = async (): Promise<number> => 1;
const opossumNoTimeout = new CircuitBreakerOpossum(trivial, { timeout: false, resetTimeout: 30_000 });
const opossumDefault = new CircuitBreakerOpossum(trivial, { resetTimeout: 30_000 });

const asyncResults = await runAsync([
  { case: 'plain async call', lib: 'none', f: () => plain.get() },
  { case: 'breaker, no timeout', lib: 'omnitron', f: () => guarded.get() },
  { case: 'breaker, no timeout', lib: 'opossum', f: () => opossumNoTimeout.fire() },
  { case: 'breaker, 10 s timeout', lib: 'omnitron', f: () => guardedT.get() },
  { case: 'breaker, 10 s timeout', lib: 'opossum', f: () => opossumDefault.fire() },
]);
const base = asyncResults.find((r) => r.lib === 'none')!.nsPerOp;
const added: Result[] = asyncResults
  .filter((r) => r.lib !== 'none')
  .map((r) => ({ ...r, nsPerOp: Math.max(r.nsPerOp - base, 0.1) }));
console.log(`\nplain async call: ${base.toFixed(1)} ns (subtracted below)`);
report('Circuit breaker: ns added per call (lower is better)', added, 'omnitron');

// ---- metrics --------------------------------------------------------------------------------------
const reg = new omni.Registry();
const oc = reg.counter({ name: 'c_total', help: 'c' });
const ocl = reg.counter({ name: 'cl_total', help: 'c', labelNames: ['method', 'code'] });
const ocached = ocl.labels('GET', '200');
const oh = reg.histogram({ name: 'h_seconds', help: 'h' });
const ohl = reg.histogram({ name: 'hl_seconds', help: 'h', labelNames: ['method'] });
const pr = new prom.Registry();
const pc = new prom.Counter({ name: 'c_total', help: 'c', registers: [pr] });
const pcl = new prom.Counter({ name: 'cl_total', help: 'c', labelNames: ['method', 'code'], registers: [pr] });
const pcached = pcl.labels('GET', '200');
const ph = new prom.Histogram({ name: 'h_seconds', help: 'h', registers: [pr] });
const phl = new prom.Histogram({ name: 'hl_seconds', help: 'h', labelNames: ['method'], registers: [pr] });
const labels = { method: 'GET', code: '200' };
const hlabels = { method: 'GET' };

const metricResults = run([
  { case: 'counter inc', lib: 'omnitron', f: () => oc.inc() },
  { case: 'counter inc', lib: 'prom-client', f: () => pc.inc() },
  { case: 'labeled counter inc', lib: 'omnitron', f: () => ocl.inc(labels) },
  { case: 'labeled counter inc', lib: 'prom-client', f: () => pcl.inc(labels) },
  { case: 'labels() child inc', lib: 'omnitron', f: () => ocached.inc() },
  { case: 'labels() child inc', lib: 'prom-client', f: () => pcached.inc() },
  { case: 'histogram observe', lib: 'omnitron', f: () => oh.observe(0.042) },
  { case: 'histogram observe', lib: 'prom-client', f: () => ph.observe(0.042) },
  { case: 'labeled hist observe', lib: 'omnitron', f: () => ohl.observe(hlabels, 0.042) },
  { case: 'labeled hist observe', lib: 'prom-client', f: () => phl.observe(hlabels, 0.042) },
]);
report('Metrics: ns per operation', metricResults, 'omnitron');

// The values recorded above must be there when read back: a benchmark that loses updates is wrong.
const text = reg.metrics();
if (!text.includes('c_total ')) throw new Error('omnitron counter missing from the exposition');
