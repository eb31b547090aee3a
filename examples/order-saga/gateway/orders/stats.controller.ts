// GET /stats/payment: the payment service's own figures (calls to the bank, its breaker's state
// changes), asked through the supervisor. A payment service that cannot answer is a 502.

import { Controller, Get, HttpException, InjectProcess, type ServiceProxy } from '@omnitron-dev/native';
import type { Payment, PaymentStats } from './remote.js';

@Controller('stats')
export class StatsController {
  @InjectProcess('payment@^1')
  private readonly payments!: ServiceProxy<Payment>;

  @Get('payment')
  async payment(): Promise<PaymentStats> {
    try {
      return await this.payments.stats();
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new HttpException({ message: `the payment service did not answer: ${(e as Error).message}`, ...(code ? { serviceCode: code } : {}) }, 502);
    }
  }
}
