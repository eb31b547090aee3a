// Spec 7.2: the gateway is ready while its connection to the supervisor is up (every saga stage
// and every stats call goes through it).

import { HealthCheck, HealthIndicator, Inject, Injectable, createToken, type HealthCheckResult, type Peer } from '@omnitron-dev/native';

/** The gateway's connection to the supervisor that started it. */
export const SUPERVISOR = createToken<Peer>('SUPERVISOR');

@HealthIndicator()
@Injectable()
export class SupervisorHealthIndicator {
  constructor(@Inject(SUPERVISOR) private readonly supervisor: Peer) {}

  @HealthCheck('supervisor')
  check(): HealthCheckResult {
    return this.supervisor.connected
      ? { status: 'up', message: 'connected to the supervisor' }
      : { status: 'down', message: 'not connected to the supervisor (reconnecting)' };
  }
}
