// Health (a @HealthIndicator for the supervisor connection, spec 7.2) and metrics (spec 7.3).
//
// Core serves /health, /health/live and /health/ready from the app's @HealthIndicator providers,
// and /metrics (the engine's registry) because main.ts turns the `metrics` option on: this module
// only provides the check.

import { Module, type DynamicModule, type Peer } from '@omnitron-dev/native';
import { SUPERVISOR, SupervisorHealthIndicator } from './supervisor.health.js';

@Module({ providers: [SupervisorHealthIndicator] })
export class MonitoringModule {
  /** `supervisor`: the connection to the supervisor whose state the gateway's readiness reports. */
  static forRoot(supervisor: Peer): DynamicModule {
    return { module: MonitoringModule, providers: [{ provide: SUPERVISOR, useValue: supervisor }] };
  }
}
