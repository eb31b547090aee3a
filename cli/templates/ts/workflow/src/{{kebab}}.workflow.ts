import { Compensate, Stage, Workflow, type StageContext } from '@omnitron-dev/native';

export interface {{pascal}}Input {
  id: string;
  amount: number;
}

/**
 * The {{kebab}} saga: `reserve`, then `charge`; when `charge` fails, `release` undoes `reserve`.
 * Register it on a WorkflowEngine (WorkflowEngine.open(path) keeps runs across restarts).
 */
@Workflow({ name: '{{kebab}}', timeout: 30_000, retries: 0 })
export class {{pascal}}Workflow {
  /** What happened, in order (a real saga calls other services here). */
  readonly log: string[] = [];

  @Stage({ name: 'reserve' })
  async reserve(input: {{pascal}}Input, ctx: StageContext) {
    this.log.push(`reserve:${ctx.idempotencyKey}`);
    return { reservation: `r-${input.id}`, amount: input.amount };
  }

  @Stage({ name: 'charge', dependsOn: 'reserve' })
  async charge(reserved: { reservation: string; amount: number }) {
    if (reserved.amount > 100) throw new RangeError(`amount ${reserved.amount} is over the limit`);
    this.log.push(`charge:${reserved.amount}`);
    return { charged: reserved.amount };
  }

  @Compensate('reserve')
  async release(reserved: { reservation: string }) {
    this.log.push(`release:${reserved.reservation}`);
  }
}
