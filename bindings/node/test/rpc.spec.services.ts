// The spec's section 1.3 examples (IPC and events), as the spec writes them; only the imports and
// minimal stubs (`this.stripe`, `sendEmail`, the types `Order` and `PaymentResult`) are added.
// Shared by test/rpc.spec.test.ts (which hosts PaymentService) and its child process
// test/rpc.spec.child.ts (OrderService and NotificationService).
import { EmitEvent, Injectable, InjectProcess, OnEvent, Public, Service, type ServiceProxy } from '@omnitron-dev/native';

export interface PaymentResult {
  id: string;
  amount: number;
}

export interface Order {
  total: number;
  customerEmail: string;
}

/** Stub: what the spec's `this.stripe` charged, in this process. */
export const charged: number[] = [];
/** Stub: where the spec's `sendEmail` writes (the child prints it). */
export const mailbox = { send: (_to: string): void => {} };

// ---- spec 1.3, Inter-Process Communication --------------------------------------------------

// Type-safe RPC across process boundaries
@Service('payment@1.0.0')
export class PaymentService {
  // Stub: the spec's payment gateway.
  private stripe = {
    charge: async (amount: number): Promise<PaymentResult> => {
      charged.push(amount);
      return { id: `ch_${charged.length}`, amount };
    },
  };

  @Public()
  async processPayment(amount: number): Promise<PaymentResult> {
    // Automatically available via RPC to other processes
    return this.stripe.charge(amount);
  }
}

// In another process
@Injectable()
export class OrderService {
  @InjectProcess(PaymentService)
  private payment: ServiceProxy<PaymentService>;

  async createOrder(order: Order) {
    // Type-safe remote call
    const result = await this.payment.processPayment(order.total);
  }
}

// ---- spec 1.3, Event-Driven Architecture ----------------------------------------------------

@Service('notifications')
export class NotificationService {
  @OnEvent('order.created')
  async handleOrderCreated(order: Order) {
    // Automatically subscribed to distributed events
    await this.sendEmail(order.customerEmail);
  }

  @EmitEvent('notification.sent')
  async sendNotification(data: any) {
    // Events propagate across all processes
    return { sentAt: new Date() };
  }

  // Stub: the spec's mailer.
  private async sendEmail(to: string): Promise<void> {
    mailbox.send(to);
  }
}
