import { Inject, Injectable, Public, Service } from '@omnitron-dev/native';
import { CONFIG, defaultConfig, type AppConfig } from './config.js';

/**
 * A service: its @Public methods can be called in this process, and over RPC from any process of
 * the application, in any language (`omnitron.yaml` runs it as its own process).
 */
@Injectable()
@Service('greeter@1.0.0')
export class GreeterService {
  constructor(@Inject(CONFIG) private readonly config: AppConfig = defaultConfig) {}

  @Public()
  greet(name: string): string {
    if (!name) throw new RangeError('name must not be empty');
    return `${this.config.greeting}, ${name}!`;
  }

  @Public()
  pid(): number {
    return process.pid;
  }
}
