// Health (a @HealthIndicator for the supervisor connection, spec 7.2) and metrics (spec 7.3).

import { Module, type DynamicModule, type Peer } from '@omnitron-dev/native';
import { HealthController, MetricsController } from './monitoring.controllers.js';
import { SUPERVISOR, SupervisorHealthIndicator } from './supervisor.health.js';

@Module({
  controllers: [HealthController, MetricsController],
  providers: [SupervisorHealthIndicator],
})
export class MonitoringModule {
  /** `supervisor`: the connection to the supervisor whose state the gateway's readiness reports. */
  static forRoot(supervisor: Peer): DynamicModule {
    return { module: MonitoringModule, providers: [{ provide: SUPERVISOR, useValue: supervisor }] };
  }
}
