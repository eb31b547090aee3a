// The services the order saga calls, in other processes and other languages, as this gateway sees
// them through the supervisor: `ServiceProxy<Inventory>` turns each method into a Promise. Every
// method takes the saga stage's idempotency key first, so a retried or resumed stage is answered
// with what the first attempt did, never done twice.

/** A reservation of stock (inventory.py). */
export interface Reservation {
  reservation: string;
  sku: string;
  qty: number;
  by: string;
}

/** inventory@1.0.0, Python, two instances sharing a SQLite ledger. */
export interface Inventory {
  reserve(key: string, sku: string, qty: number): Reservation;
  release(key: string, reservation: Reservation): boolean;
}

/** A charge (payment/payment.ts). */
export interface Charge {
  charge: string;
  order: string;
  amount: number;
  by: string;
}

/** What `payment.stats()` answers. */
export interface PaymentStats {
  bankCalls: number;
  charges: number;
  refunds: number;
  breakerChanges: string[];
}

/** payment@1.0.0, TypeScript, over a flaky bank behind @Retry and @CircuitBreaker. */
export interface Payment {
  charge(key: string, orderId: string, amount: number): Charge;
  refund(key: string, charge: Charge): boolean;
  stats(): PaymentStats;
}

/** shipping@1.0.0, C. */
export interface Shipping {
  create(key: string, orderId: string, address: string): { shipment: string; by: string };
}
