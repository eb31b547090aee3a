import { Omnitron } from '@omnitron-dev/native';
import { AppModule } from './app.module.js';
import { GreeterService } from './greeter.service.js';

/** Runs the application in this process: `npm run build && node dist/src/main.js`. */
async function main(): Promise<void> {
  const app = await Omnitron.create(AppModule);
  try {
    console.log(app.get(GreeterService).greet(process.argv[2] ?? 'world'));
  } finally {
    await app.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
