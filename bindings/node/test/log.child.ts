// A child process for test/log.test.ts: a service whose handler logs through @InjectLogger, called
// from inside a span, plus pino-style calls of every shape; every record goes to stderr as JSON.
import { InjectLogger, Logger, Peer, Public, Service, createLogger, logger, withSpan, currentTrace } from '@omnitron-dev/native';

// Spec 2.4 as written: `@InjectLogger() private logger: Logger`, `this.logger.info({ id }, 'Finding user')`.
class UsersService {
  @InjectLogger()
  private logger!: Logger;

  findOne(id: string): void {
    this.logger.info({ id }, 'Finding user');
  }
}

@Service('inventory@1.0.0')
class Inventory {
  @InjectLogger('inventory')
  private log!: Logger;

  @Public()
  async reserve(sku: string): Promise<number> {
    if (typeof sku !== 'string') throw new TypeError('sku must be a string');
    this.log.info({ sku, qty: 2 }, 'reserving %s', sku);
    this.log.debug('not written: the module is at info');
    return sku.length;
  }
}

void (async () => {
  const dir = process.argv[2]!;
  const server = await Peer.listen(`${dir}/rpc.sock`, { name: 'server' });
  await server.expose(new Inventory());
  const client = await Peer.connect(`${dir}/rpc.sock`, { name: 'client' });
  // With OMNITRON_CALL_EVENTS on, each served call publishes its events (spec 7.1).
  const events: [string, unknown][] = [];
  await client.subscribe('inventory.#', (payload, topic) => void events.push([topic, payload]));
  const traceparent = await withSpan('place-order', async () => {
    await client.call('inventory@1.0.0', 'reserve', ['a-1']);
    return currentTrace()!.traceparent;
  });
  process.stdout.write(`${traceparent}\n`);
  await client.call('inventory@1.0.0', 'reserve', [42]).catch(() => undefined);
  for (let i = 0; i < 500 && events.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  process.stdout.write(`${JSON.stringify(events)}\n`);

  new UsersService().findOne('u-7');
  const orders = createLogger({ name: 'orders.payment', base: { region: 'eu' } });
  orders.warn(new Error('card declined'));
  orders.child({ orderId: 42 }).error({ err: Object.assign(new Error('gateway down'), { code: 'E503' }) }, 'charge failed');
  const cyclic: Record<string, unknown> = { big: 10n };
  cyclic.self = cyclic;
  orders.info(cyclic, 'cyclic');
  orders.debug('not yet');
  orders.level = 'debug';
  orders.debug('now at debug');
  logger.info('root %d of %j', 1, { a: 1 });
  await client.close();
  await server.close();
})();
