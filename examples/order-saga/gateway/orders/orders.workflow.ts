// The order saga (spec 2.6): validate, reserve stock (Python), charge (TypeScript), ship (C), each
// stage calling its service through the supervisor with the stage's idempotency key first. A stage
// that still fails after its retries has the completed ones undone, latest first (refund, then
// release). The engine journals every step in SQLite, so a gateway killed mid-saga takes its runs
// up where they stopped when it starts again.

import { Compensate, InjectProcess, InvalidArgumentError, Stage, Workflow, type ServiceProxy, type StageContext } from '@omnitron-dev/native';
import type { Order } from './create-order.dto.js';
import type { Charge, Inventory, Payment, Reservation, Shipping } from './remote.js';

/** Six attempts, 50 ms before the first retry, doubling: a restarted service is back well within them. */
const RETRY = { retries: 5, retryDelay: 50 } as const;

@Workflow({ name: 'order', timeout: 60_000 })
export class OrderWorkflow {
  // Proxies over the connection to the supervisor (`Peer.default`); each call's deadline is 5 s.
  @InjectProcess('inventory@^1')
  private readonly inventory!: ServiceProxy<Inventory>;

  @InjectProcess('payment@^1')
  private readonly payments!: ServiceProxy<Payment>;

  @InjectProcess('shipping@^1')
  private readonly shipping!: ServiceProxy<Shipping>;

  /** A run started some other way than the validated POST (or an old journal's) is checked again. */
  @Stage('validate')
  validate(order: Order): Order {
    const ok = typeof order?.sku === 'string' && Number.isInteger(order.qty) && order.qty >= 1 && typeof order.amount === 'number' && order.amount > 0;
    if (!ok) throw new InvalidArgumentError(`invalid order: ${JSON.stringify(order)}`);
    return order;
  }

  @Stage({ name: 'reserve', dependsOn: 'validate', ...RETRY })
  reserve(order: Order, ctx: StageContext): Promise<Reservation> {
    return this.inventory.reserve(ctx.idempotencyKey, order.sku, order.qty);
  }

  @Compensate('reserve')
  async release(reservation: Reservation, ctx: StageContext): Promise<void> {
    await this.inventory.release(ctx.idempotencyKey, reservation);
  }

  @Stage({ name: 'payment', dependsOn: 'reserve', ...RETRY })
  charge(_reservation: Reservation, ctx: StageContext): Promise<Charge> {
    const order = ctx.workflowInput as Order;
    return this.payments.charge(ctx.idempotencyKey, order.id, order.amount);
  }

  @Compensate('payment')
  async refund(charge: Charge, ctx: StageContext): Promise<void> {
    await this.payments.refund(ctx.idempotencyKey, charge);
  }

  @Stage({ name: 'shipping', dependsOn: 'payment', ...RETRY })
  ship(_charge: Charge, ctx: StageContext): Promise<{ shipment: string; by: string }> {
    const order = ctx.workflowInput as Order;
    return this.shipping.create(ctx.idempotencyKey, order.id, order.address);
  }
}
