// Orders are runs of the order saga on the workflow engine: placing one starts a run (journaled
// before the answer), reading one reads its run. At start the workflow is registered and the runs
// a previous gateway left unfinished are taken up (resumed where they stopped).

import { createToken, Injectable, Inject, NotFoundException, RunNotFoundError, WorkflowEngine, type RunInfo, type RunState } from '@omnitron-dev/native';
import type { CreateOrderDto, Order } from './create-order.dto.js';
import { OrderWorkflow } from './orders.workflow.js';

/** The SQLite journal's path (`ORDERS_JOURNAL`). */
export const ORDERS_JOURNAL = createToken<string>('ORDERS_JOURNAL');
/** The workflow engine the orders run on (over that journal; tests can give one in memory). */
export const ORDERS_ENGINE = createToken<WorkflowEngine>('ORDERS_ENGINE');

/** How many orders there are, by state. */
export interface OrdersSummary {
  total: number;
  byState: Partial<Record<RunState, number>>;
}

let made = 0;

@Injectable()
export class OrdersService {
  constructor(
    @Inject(ORDERS_ENGINE) private readonly engine: WorkflowEngine,
    private readonly workflow: OrderWorkflow,
    @Inject(ORDERS_JOURNAL) private readonly journal: string,
  ) {}

  async onInit(): Promise<void> {
    this.engine.register(this.workflow);
    const { resumed, compensating, unrecovered } = await this.engine.recover();
    if (resumed.length + compensating.length + unrecovered.length > 0) {
      console.log(
        `gateway: ${resumed.length} unfinished orders resumed, ${compensating.length} being compensated, ${unrecovered.length} not recovered, from ${this.journal}`,
      );
    }
  }

  onDestroy(): void {
    this.engine.close();
  }

  /** Starts the order's saga and resolves with its id once the run is journaled. */
  async place(dto: CreateOrderDto): Promise<string> {
    const id = dto.id ?? `order-${Date.now().toString(36)}-${(made++).toString(36)}`;
    const order: Order = { ...dto, id };
    const run = await this.engine.start(OrderWorkflow, order, { runId: id });
    return run.id;
  }

  /** The order's run: state, stages with their attempts and outputs, error, times. */
  async get(id: string): Promise<RunInfo> {
    try {
      return await this.engine.get(id);
    } catch (e) {
      if (e instanceof RunNotFoundError) throw new NotFoundException(`no order '${id}'`);
      throw e;
    }
  }

  async summary(): Promise<OrdersSummary> {
    const runs = await this.engine.list();
    const byState: Partial<Record<RunState, number>> = {};
    for (const r of runs) byState[r.state] = (byState[r.state] ?? 0) + 1;
    return { total: runs.length, byState };
  }
}
