// The crashing side of workflow.recovery.test.ts: runs one run of a durable workflow whose second
// stage hangs (after recording its side effect), so the test can SIGKILL this process mid-stage.
// Side effects are appended to a file, one line per application, keyed by idempotency key.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { WorkflowEngine, defineWorkflow, type StageContext } from '@omnitron-dev/native';

export function effects(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) if (line) out[line] = (out[line] ?? 0) + 1;
  return out;
}

export function crashyWorkflow(file: string, hang: boolean) {
  const apply = (key: string) => appendFileSync(file, key + '\n');
  return defineWorkflow({ name: 'crashy', recovery: 'resume' })
    .stage('s1', async (_: unknown, ctx: StageContext) => {
      apply(ctx.idempotencyKey);
      return { s1: true };
    })
    .stage(
      's2',
      async (_: unknown, ctx: StageContext) => {
        // Idempotent by key: applied once, whichever process runs the stage.
        if (!effects(file)[ctx.idempotencyKey]) apply(ctx.idempotencyKey);
        if (hang) {
          process.stdout.write('in-stage\n');
          await new Promise((r) => setTimeout(r, 60_000));
        }
        return { s2: true };
      },
      { dependsOn: 's1' },
    )
    .stage(
      's3',
      async (_: unknown, ctx: StageContext) => {
        apply(ctx.idempotencyKey);
        return { s3: true };
      },
      { dependsOn: 's2' },
    )
    .build();
}

if (process.argv[2] === 'run') {
  const [journal, file] = process.argv.slice(3);
  (async () => {
    const engine = await WorkflowEngine.open(journal);
    engine.register(crashyWorkflow(file, true));
    const run = await engine.start('crashy', { order: 1 }, { runId: 'crash-run' });
    await run.wait();
  })();
}
