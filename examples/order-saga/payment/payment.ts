// payment@1.0.0, a TypeScript service written with the spec's decorators. It charges a flaky "bank"
// (it fails at BANK_FAILURE_RATE: 0.3 in omnitron.yaml) behind @Retry and @CircuitBreaker, and keeps a ledger
// (one JSON line per charge or refund, appended) so a retried or resumed saga stage, keyed by its
// idempotency key, is never charged twice, even across a restart of this process.
//
// Run by the supervisor: omnitron-node-worker ./dist/payment.js PaymentService

import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { CircuitBreaker, Public, Retry, Service } from '@omnitron-dev/native';


const LEDGER = process.env.PAYMENT_LEDGER ?? 'payments.jsonl';
const FAILURE_RATE = Number(process.env.BANK_FAILURE_RATE ?? '0.2');

interface Charge {
  charge: string;
  order: string;
  amount: number;
  by: string;
}

class BankUnavailable extends Error {}

interface BreakerLike {
  on(event: 'stateChange', listener: (e: { from: string; to: string }) => void): unknown;
}

/** The flaky bank: fails a share of its calls, as real ones do. */
class Bank {
  calls = 0;
  async charge(amount: number): Promise<string> {
    this.calls++;
    if (Math.random() < FAILURE_RATE) throw new BankUnavailable('the bank is unavailable');
    return `bank-${Date.now().toString(36)}-${Math.round(amount * 100)}`;
  }
}

@Service('payment@1.0.0')
export class PaymentService {
  private readonly bank = new Bank();
  private readonly charges = new Map<string, Charge>();
  private readonly refunded = new Set<string>();
  private readonly breakerChanges: string[] = [];

  constructor() {
    // @Retry keeps the breaker it wraps reachable.
    const breaker = (PaymentService.prototype as unknown as { callBank: { circuitBreaker?: BreakerLike } }).callBank.circuitBreaker;
    breaker?.on('stateChange', (e) => this.breakerChanges.push(`${e.from}->${e.to}`));
    // The ledger survives a restart: charges already made are answered again, not repeated.
    if (existsSync(LEDGER)) {
      for (const line of readFileSync(LEDGER, 'utf8').split('\n')) {
        if (!line) continue;
        const e = JSON.parse(line) as { kind: string; key: string; charge?: Charge };
        if (e.kind === 'charge' && e.charge) this.charges.set(e.key, e.charge);
        if (e.kind === 'refund') this.refunded.add(e.key);
      }
    }
  }

  @Public()
  async charge(key: string, orderId: string, amount: number): Promise<Charge> {
    const done = this.charges.get(key);
    if (done) return done;
    const ref = await this.callBank(amount);
    const charge: Charge = { charge: key, order: orderId, amount, by: `node:${process.pid}:${ref}` };
    appendFileSync(LEDGER, JSON.stringify({ kind: 'charge', key, charge }) + '\n');
    this.charges.set(key, charge);
    return charge;
  }

  @Public()
  async refund(key: string, charge: Charge): Promise<boolean> {
    if (!this.refunded.has(charge.charge)) {
      appendFileSync(LEDGER, JSON.stringify({ kind: 'refund', key: charge.charge }) + '\n');
      this.refunded.add(charge.charge);
    }
    return true;
  }

  @Public()
  async stats(): Promise<{ bankCalls: number; charges: number; refunds: number; breakerChanges: string[] }> {
    return { bankCalls: this.bank.calls, charges: this.charges.size, refunds: this.refunded.size, breakerChanges: this.breakerChanges };
  }

  // Retries wrap the breaker: each attempt goes through it, and an open breaker fails fast.
  @Retry({ attempts: 4, backoff: 'exponential', delay: 20 })
  @CircuitBreaker({ threshold: 4, timeout: 300 })
  private async callBank(amount: number): Promise<string> {
    return this.bank.charge(amount);
  }
}
