// Bad options and routes are refused with core's messages, when the application is created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cached, Controller, Get, Module, Omnitron, OmnitronError, Post, SecurityModule } from '@omnitron-dev/native';

const code = (c: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof OmnitronError, String(e));
  assert.equal(e.code, c, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

@Controller('ok')
class OkController {
  @Get()
  ok() {
    return 1;
  }
}

@Module({ controllers: [OkController] })
class AppModule {}

test('an unknown or wrong HTTP option is refused with the nearest key', async () => {
  await assert.rejects(Omnitron.create(AppModule, { http: { bodyLimt: 10 } as any }), code('E001', /unknown option 'bodyLimt'.*did you mean 'bodyLimit'/));
  await assert.rejects(Omnitron.create(AppModule, { http: { bodyLimit: 'big' } as any }), code('E001', /bodyLimit/));
  await assert.rejects(Omnitron.create(AppModule, { http: { shutdownTimeout: -1 } }), code('E001', /shutdownTimeout must be a number of milliseconds/));
  await assert.rejects(Omnitron.create(AppModule, { http: { cors: { orign: '*' } } as any }), code('E001', /did you mean 'origin'/));
  await assert.rejects(Omnitron.create(AppModule, { htpp: {} } as any), code('E001', /did you mean 'http'/));
});

test('a route core refuses fails the application (H006)', async () => {
  @Controller('x')
  class CachedPost {
    @Post()
    @Cached({ ttl: 5 })
    make() {
      return 1;
    }
  }
  @Module({ controllers: [CachedPost] })
  class M1 {}
  await assert.rejects(Omnitron.create(M1), code('H006', /CachedPost\.make.*GET routes only/));

  @Controller('a')
  class ById {
    @Get(':id')
    one() {}
  }
  @Controller('a')
  class ByName {
    @Get(':name')
    one() {}
  }
  @Module({ controllers: [ById, ByName] })
  class M2 {}
  await assert.rejects(Omnitron.create(M2), code('H006'));
});

test('decorators check their own options', () => {
  assert.throws(() => Cached({ tll: 5 } as any), code('E001', /did you mean 'ttl'/));
  assert.throws(() => Get(5 as any), code('E001', /path/));
  class NotAController {
    @Get()
    get() {}
  }
  @Module({ controllers: [NotAController] })
  class M {}
  return assert.rejects(Omnitron.create(M), code('E001', /has routes but is not decorated with @Controller/));
});

test('SecurityModule maps to the app options; csrf is refused', async () => {
  assert.throws(() => SecurityModule.forRoot({ csrf: { enabled: true } }), code('E001', /csrf is not supported yet/));
  assert.throws(() => SecurityModule.forRoot({ helmet: {} as any }), code('E001', /helmet takes true or false/));
  assert.throws(() => SecurityModule.forRoot({ rateLimit: { windowMs: 1000, max: 5, burst: 1 } as any }), code('E001', /unknown option 'burst'/));
  // The mapped options reach core, which checks them: max must be at least 1.
  @Module({ imports: [SecurityModule.forRoot({ rateLimit: { windowMs: 1000, max: 0 }, csrf: false })], controllers: [OkController] })
  class Limited {}
  await assert.rejects(Omnitron.create(Limited), code('E001', /max/));
  @Module({ imports: [SecurityModule.forRoot({ helmet: true, cors: { origin: ['https://a.example'], credentials: true }, rateLimit: { windowMs: 60_000, max: 100 } })], controllers: [OkController] })
  class Secured {}
  const app = await Omnitron.create(Secured);
  await app.request().get('/ok').expect(200, 1);
  await app.close();
});

test('a port in use is H007', async () => {
  const a = await Omnitron.create(AppModule);
  const b = await Omnitron.create(AppModule);
  try {
    const port = await a.listen(0, '127.0.0.1');
    await assert.rejects(b.listen(port, '127.0.0.1'), code('H007'));
    await assert.rejects(a.listen(0, '127.0.0.1'), code('E001', /already listening/));
    await assert.rejects(a.listen(70000), code('E001', /port/));
  } finally {
    await a.close();
    await b.close();
  }
});
