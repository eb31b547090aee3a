// The gateway's root module (spec 2.3): the orders feature, and health and metrics over the
// connection to the supervisor that started it.

import { Module, type DynamicModule, type Peer } from '@omnitron-dev/native';
import { MonitoringModule } from './monitoring/monitoring.module.js';
import { OrdersModule } from './orders/orders.module.js';

@Module({ imports: [OrdersModule] })
export class AppModule {
  /** The gateway as a child of the supervisor: `supervisor` is its connection to it. */
  static forRoot(supervisor: Peer): DynamicModule {
    return { module: AppModule, imports: [MonitoringModule.forRoot(supervisor)] };
  }
}
