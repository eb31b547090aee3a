// /health, /health/live, /health/ready and /metrics.
//
// The health routes answer as core's built-in ones will (branch http-extras: `{ status, checks }`,
// 503 while a check is down); until core serves them, main.ts turns the built-ins off
// (`health: false`) and these routes stand in. Once it does, drop HealthController and that option:
// the @HealthIndicator is already what core runs. The same goes for /metrics and core's `metrics`
// option (off by default).

import { Controller, Get, HttpException, HttpResponse, Registry, type HealthCheckResult } from '@omnitron-dev/native';
import { SupervisorHealthIndicator } from './supervisor.health.js';

const NO_STORE = { 'cache-control': 'no-store' };

@Controller('health')
export class HealthController {
  constructor(private readonly supervisor: SupervisorHealthIndicator) {}

  /** Every check by name, and whether all are up. */
  #run(): { up: boolean; checks: Record<string, HealthCheckResult> } {
    const checks = { supervisor: this.supervisor.check() };
    return { up: Object.values(checks).every((c) => c.status === 'up'), checks };
  }

  @Get()
  health(): HttpResponse {
    const { up, checks } = this.#run();
    return new HttpResponse({ status: up ? 'up' : 'down', checks }, { status: up ? 200 : 503, headers: NO_STORE });
  }

  @Get('live')
  live(): HttpResponse {
    return new HttpResponse({ status: 'up' }, { headers: NO_STORE });
  }

  @Get('ready')
  ready(): HttpResponse {
    const { up, checks } = this.#run();
    if (!up) {
      const down = Object.keys(checks).filter((n) => checks[n].status !== 'up');
      throw new HttpException({ message: `health checks are down: ${down.join(', ')}`, checks }, 503);
    }
    return new HttpResponse({ status: 'up', checks }, { headers: NO_STORE });
  }
}

@Controller()
export class MetricsController {
  /** The engine's registry in Prometheus text: the saga's runs and stages, RPC calls, ... */
  @Get('metrics')
  metrics(): HttpResponse {
    const registry = Registry.global;
    return new HttpResponse(registry.metrics(), { contentType: registry.contentType });
  }
}
