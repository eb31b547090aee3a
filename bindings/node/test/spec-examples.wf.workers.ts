// The process classes of spec 3.2's ApiSupervisor, run by the Node worker entry point as its children.
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
