// orders@1.0.0: places an order as a saga. `reserve` holds stock in the Python inventory service
// (over RPC), `pay` charges the card; when `pay` fails, the engine runs `release`, which gives the
// stock back. omnitron.yaml runs this service and the inventory as two processes of one application.

import {
  Compensate,
  InjectProcess,
  Public,
  Service,
  Stage,
  StageFailedError,
  Workflow,
  WorkflowEngine,
  type ServiceProxy,
  type StageContext,
} from '@omnitron-dev/native';

/** What orders uses of inventory@1.0.0 (services/inventory/inventory/stock.py). */
export interface Inventory {
  reserve(key: string, sku: string, qty: number): Reservation;
  release(key: string): boolean;
  available(sku: string): number;
  held(): string[];
}

export interface Reservation {
  reservation: string;
  sku: string;
  qty: number;
}

export interface Order {
  id: string;
  sku: string;
  qty: number;
  card: string;
}

export type Placed = { id: string; status: 'placed'; reservation: string; charge: string };
export type Cancelled = { id: string; status: 'cancelled'; reason: string };

/** Every item costs the same here: a stand-in for a price list. */
export const UNIT_PRICE = 12.5;

/** A stand-in payment provider: it declines cards ending in 0000, as test cards do. */
export function chargeCard(card: string, amount: number): string {
  if (card.endsWith('0000')) throw new Error(`card ${card} declined`);
  return `ch-${card.slice(-4)}-${Math.round(amount * 100)}`;
}

/** The saga. Its stages call `inventory`: a proxy of the Python service, or any object like it. */
@Workflow({ name: 'place-order', timeout: 30_000, retries: 0 })
export class PlaceOrder {
  constructor(private readonly inventory: ServiceProxy<Inventory>) {}

  @Stage({ name: 'reserve' })
  async reserve(order: Order, ctx: StageContext): Promise<Reservation> {
    // The idempotency key: a retried or resumed stage reserves once.
    return this.inventory.reserve(ctx.idempotencyKey, order.sku, order.qty);
  }

  @Stage({ name: 'pay', dependsOn: 'reserve' })
  async pay(reservation: Reservation, ctx: StageContext): Promise<{ charge: string }> {
    const order = ctx.workflowInput as Order;
    return { charge: chargeCard(order.card, reservation.qty * UNIT_PRICE) };
  }

  // Runs only when a later stage fails, with what `reserve` returned.
  @Compensate('reserve')
  async release(reservation: Reservation): Promise<void> {
    await this.inventory.release(reservation.reservation);
  }
}

@Service('orders@1.0.0')
export class OrdersService {
  // inventory@1.0.0 through this process's parent (omnitron start, or a test's pool), whatever
  // language it is written in.
  @InjectProcess('inventory@^1')
  private readonly inventory!: ServiceProxy<Inventory>;

  // Runs live in memory here; WorkflowEngine.open('orders.db') journals them, so that they
  // survive a restart (engine.recover() resumes the unfinished ones).
  #engine: WorkflowEngine | undefined;

  private engine(): WorkflowEngine {
    if (!this.#engine) {
      this.#engine = WorkflowEngine.inMemory();
      this.#engine.register(new PlaceOrder(this.inventory));
    }
    return this.#engine;
  }

  /** Places `order` (its id names the run: placing it again gives the same outcome). */
  @Public()
  async place(order: Order): Promise<Placed | Cancelled> {
    if (!order?.id || !order.sku || !(order.qty > 0)) throw new RangeError('an order needs an id, a sku and a positive qty');
    try {
      const out = await this.engine().run<{ reserve: Reservation; pay: { charge: string } }>('place-order', order, { runId: order.id });
      return { id: order.id, status: 'placed', reservation: out.reserve.reservation, charge: out.pay.charge };
    } catch (e) {
      // A stage failed and the stages before it were compensated: the order is cancelled.
      if (e instanceof StageFailedError) return { id: order.id, status: 'cancelled', reason: e.message };
      throw e;
    }
  }
}
