// A child process for test/log.test.ts: logs a debug record every 20 ms for 3 s under the filter
// its control file (OMNITRON_LOG_CONTROL) holds, which the test changes while it runs.
import { createLogger } from '@omnitron-dev/native';

const log = createLogger({ name: 'ticker' });
let n = 0;
const t = setInterval(() => log.debug({ n: ++n }, 'tick'), 20);
setTimeout(() => clearInterval(t), 3000);
process.stdout.write('ready\n');
