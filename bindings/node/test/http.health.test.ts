// Spec 7.2: @HealthIndicator() providers' @HealthCheck methods behind /health, /health/ready and
// /health/live, each check with its own timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HealthCheck, HealthIndicator, Injectable, Module, Omnitron, type HealthCheckResult, type OmnitronApp } from '@omnitron-dev/native';

@Injectable()
class Database {
  up = true;
}

@HealthIndicator()
@Injectable()
class DatabaseHealthIndicator {
  constructor(private readonly db: Database) {}

  @HealthCheck('database')
  async checkDatabase(): Promise<HealthCheckResult> {
    return this.db.up ? { status: 'up', message: 'Database is responsive' } : { status: 'down', message: 'connection refused' };
  }

  @HealthCheck('cache', { timeout: 100 })
  checkCache(): Promise<HealthCheckResult> {
    return new Promise(() => {}); // never answers: down after its timeout
  }
}

@HealthIndicator()
class QueueHealth {
  @HealthCheck('queue')
  check(): HealthCheckResult {
    return { status: 'up', details: { depth: 3 } };
  }
}

@Module({ providers: [Database, DatabaseHealthIndicator, QueueHealth] })
class AppModule {}

let app: OmnitronApp;
let base: string;

before(async () => {
  app = await Omnitron.create(AppModule);
  base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
});

after(() => app.close());

test('/health reports every check; a check that does not answer in time is down', async () => {
  const r = await fetch(`${base}/health`);
  const text = await r.text();
  for (const name of ['database', 'cache', 'queue', 'Database is responsive', 'depth']) assert.match(text, new RegExp(name), text);
  assert.equal((await fetch(`${base}/health/live`)).status, 200);
  // The cache check never answers: the app is not ready.
  assert.equal((await fetch(`${base}/health/ready`)).status, 503);
});

test('a check that goes down shows in /health', async () => {
  const r0 = await fetch(`${base}/health`);
  await r0.arrayBuffer();
  app.get(Database).up = false;
  const text = await (await fetch(`${base}/health`)).text();
  assert.match(text, /connection refused/);
  app.get(Database).up = true;
});
