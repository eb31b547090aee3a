// What the workers of test/reflect.test.ts serve: DI by type inside the worker, checked when the
// module loads (a worker that cannot build them never reports ready), and a service that says what
// its process sees.
import { Container, Injectable, Public, Service } from '@omnitron-dev/native';

@Injectable()
export class Clock {
  now(): number {
    return 1;
  }
}

@Injectable()
export class Greeter {
  constructor(readonly clock: Clock) {}
  greet(name: string): string {
    return `hello ${name} at ${this.clock.now()}`;
  }
}

const container = new Container();
container.register(Clock).register(Greeter);
const greeter = container.resolve(Greeter);
if (!(greeter.clock instanceof Clock)) throw new Error('constructor injection by type failed in the worker');

@Service('reflect-check@1.0.0')
export class ReflectCheck {
  @Public()
  check(name: string): { greeting: string; paramtypes: string[]; registry: boolean; pid: number } {
    const R = Reflect as any;
    return {
      greeting: greeter.greet(name),
      paramtypes: (R.getMetadata('design:paramtypes', Greeter) as Function[]).map((f) => f.name),
      registry: Symbol.for('@reflect-metadata:registry') in Reflect,
      pid: process.pid,
    };
  }
}
