import { Module } from '@omnitron-dev/native';
import { CONFIG, defaultConfig } from './config.js';
import { GreeterService } from './greeter.service.js';

/** The application's module: what it provides. Generated modules are imported here. */
@Module({
  imports: [],
  providers: [{ provide: CONFIG, useValue: defaultConfig }, GreeterService],
  exports: [GreeterService],
})
export class AppModule {}
