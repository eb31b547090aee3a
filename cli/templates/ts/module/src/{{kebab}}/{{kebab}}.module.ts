import { Module } from '@omnitron-dev/native';
import { {{pascal}}_OPTIONS } from './{{kebab}}.options.js';
import { {{pascal}}Service } from './{{kebab}}.service.js';

/** The {{kebab}} module: import it into AppModule (src/app.module.ts) to use {{pascal}}Service. */
@Module({
  providers: [{ provide: {{pascal}}_OPTIONS, useValue: { prefix: '{{kebab}}' } }, {{pascal}}Service],
  exports: [{{pascal}}Service],
})
export class {{pascal}}Module {}
