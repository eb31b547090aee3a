import { Injectable, Public, Service } from '@omnitron-dev/native';

/** The {{kebab}} service: its @Public methods are callable over RPC from any process. */
@Injectable()
@Service('{{kebab}}@1.0.0')
export class {{pascal}}Service {
  private readonly items = new Map<string, number>();

  @Public()
  set(key: string, value: number): number {
    if (!key) throw new RangeError('key must not be empty');
    this.items.set(key, value);
    return this.items.size;
  }

  @Public()
  get(key: string): number | null {
    return this.items.get(key) ?? null;
  }
}
