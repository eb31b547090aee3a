// A worker for test/rpc.events.test.ts: a service declared without a name or version (the class's
// name, 1.0.0), run by a pool through the Node worker entry point.
import { Public, Service } from '@omnitron-dev/native';

@Service()
export class Greeter {
  @Public()
  greet(who: string): string {
    return `hello ${who} from ${process.pid}`;
  }
}
