// Worker classes the spec's examples name but do not show (stubs): the children of section 3.2's
// ApiSupervisor and the pool workers of section 3.3, run by the Node worker entry point.
import { Public, Service } from '@omnitron-dev/native';

@Service('api-worker@1.0.0')
export class ApiWorkerProcess {
  @Public()
  pid(): number {
    return process.pid;
  }
}

@Service('websocket-handler@1.0.0')
export class WebSocketProcess {
  @Public()
  pid(): number {
    return process.pid;
  }
}

@Service('data-processor@1.0.0')
export class DataProcessor {
  @Public()
  process(item: { id: number }): { id: number; done: boolean } {
    return { id: item.id, done: true };
  }
}
