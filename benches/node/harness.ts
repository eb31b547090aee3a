// A small timing harness for a shared, noisy machine: every case is warmed up, then the cases are
// timed in interleaved rounds (so a slow moment hits all of them alike) and the median round is kept.

export interface Result {
  case: string;
  lib: string;
  nsPerOp: number;
}

export interface Case {
  case: string;
  lib: string;
  f: () => unknown;
  batch?: number;
}

let sink: unknown;

export function run(cases: Case[], rounds = 21): Result[] {
  for (const c of cases) for (let i = 0; i < (c.batch ?? 200_000); i++) sink = c.f();
  const times: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, k) => {
      const n = c.batch ?? 200_000;
      const f = c.f;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) sink = f();
      times[k].push(Number(process.hrtime.bigint() - t0) / n);
    });
  }
  return cases.map((c, k) => {
    const t = times[k].sort((a, b) => a - b);
    return { case: c.case, lib: c.lib, nsPerOp: t[Math.floor(t.length / 2)] };
  });
}

export function report(title: string, results: Result[], ours: string): void {
  console.log(`\n${title}`);
  console.log('case'.padEnd(24) + 'library'.padEnd(14) + 'ns/op'.padStart(10) + '   ' + `${ours} vs peer`);
  for (const c of [...new Set(results.map((r) => r.case))]) {
    const mine = results.find((r) => r.case === c && r.lib === ours)!;
    for (const r of results.filter((x) => x.case === c)) {
      const ratio = r.lib === ours ? '' : `${(r.nsPerOp / mine.nsPerOp).toFixed(2)}x ${r.nsPerOp >= mine.nsPerOp ? 'faster' : 'slower'}`;
      console.log(c.padEnd(24) + r.lib.padEnd(14) + r.nsPerOp.toFixed(1).padStart(10) + '   ' + ratio);
    }
  }
  if (typeof sink === 'symbol') console.log(String(sink));
}

export interface AsyncCase {
  case: string;
  lib: string;
  f: () => Promise<unknown>;
  batch?: number;
}

/** `run` for async work: each operation is awaited before the next starts. */
export async function runAsync(cases: AsyncCase[], rounds = 15): Promise<Result[]> {
  for (const c of cases) for (let i = 0; i < (c.batch ?? 20_000); i++) sink = await c.f();
  const times: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [k, c] of cases.entries()) {
      const n = c.batch ?? 20_000;
      const f = c.f;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) sink = await f();
      times[k].push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  return cases.map((c, k) => {
    const t = times[k].sort((a, b) => a - b);
    return { case: c.case, lib: c.lib, nsPerOp: t[Math.floor(t.length / 2)] };
  });
}

/** Calls/s and latency percentiles (us) of `call` with `inFlight` calls outstanding. */
export interface InFlightRun {
  rate: number;
  p50: number;
  p99: number;
}

/** Runs `total` calls of `call`, `inFlight` at a time (each lane awaits its previous call). */
export async function measureInFlight(inFlight: number, total: number, call: () => Promise<unknown>): Promise<InFlightRun> {
  const lat: number[] = [];
  const per = Math.floor(total / inFlight);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = 0; i < per; i++) {
        const s = process.hrtime.bigint();
        await call();
        lat.push(Number(process.hrtime.bigint() - s) / 1000);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { rate: (per * inFlight) / secs, p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.floor(lat.length * 0.99)] };
}
