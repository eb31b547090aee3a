// The DI demo in TypeScript, with the spec's decorators.
import { CONTEXT, Inject, Injectable, Module, Omnitron, Scope, createToken } from '@omnitron-dev/native';

interface AppConfig {
  databaseUrl: string;
  greeting: string;
}
interface Request {
  id: string;
  userId: number;
}

const APP_CONFIG = createToken<AppConfig>('AppConfig');
let repositories = 0;

@Injectable()
class UserRepository {
  readonly id = ++repositories;
  constructor(@Inject(APP_CONFIG) readonly config: AppConfig) {}
  findName(userId: number): string {
    return userId === 1 ? 'Ada' : userId === 2 ? 'Grace' : 'stranger';
  }
}

@Injectable({ scope: Scope.Scoped })
class RequestContext {
  readonly requestId: string;
  readonly userId: number;
  constructor(@Inject(CONTEXT) request: Request) {
    this.requestId = request.id;
    this.userId = request.userId;
  }
}

@Injectable({ scope: Scope.Scoped })
class GreetingService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: UserRepository,
    private readonly ctx: RequestContext,
  ) {}

  greet(): string {
    const { config, repo, ctx } = this;
    return `${config.greeting}, ${repo.findName(ctx.userId)}! (request ${ctx.requestId}, user ${ctx.userId} from ${repo.config.databaseUrl}, repository #${repo.id})`;
  }
}

@Module({
  providers: [{ provide: APP_CONFIG, useValue: { databaseUrl: 'postgres://demo', greeting: 'Hello' } }, UserRepository],
  exports: [APP_CONFIG, UserRepository],
})
class DataModule {}

@Module({ imports: [DataModule], providers: [RequestContext, GreetingService] })
class AppModule {}

async function main(): Promise<void> {
  const app = await Omnitron.create(AppModule);
  for (const request of [{ id: 'r-1', userId: 1 }, { id: 'r-2', userId: 2 }]) {
    const scope = app.createScope(request);
    console.log(`typescript: ${scope.get(GreetingService).greet()}`);
    await scope.dispose();
  }
  await app.close();
}

main().catch((e: unknown) => {
  console.error(e);
  (globalThis as { process?: { exitCode?: number } }).process!.exitCode = 1;
});
