// The order gateway (spec 2.2): a child of the `omnitron` supervisor (omnitron.yaml) that serves
// the orders API over HTTP and runs each order as a durable saga whose stages call inventory@^1
// (Python), payment@^1 (TypeScript) and shipping@^1 (C) through the supervisor.
//
// Environment: GATEWAY_ADDR (default 127.0.0.1:8080), ORDERS_JOURNAL (default ./orders.db).

import { connectToParent, Omnitron } from '@omnitron-dev/native';
import { AppModule } from './app.module.js';

/** `host:port` → [host, port]. */
function address(text: string): [string, number] {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`GATEWAY_ADDR must be host:port, got '${text}'`);
  return [text.slice(0, at), port];
}

async function bootstrap(): Promise<void> {
  const [host, port] = address(process.env.GATEWAY_ADDR ?? '127.0.0.1:8080');
  // Connected first: the saga's stages, recovered runs' too, call the other services through it.
  const supervisor = await connectToParent();
  try {
    // Core serves /health* from the @HealthIndicator providers, and /metrics when asked.
    const app = await Omnitron.create(AppModule.forRoot(supervisor.peer), { http: { metrics: true } });
    await app.listen(port, host);
    await supervisor.ready();
    console.log(`gateway: http://${host}:${port} (journal ${process.env.ORDERS_JOURNAL ?? 'orders.db'})`);
    await supervisor.stopRequested;
    // Stops accepting and lets requests in flight finish; then the engine is closed (onDestroy).
    await app.close();
  } finally {
    await supervisor.close();
  }
}

bootstrap().then(
  // Saga stages still in flight are not waited for: their runs stay unfinished in the journal and
  // are resumed at the next start.
  () => process.exit(0),
  (e: unknown) => {
    console.error('gateway:', e);
    process.exit(1);
  },
);
