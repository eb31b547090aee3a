// The spec's section 2.3 (root module and feature module) as written, with only imports and minimal
// stubs added: ConfigModule / DatabaseModule / RedisModule with forRoot(), the users feature
// (service, controller, repository, workflow) and an orders module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken, Injectable, Module, Omnitron, type DynamicModule } from '@omnitron-dev/native';

// ---- minimal stubs ------------------------------------------------------------------------------

const log: string[] = [];
const CONFIG = createToken<Record<string, string>>('Config');
const DATABASE_OPTIONS = createToken<{ type: string; autoMigrate: boolean }>('DatabaseOptions');

@Module({})
class ConfigModule {
  static forRoot(): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: CONFIG, useValue: { env: 'test' } }], exports: [CONFIG], global: true };
  }
}

@Injectable()
class Database {
  migrated = false;
  constructor() {}
  async onInit(): Promise<void> {
    await new Promise((r) => setTimeout(r, 1));
    this.migrated = true;
    log.push('database migrated');
  }
}

@Module({})
class DatabaseModule {
  static forRoot(options: { type: string; autoMigrate: boolean }): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: DATABASE_OPTIONS, useValue: options }, Database],
      exports: [Database, DATABASE_OPTIONS],
      global: true,
    };
  }
}

class Redis {
  readonly connected = true;
}

@Module({})
class RedisModule {
  static forRoot(): DynamicModule {
    return { module: RedisModule, providers: [Redis], exports: [Redis], global: true };
  }
}

@Injectable()
class UsersRepository {
  constructor(readonly db: Database) {}
}

@Injectable()
class UsersService {
  constructor(readonly repository: UsersRepository, readonly redis: Redis) {}
  findOne(id: string): { id: string; migrated: boolean } {
    return { id, migrated: this.repository.db.migrated };
  }
}

let controller: UsersController | undefined;
let workflows = 0;

@Injectable()
class UsersController {
  constructor(readonly usersService: UsersService) {
    log.push('controller built');
    controller = this;
  }
}

class UsersWorkflow {
  constructor() {
    workflows++;
  }
}

@Injectable()
class OrdersService {
  constructor(readonly users: UsersService) {}
}

// ---- src/modules/users/users.module.ts (spec 2.3, as written) ------------------------------------

@Module({
  // Automatic HTTP route registration
  controllers: [UsersController],

  // Dependency injection
  providers: [
    UsersService,
    UsersRepository,
    UsersWorkflow,
  ],

  // Export for other modules
  exports: [UsersService],

  // Process isolation (optional)
  process: {
    type: 'service',
    instances: 'auto', // Auto-scale based on load
    isolation: 'thread', // Run in worker thread
  },
})
export class UsersModule {}

@Module({ imports: [UsersModule], providers: [OrdersService], exports: [OrdersService] })
class OrdersModule {}

// ---- src/app.module.ts (spec 2.3, as written) ------------------------------------------------------

@Module({
  imports: [
    // Automatic configuration loading
    ConfigModule.forRoot(),

    // Database with automatic migration
    DatabaseModule.forRoot({
      type: 'postgres',
      autoMigrate: true,
    }),

    // Redis for caching and pub/sub
    RedisModule.forRoot(),

    // Business modules
    UsersModule,
    OrdersModule,
  ],
  providers: [],
  exports: [],
})
export class AppModule {}

test('spec 2.3: the root module and a feature module work as written', async () => {
  const app = await Omnitron.create(AppModule);
  assert.deepEqual(log, ['database migrated', 'controller built'], 'initialize() ran onInit and built the controller');
  const users = app.get(UsersService);
  assert.deepEqual(users.findOne('u1'), { id: 'u1', migrated: true });
  assert.ok(users.redis.connected);
  assert.equal(app.get(OrdersService).users, users, 'one UsersService, shared');
  assert.equal(controller?.usersService, users, 'the controller got the same UsersService');
  assert.equal(workflows, 1, 'the undecorated workflow class was built once, by initialize()');
  assert.deepEqual(app.get(DATABASE_OPTIONS), { type: 'postgres', autoMigrate: true });
  // Private to UsersModule (not exported): not visible from the root.
  assert.throws(() => app.get(UsersController), (e: any) => e.code === 'DI010');
  await app.close();
});
