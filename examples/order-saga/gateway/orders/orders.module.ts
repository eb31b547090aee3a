// The orders feature (spec 2.3): the API's controllers, the saga, and the engine that runs it on
// the SQLite journal named by ORDERS_JOURNAL.

import { Module, WorkflowEngine } from '@omnitron-dev/native';
import { OrdersController } from './orders.controller.js';
import { ORDERS_ENGINE, ORDERS_JOURNAL, OrdersService } from './orders.service.js';
import { OrderWorkflow } from './orders.workflow.js';
import { StatsController } from './stats.controller.js';

@Module({
  controllers: [OrdersController, StatsController],
  providers: [
    { provide: ORDERS_JOURNAL, useValue: process.env.ORDERS_JOURNAL ?? 'orders.db' },
    { provide: ORDERS_ENGINE, useFactory: (path: string) => WorkflowEngine.open(path), inject: [ORDERS_JOURNAL], async: true },
    OrderWorkflow,
    OrdersService,
  ],
  exports: [OrdersService],
})
export class OrdersModule {}
