import { Inject, Injectable, Public, Service } from '@omnitron-dev/native';
import { {{pascal}}_OPTIONS, type {{pascal}}Options } from './{{kebab}}.options.js';

@Injectable()
@Service('{{kebab}}@1.0.0')
export class {{pascal}}Service {
  constructor(@Inject({{pascal}}_OPTIONS) private readonly options: {{pascal}}Options) {}

  @Public()
  describe(id: string): string {
    return `${this.options.prefix}:${id}`;
  }
}
